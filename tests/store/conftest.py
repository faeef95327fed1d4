import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from redis import Redis

from core.store import JobStore
from core.store.redis import RedisJobStore
from core.store.sqlite import SqliteJobStore
from tests.support.clock import FakeClock
from tests.support.redis_server import SHARED_URL, RedisServer, answers

Connect = Callable[[], Awaitable[JobStore]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Redis on 127.0.0.1:6379 if one runs (CI starts it), else a throwaway one."""
    if answers(SHARED_URL):
        yield SHARED_URL
        return
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own on the shared server; its keys are removed after.
    (Synchronous, so async fixtures can ask for it with `getfixturevalue`.)"""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    with Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.unlink(*keys)


@pytest.fixture(params=["sqlite", "redis"])
async def connect(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Connect]:
    """Opens connections to ONE store, as separate processes would; closes them after."""
    opened: list[JobStore] = []
    if request.param == "redis":
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")

    async def _connect() -> JobStore:
        store: JobStore
        if request.param == "redis":
            store = await RedisJobStore.open(url, clock=clock, prefix=prefix)
        else:
            store = await SqliteJobStore.open(tmp_path / "jobs.db", clock=clock)
        opened.append(store)
        return store

    yield _connect
    for store in opened:
        await store.close()


@pytest.fixture
async def store(connect: Connect) -> JobStore:
    return await connect()
