import os
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeDiscord
from tests.fake_discord.fixtures import fake_discord
from tests.support import processes
from tests.support.bot_stack import Stack, full_stack

__all__ = ["fake_discord", "job_store", "stack"]


@pytest.fixture
async def stack(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Stack]:
    """The real bot and a real worker loop (small engine) against the fake Discord."""
    async with full_stack(fake_discord, tmp_path) as running:
        yield running


@pytest.fixture
async def running(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Path]:
    """`python -m bot` and `python -m worker` (random weights, 128x128) as processes
    against the fake Discord, once the commands are registered; yields their folder."""
    env = processes.stack_env(
        tmp_path, IMAGINE_SYNC_GUILD=fake_discord.guild.id, **fake_discord.env()
    )
    worker = await processes.start("worker", env, tmp_path / "worker.log")
    bot = await processes.start("bot", env, tmp_path / "bot.log")
    try:
        await fake_discord.wait_for(
            lambda: fake_discord.guild_commands.get(fake_discord.guild.id), 60
        )
        yield tmp_path
    finally:
        codes = await processes.stop(bot), await processes.stop(worker)
        assert codes == (0, 0)
        log = (tmp_path / "bot.log").read_text() + (tmp_path / "worker.log").read_text()
        assert fake_discord.token not in log


@pytest.fixture
async def job_store(tmp_path: Path) -> AsyncIterator[SqliteJobStore]:
    """A connection to tmp_path/jobs.db, the file a test's processes share."""
    store = await SqliteJobStore.open(tmp_path / "jobs.db")
    yield store
    await store.close()


@pytest.fixture(autouse=True)
async def _reap_processes() -> AsyncIterator[None]:
    """Kills what a failed test left running, so no process outlives its test."""
    yield
    await processes.kill_leftovers()


_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = exitstatus


def pytest_unconfigure(config: pytest.Config) -> None:
    """A failed test can leave a database connection open, and aiosqlite's worker thread
    would then keep the interpreter from ever exiting: a hung CI run instead of a red
    one. Once the report is printed, leave at once with pytest's own exit status."""
    leftovers = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(not t.daemon for t in leftovers):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)
