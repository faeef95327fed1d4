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
