"""`python -m worker` fetching its files: plain progress lines, and a failed download said
in one sentence (the address, the setting to use instead), exit 1, no traceback."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.first_run.file_server import serving
from tests.first_run.test_download import closed_port
from tests.support import processes
from worker.engine.weights import WEIGHT_FILES

pytestmark = pytest.mark.timeout(120)


def worker_env(tmp_path: Path, mirror: str, **extra: str) -> dict[str, str]:
    return processes.stack_env(
        tmp_path, IMAGINE_WEIGHTS="download", IMAGINE_DOWNLOAD_MIRROR=mirror, **extra
    )


def run_worker(env: dict[str, str], cwd: Path) -> tuple[int, bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "worker"], env=env, cwd=cwd, capture_output=True, timeout=100
    )
    return done.returncode, done.stdout + done.stderr


def test_download_progress_is_plain_lines_and_a_wrong_file_is_refused(tmp_path: Path) -> None:
    # Files by KerasCV's names, but not KerasCV's bytes: every line of progress, then the
    # hash refuses the first file.
    served = {file.name: bytes(2_500_000) for file in WEIGHT_FILES.values()}
    with serving(served) as files:
        code, output = run_worker(worker_env(tmp_path, files.url), tmp_path)
    assert code == 1
    assert b"\r" not in output
    assert b"\x1b" not in output
    text = output.decode()
    assert "Traceback" not in text
    progress = [line for line in text.splitlines() if " kcv_encoder.h5: " in line]
    assert len(progress) == 3  # a line per 1 MiB read: each crossed a tenth
    for line in progress:
        assert re.search(
            r"INFO core\.download: kcv_encoder\.h5: \d+% \(\d of 2 MB, \S+ MB/s\)$", line
        )
    assert " 100% (2 of 2 MB" in progress[-1]
    *_, last = text.strip().splitlines()
    assert last.endswith(
        f"ERROR worker: Could not download kcv_encoder.h5 (the CLIP text encoder's weights) "
        f"from {files.url}/kcv_encoder.h5: the file does not match its sha256 hash, so it "
        "was deleted; without internet, copy kcv_encoder.h5, kcv_diffusion_model.h5, "
        "kcv_decoder.h5 and vae_encoder.h5 into a folder and set IMAGINE_WEIGHTS to it "
        '(docs/self-hosting.md, "Weights without internet").'
    )


def test_a_missing_weights_file_names_the_address_and_imagine_weights(tmp_path: Path) -> None:
    with serving({}) as files:
        code, output = run_worker(worker_env(tmp_path, files.url), tmp_path)
    assert code == 1
    text = output.decode()
    assert "Traceback" not in text
    assert (
        f"Could not download kcv_encoder.h5 (the CLIP text encoder's weights) from "
        f"{files.url}/kcv_encoder.h5: HTTP 404 Not Found; without internet, copy" in text
    )
    assert "set IMAGINE_WEIGHTS to it" in text


def test_offline_the_vocabulary_names_the_address_and_imagine_vocab(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    env = worker_env(tmp_path, url)
    del env["IMAGINE_VOCAB"]
    code, output = run_worker(env, tmp_path)
    assert code == 1
    *_, last = output.decode().strip().splitlines()
    assert last.endswith(
        f"Could not download bpe_simple_vocab_16e6.txt.gz (CLIP's vocabulary) from "
        f"{url}/bpe_simple_vocab_16e6.txt.gz: connection refused; without internet, set "
        "IMAGINE_VOCAB to a copy of bpe_simple_vocab_16e6.txt.gz "
        '(docs/self-hosting.md, "Weights without internet").'
    )
    assert "Traceback" not in output.decode()


async def test_a_failed_download_waits_before_exiting_and_sigterm_ends_the_wait(
    tmp_path: Path,
) -> None:
    # Under compose, a restart comes 100 ms after a container that ran over 10 s exits:
    # the pause is what keeps a host without internet from retrying every few seconds.
    env = worker_env(
        tmp_path, f"http://127.0.0.1:{closed_port()}", IMAGINE_FAILURE_PAUSE_SECONDS="3600"
    )
    log = tmp_path / "worker.log"
    worker = await processes.start("worker", env, log)
    async with asyncio.timeout(60):
        while "Exiting in 3600 s" not in log.read_text():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert worker.returncode is None  # waiting, not restarted at once
    assert await processes.stop(worker, seconds=10) == -15  # `docker compose stop` is not held up
    assert "Traceback" not in log.read_text()
