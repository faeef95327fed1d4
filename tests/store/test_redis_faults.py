"""The faults that matter when workers run on other hosts: a worker killed mid-job (its
job is run again by another worker, and completed once), and the Redis server restarted
with persistence on (no job, state or event lost)."""

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.jobs import EventKind, Job, JobEvent, JobResult, JobState
from core.store import JobStore, Lease, open_store
from core.store.redis import RedisJobStore
from tests.support import processes
from tests.support.clock import FakeClock
from tests.support.jobs import new_job
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_finished

pytestmark = pytest.mark.timeout(120)
RESULT = JobResult(b"grid", (b"one",), 1.0)


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store of this test's own that worker processes can reach by URL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}"
        return
    with RedisServer(tmp_path / "redis") as server:
        yield server.url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[JobStore]:
    opened = await open_store(store_url)
    yield opened
    await opened.close()


async def wait_progress(store: JobStore, job_id: str, step: int) -> None:
    """Returns once the job's first attempt has reported `step` steps."""
    cursor = 0
    async with asyncio.timeout(60):
        while True:
            events = await store.events(cursor, wait=0.5)
            cursor = events[-1].seq if events else cursor
            if any(e.job_id == job_id and e.step >= step for e in events):
                job = await store.get(job_id)
                assert job is not None
                assert job.attempts == 1
                return


async def test_a_worker_killed_mid_job_is_rerun_by_another(
    store: JobStore, store_url: str, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.txt"
    env = processes.stack_env(
        tmp_path,
        IMAGINE_STORE=store_url,
        IMAGINE_LEASE_SECONDS="1.5",
        IMAGINE_MAX_BATCH="1",
        TEST_STEP_SECONDS="0.05",
        TEST_ENGINE_JOURNAL=str(journal),
    )
    job = new_job(steps=20, prompt="killed mid-job")
    await store.enqueue(job)
    doomed = await processes.start("tests.support.fake_worker", env, tmp_path / "doomed.log")
    await wait_progress(store, job.id, 2)
    doomed.send_signal(signal.SIGKILL)
    await doomed.wait()
    survivor = await processes.start("tests.support.fake_worker", env, tmp_path / "next.log")
    await wait_finished(store, [job.id], seconds=60)
    assert await processes.stop(survivor) == 0

    done = await store.get(job.id)
    assert done is not None
    assert (done.state, done.attempts) == (JobState.DONE, 2)
    assert await store.result(job.id) is not None
    kinds = [e.kind for e in await store.events(0) if e.job_id == job.id]
    assert kinds.count(EventKind.DONE) == 1
    assert kinds.count(EventKind.STARTED) == 2
    runs = [line.split()[:2] for line in journal.read_text().splitlines()]
    assert [what for _, what in runs] == ["start", "start", "end"]
    assert runs[0][0] == str(doomed.pid)
    assert runs[2][0] == str(survivor.pid)  # the killed run never completed


async def everything(
    store: RedisJobStore, ids: list[str]
) -> tuple[list[Job | None], list[JobEvent]]:
    """Every job and every event: what a restart must not change."""
    return [await store.get(job_id) for job_id in ids], await store.events(0, limit=1000)


@pytest.fixture(params=[False, True], ids=["clean-restart", "crash"])
def crash(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def server(crash: bool, tmp_path: Path) -> Iterator[RedisServer]:
    """A clean restart flushes the AOF on the way down; a crash (SIGKILL) loses nothing
    only with `appendfsync always`, which writes each change to disk before answering."""
    with RedisServer(tmp_path, appendfsync="always" if crash else "everysec") as started:
        yield started


@pytest.fixture
async def bot_and_worker(server: RedisServer) -> AsyncIterator[list[RedisJobStore]]:
    clock = FakeClock()  # leases must not run out while the server is down
    stores = [await RedisJobStore.open(server.url, clock=clock) for _ in range(2)]
    yield stores
    for store in stores:
        await store.close()


async def test_redis_restarted_with_persistence_loses_no_job(
    server: RedisServer, crash: bool, bot_and_worker: list[RedisJobStore]
) -> None:
    bot, worker = bot_and_worker
    jobs = [new_job() for _ in range(10)]
    ids = [job.id for job in jobs]
    for job in jobs:
        await bot.enqueue(job)
    running = [one for _ in range(3) for one in await worker.claim("w", lease_seconds=60)]
    assert await worker.complete(running[0].id, "w", RESULT)
    assert await worker.fail(running[1].id, "w", "engine broke", retry=True)
    before = await everything(bot, ids)

    server.stop(signal.SIGKILL if crash else signal.SIGTERM)
    server.start()

    assert await everything(bot, ids) == before
    assert await worker.heartbeat(running[2].id, "w", 1, 2, 60) is Lease.HELD
    assert await worker.complete(running[2].id, "w", RESULT)
    while batch := await worker.claim("w", max_images=4):
        for claimed in batch:
            assert await worker.complete(claimed.id, "w", RESULT)
    finished, events = await everything(bot, ids)
    assert all(job is not None and job.state is JobState.DONE for job in finished)
    assert events[: len(before[1])] == before[1]
    seqs = [event.seq for event in events]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no repeat
    done = [event.job_id for event in events if event.kind is EventKind.DONE]
    assert sorted(done) == sorted(ids)
