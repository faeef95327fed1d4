from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from core.store import JobStore
from core.store.sqlite import SqliteJobStore
from tests.support.clock import FakeClock

Connect = Callable[[], Awaitable[JobStore]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite"])
async def connect(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Connect]:
    """Opens connections to ONE store, as separate processes would; closes them after."""
    opened: list[JobStore] = []

    async def _connect() -> JobStore:
        store = await SqliteJobStore.open(tmp_path / "jobs.db", clock=clock)
        opened.append(store)
        return store

    yield _connect
    for store in opened:
        await store.close()


@pytest.fixture
async def store(connect: Connect) -> JobStore:
    return await connect()
