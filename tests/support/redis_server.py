"""A throwaway `redis-server` on a free 127.0.0.1 port, from the machine's packages: for
tests that restart or kill the server, and when no Redis is running for the others."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

SHARED_URL = "redis://127.0.0.1:6379/0"  # what CI starts (.ci/run) and developers run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


CLUSTER_BUS_OFFSET = 10_000  # a Cluster node also listens on its port + 10000


def free_cluster_port() -> int:
    """A free port whose cluster bus port is free too, and exists: an ephemeral port above
    55535 would put the bus past 65535, and redis-server refuses to start."""
    while True:
        port = free_port()
        if port + CLUSTER_BUS_OFFSET > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + CLUSTER_BUS_OFFSET))
            except OSError:
                continue
        return port


def answers(url: str) -> bool:
    """Whether a Redis server answers PING at `url`."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


class RedisServer:
    """`redis-server` with its data in `directory`; keeps its port across restarts, so a
    client can reconnect to the same URL. AOF on: `appendfsync always` survives even
    SIGKILL without losing a write."""

    def __init__(
        self,
        directory: Path,
        *,
        appendfsync: str = "always",
        password: str | None = None,
        tls: Path | None = None,
        cluster: bool = False,
    ) -> None:
        """`tls`: a folder from `make_certificates`; the server then speaks only TLS.
        `cluster`: a Redis Cluster node (alone, serving no slots)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_cluster_port() if cluster else free_port()
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        self._command = [
            binary,
            *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory)),
            *("--appendonly", "yes", "--appendfsync", appendfsync, "--save", ""),
            *("--logfile", str(directory / "redis.log")),
            *(("--requirepass", password) if password else ()),
        ]
        if cluster:
            nodes = str(directory / "nodes.conf")
            self._command += ["--cluster-enabled", "yes", "--cluster-config-file", nodes]
        if tls is not None:
            self.url = f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={tls / 'ca.crt'}"
            self._command += [
                *("--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"),
                *("--tls-cert-file", str(tls / "server.crt")),
                *("--tls-key-file", str(tls / "server.key")),
                *("--tls-ca-cert-file", str(tls / "ca.crt")),
            ]
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, seconds: float = 10.0) -> None:
        self._process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + seconds
        while not answers(self.url):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {' '.join(self._command)}")
            time.sleep(0.02)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """SIGTERM: a clean shutdown (the AOF is flushed); SIGKILL: a crash."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signum)
            self._process.wait(10)
        self._process = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop(signal.SIGKILL)


def make_certificates(folder: Path) -> Path:
    """A throwaway CA and a server certificate for 127.0.0.1, made with `openssl`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    for command in (
        ["req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=test CA"],
        ["req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        [
            *("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key"),
            *("-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "san.ext"),
        ],
    ):
        subprocess.run(["openssl", *command], cwd=folder, check=True, capture_output=True)
    return folder
