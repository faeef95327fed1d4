"""Starts `python -m bot` / `python -m worker` as real processes for end-to-end tests."""

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support.vocab import write_test_vocab

REPO = Path(__file__).resolve().parents[2]
_started: list[asyncio.subprocess.Process] = []


def stack_env(tmp_path: Path, sizes: str = "128x128", **extra: str) -> dict[str, str]:
    """Settings shared by the bot and worker processes of one test."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IMAGINE_", "DISCORD_"))
    }
    env.update(
        IMAGINE_STORE=f"sqlite:///{tmp_path / 'jobs.db'}",
        IMAGINE_BOT_DB=str(tmp_path / "bot.db"),
        IMAGINE_VOCAB=str(write_test_vocab(tmp_path / "vocab.gz")),
        IMAGINE_SIZES=sizes,
        IMAGINE_CACHE_DIR=str(tmp_path / "cache"),
        IMAGINE_HEARTBEAT_FILE=str(tmp_path / "worker.heartbeat"),
        IMAGINE_WEIGHTS="random",
        # These tests count deliveries by the attachments on a message; previews have
        # their own tests (tests/worker, tests/bot).
        IMAGINE_PREVIEW_SECONDS="0",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=str(REPO),  # for tests.support.fake_worker
    )
    env.update(extra)
    return env


async def start(module: str, env: Mapping[str, str], log: Path) -> asyncio.subprocess.Process:
    """Runs `python -m module` from a folder without a .env, logging to `log`."""
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, env=dict(env), cwd=log.parent, stdout=out, stderr=out
        )
    _started.append(process)
    return process


async def kill_leftovers() -> None:
    while _started:
        process = _started.pop()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def stop(process: asyncio.subprocess.Process, seconds: float = 30.0) -> int:
    """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), seconds)
        except TimeoutError:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode


async def wait_path(path: Path, seconds: float = 30.0) -> None:
    """Waits for a file another process creates (there is no event to wait on)."""
    async with asyncio.timeout(seconds):
        while not await asyncio.to_thread(path.exists):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
