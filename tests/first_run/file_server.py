"""A local HTTP file server for download tests: answers Range requests, and on demand
cuts the connection part-way, serves other bytes than the real file, or says 404."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_RANGE = re.compile(r"bytes=(\d+)-$")


@dataclass
class Files:
    """What the server serves, how it misbehaves, and the requests it saw."""

    content: dict[str, bytes]
    cut_after: int | None = None  # bytes of a response sent before the connection is cut
    cuts: int = 0  # how many more responses are cut
    ignore_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range)
    url: str = ""


class _Handler(BaseHTTPRequestHandler):
    files: Files

    def do_GET(self) -> None:
        files = self.files
        name = self.path.lstrip("/")
        wanted = self.headers.get("Range")
        files.requests.append((self.path, wanted))
        if name not in files.content:
            self.send_error(404)
            return
        body = files.content[name]
        start = 0
        match = _RANGE.match(wanted or "")
        if match and not files.ignore_range:
            start = int(match[1])
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if files.cuts and files.cut_after is not None:
            files.cuts -= 1
            self.wfile.write(body[start : start + files.cut_after])
            self.close_connection = True
            return
        self.wfile.write(body[start:])

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test reads `requests`


@contextmanager
def serving(content: dict[str, bytes]) -> Iterator[Files]:
    """Serves `content` (name -> bytes) at `files.url` + "/" + name until the block ends."""
    files = Files(content)
    handler = type("Handler", (_Handler,), {"files": files})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    files.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield files
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
