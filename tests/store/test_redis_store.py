"""What the Redis store keeps in Redis, beyond the contract: the consumer group holds the
leases and counts the attempts, finished jobs leave the stream and expire, events
survive a reconnecting reader and are pruned by age; TLS and passwords; and the same
claims, positions and work ahead as the SQLite store under random traffic."""

import dataclasses
import random
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError

from core.jobs import MODELS, EventKind, JobResult, JobState
from core.settings import WorkerSettings
from core.store import JobStore, open_store
from core.store.base import DEFAULT_RETENTION_SECONDS
from core.store.redis import EVENT_RETENTION, ClusterUnsupported, RedisJobStore
from core.store.sqlite import SqliteJobStore
from tests.support.clock import FakeClock
from tests.support.jobs import new_job
from tests.support.redis_server import RedisServer, make_certificates

RESULT = JobResult(b"grid", (b"one", b"two"), 2.0)
MODELS_LIST = list(MODELS)


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def store(
    redis_url: str, redis_prefix: str, clock: FakeClock
) -> AsyncIterator[RedisJobStore]:
    opened = await RedisJobStore.open(redis_url, clock=clock, prefix=redis_prefix)
    yield opened
    await opened.close()


async def pending(raw: Redis, prefix: str) -> list[tuple[str, int]]:
    """(consumer, delivery count) of each entry in the workers' pending list."""
    entries = await raw.xpending_range(f"{prefix}jobs", "workers", "-", "+", 100)
    return [(cast(bytes, e["consumer"]).decode(), int(e["times_delivered"])) for e in entries]


async def test_the_consumer_group_holds_the_lease_and_counts_attempts(
    store: RedisJobStore, raw: Redis, redis_prefix: str, clock: FakeClock
) -> None:
    job = new_job()
    await store.enqueue(job)
    assert await pending(raw, redis_prefix) == []
    await store.claim("w1", lease_seconds=10)
    assert await pending(raw, redis_prefix) == [("w:w1", 1)]
    clock.advance(11)
    [again] = await store.claim("w2", lease_seconds=10)
    assert again.attempts == 2
    assert await pending(raw, redis_prefix) == [("w:w2", 2)]
    consumers = await raw.xinfo_consumers(f"{redis_prefix}jobs", "workers")
    assert [c["name"] for c in consumers] == [b"w:w2"]  # the dead worker holds nothing


async def test_a_job_waiting_for_another_attempt_keeps_its_count(
    store: RedisJobStore, raw: Redis, redis_prefix: str
) -> None:
    job = new_job()
    await store.enqueue(job)
    await store.claim("w")
    await store.fail(job.id, "w", "engine broke", retry=True)
    assert await pending(raw, redis_prefix) == [("queued", 1)]
    await store.claim("w")
    await store.release(job.id, "w")
    assert await pending(raw, redis_prefix) == [("queued", 1)]


async def test_a_finished_job_leaves_the_stream_and_expires(
    store: RedisJobStore, raw: Redis, redis_prefix: str
) -> None:
    job = dataclasses.replace(new_job(), source_png=b"source")
    await store.enqueue(job)
    for key in ("job", "source"):  # they live while the job is unfinished
        assert await raw.ttl(f"{redis_prefix}{key}:{job.id}") == -1
    await store.claim("w")
    assert await store.complete(job.id, "w", RESULT)
    assert await raw.xlen(f"{redis_prefix}jobs") == 0
    assert await pending(raw, redis_prefix) == []
    assert 0 < await raw.ttl(f"{redis_prefix}job:{job.id}") <= DEFAULT_RETENTION_SECONDS
    done = await store.get(job.id)
    assert done is not None
    assert (done.state, done.attempts, done.gpu_seconds) == (JobState.DONE, 1, 2.0)
    assert await store.result(job.id) == RESULT


KEPT = ("job", "result", "source")


async def finish_by(how: str, store: RedisJobStore, clock: FakeClock, job_id: str) -> None:
    if how == "canceled while queued":
        await store.cancel(job_id)
        return
    await store.claim("w", lease_seconds=30)
    if how == "done":
        await store.complete(job_id, "w", RESULT)
    elif how == "failed":
        await store.fail(job_id, "w", "engine broke", retry=False)
    else:  # its worker vanished, attempts used up: failed by the next claim
        clock.advance(31)
        await store.claim("other")


@pytest.mark.parametrize("how", ["done", "failed", "canceled while queued", "lease ran out"])
async def test_every_key_of_a_finished_job_gets_the_retention_as_its_lifetime(
    how: str, redis_url: str, redis_prefix: str, raw: Redis, clock: FakeClock
) -> None:
    retention = 3 * 3600.0
    store = await RedisJobStore.open(
        redis_url, clock=clock, prefix=redis_prefix, retention_seconds=retention
    )
    job = dataclasses.replace(new_job(), source_png=b"source", max_attempts=1)
    await store.enqueue(job)
    await finish_by(how, store, clock, job.id)
    await store.close()
    kept = KEPT if how == "done" else ("job", "source")  # only `complete` stores a result
    lifetimes = [await raw.pttl(f"{redis_prefix}{key}:{job.id}") for key in kept]
    assert all(0 < ms <= retention * 1000 for ms in lifetimes), lifetimes
    assert max(lifetimes) - min(lifetimes) < 1000, lifetimes
    assert min(lifetimes) > (retention - 60) * 1000  # the retention, not some other TTL


async def test_a_purge_leaves_no_key_of_the_jobs_it_purged(
    store: RedisJobStore, raw: Redis, redis_prefix: str, clock: FakeClock
) -> None:
    jobs = [dataclasses.replace(new_job(), source_png=b"source") for _ in range(3)]
    for job in jobs:
        await store.enqueue(job)
    await store.claim("w", max_images=2)
    await store.set_preview(jobs[0].id, "w", 1, b"preview")
    await store.complete(jobs[0].id, "w", RESULT)
    await store.fail(jobs[1].id, "w", "boom", retry=False)
    await store.cancel(jobs[2].id)
    clock.advance(DEFAULT_RETENTION_SECONDS + 1)
    assert await store.purge() == 3
    names = [key.decode() for key in await raw.keys(f"{redis_prefix}*")]
    assert [name for name in names if name.endswith(tuple(job.id for job in jobs))] == []
    assert await raw.zcard(f"{redis_prefix}finished:at") == 0


async def test_each_finishing_job_purges_two_past_the_retention(
    store: RedisJobStore, raw: Redis, redis_prefix: str, clock: FakeClock
) -> None:
    """So the index of finished jobs stays small even where no process calls `purge`."""
    old = [new_job() for _ in range(3)]
    for job in old:
        await store.enqueue(job)
        await store.cancel(job.id)
        clock.advance(1)  # oldest first
    clock.advance(DEFAULT_RETENTION_SECONDS)
    new = new_job()
    await store.enqueue(new)
    await store.cancel(new.id)
    assert [await store.get(job.id) is None for job in old] == [True, True, False]
    assert await raw.zcard(f"{redis_prefix}finished:at") == 2


async def test_counts_jobs_by_state_for_metrics(store: RedisJobStore) -> None:
    jobs = [new_job() for _ in range(4)]
    for job in jobs:
        await store.enqueue(job)
    await store.claim("w", max_images=2)
    await store.complete(jobs[0].id, "w", RESULT)
    await store.cancel(jobs[2].id)
    assert await store.counts() == {
        JobState.QUEUED: 1,
        JobState.RUNNING: 1,
        JobState.DONE: 1,
        JobState.CANCELED: 1,
    }


async def test_a_reconnecting_reader_misses_no_event(
    store: RedisJobStore, redis_url: str, redis_prefix: str, clock: FakeClock
) -> None:
    bot = await RedisJobStore.open(redis_url, clock=clock, prefix=redis_prefix)
    cursor = await bot.head()
    job = new_job()
    await store.enqueue(job)
    [seen] = await bot.events(cursor)
    await bot.close()  # the bot stops with its cursor saved
    await store.claim("w")
    await store.heartbeat(job.id, "w", 1, 2, 30)
    await store.complete(job.id, "w", RESULT)
    bot = await RedisJobStore.open(redis_url, clock=clock, prefix=redis_prefix)
    missed = await bot.events(seen.seq)
    await bot.close()
    kinds = [EventKind.STARTED, EventKind.PROGRESS, EventKind.DONE]
    assert [e.kind for e in missed] == kinds
    assert [e.seq for e in missed] == [seen.seq + 1, seen.seq + 2, seen.seq + 3]


async def test_events_older_than_the_retention_are_pruned(
    store: RedisJobStore, raw: Redis, redis_prefix: str, clock: FakeClock
) -> None:
    for _ in range(3):
        await store.enqueue(new_job())
    clock.advance(EVENT_RETENTION + 1)
    await store.enqueue(new_job())
    await store.enqueue(new_job())
    events = await store.events(0)
    assert [e.at for e in events] == [clock.now, clock.now]
    assert await raw.xlen(f"{redis_prefix}events") == 2


async def test_stores_under_other_prefixes_are_apart(
    store: RedisJobStore, redis_url: str, redis_prefix: str, clock: FakeClock
) -> None:
    other = await RedisJobStore.open(redis_url, clock=clock, prefix=f"{redis_prefix}other:")
    await other.enqueue(new_job())
    assert await store.claim("w") == []
    assert len(await other.claim("w")) == 1
    await other.close()


@pytest.mark.parametrize("scheme", ["redis", "rediss"])
def test_settings_take_redis_urls(scheme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"{scheme}://:secret@queue.internal:6379/0"
    monkeypatch.setenv("IMAGINE_STORE", url)
    assert WorkerSettings(_env_file=None).store == url


async def test_open_store_opens_redis_urls_on_the_servers_time(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as server:  # its own server: the default prefix is used
        opened = await open_store(server.url)
        assert isinstance(opened, RedisJobStore)
        job = new_job()
        before = time.time()
        await opened.enqueue(job)
        [claimed] = await opened.claim("w", lease_seconds=30)
        await opened.close()
    # The server runs on this machine, so its clock is this one.
    times = (claimed.created_at, claimed.started_at, claimed.lease_expires)
    assert times == pytest.approx((before, before, before + 30), abs=1)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make certificates")
async def test_a_redis_cluster_node_is_refused_at_start_with_one_sentence(
    tmp_path: Path,
) -> None:
    # The scripts reach keys they compute; a Cluster would answer CROSSSLOT or MOVED later.
    refused = pytest.raises(ClusterUnsupported, match=r"^IMAGINE_STORE points at a Redis Cluster")
    with RedisServer(tmp_path, cluster=True) as server, refused:
        await open_store(server.url)


async def test_tls_with_a_password(tmp_path: Path) -> None:
    tls = make_certificates(tmp_path / "tls")
    with RedisServer(tmp_path / "redis", password="s3cret", tls=tls) as server:
        opened = await open_store(server.url)
        job = await opened.enqueue(new_job())
        assert [claimed.id for claimed in await opened.claim("w")] == [job.id]
        await opened.close()
        plain = server.url.replace("rediss://", "redis://").split("?")[0]
        for refused in (server.url.replace("s3cret", "wrong"), plain):
            client = Redis.from_url(refused)  # no retries: refused at once
            with pytest.raises((AuthenticationError, RedisConnectionError)):
                await client.ping()
            await client.aclose()


@pytest.fixture
async def both(
    tmp_path: Path, store: RedisJobStore, clock: FakeClock
) -> AsyncIterator[tuple[JobStore, JobStore]]:
    """An SQLite store and the Redis store on the same clock."""
    sqlite = await SqliteJobStore.open(tmp_path / "jobs.db", clock=clock)
    yield sqlite, store
    await sqlite.close()


async def serve_once(
    stores: tuple[JobStore, JobStore], rng: random.Random, models: list[str] | None = None
) -> list[str]:
    """One claim on each store (the same jobs, or the test fails) by a worker holding
    `models` (None: any), then each claimed job completed, failed for a retry, or given
    back, on both."""
    max_images = rng.randint(1, 4)
    claimed = [
        [job.id for job in await s.claim("w", max_images=max_images, models=models)] for s in stores
    ]
    assert claimed[1] == claimed[0]
    for job_id in claimed[0]:
        outcome = rng.choice(("complete", "retry", "release"))
        for store in stores:
            if outcome == "complete":
                assert await store.complete(job_id, "w", RESULT)
            elif outcome == "retry":
                assert await store.fail(job_id, "w", "engine broke", retry=True)
            else:
                assert await store.release(job_id, "w")
    return claimed[0]


async def test_claims_positions_and_work_match_sqlite_step_for_step(
    both: tuple[JobStore, JobStore], clock: FakeClock
) -> None:
    """Random traffic from three servers and their members, with batches, retries, jobs
    given back, two models and workers holding one or both: both stores hand out the same
    jobs in the same order, and tell the same positions and work ahead."""
    rng = random.Random(5)
    queued: list[str] = []
    for step in range(300):
        clock.advance(0.001)  # distinct times: equal times may break ties differently
        if rng.random() < 0.45:
            await serve_once(both, rng, rng.choice((None, ["sd14"], ["sd21"], MODELS_LIST)))
            continue
        job = new_job(
            guild=rng.choice((1, 2, 3)),
            user=rng.choice((10, 11)),
            count=rng.randint(1, 4),
            size=rng.choice(((128, 128), (256, 128))),
            model=rng.choice(MODELS),
        )
        for store in both:
            await store.enqueue(job)
        queued.append(job.id)
        for job_id in queued[-30:] if step % 10 == 0 else ():
            views = [(await s.position(job_id), await s.work_ahead(job_id)) for s in both]
            assert views[1] == views[0]
    while await serve_once(both, rng):  # the rest, to the last job
        clock.advance(0.001)


async def test_jobs_queued_before_there_were_models_are_claimed_as_sd14(
    store: RedisJobStore, raw: Redis, redis_prefix: str
) -> None:
    """A job as an older store queued it (no model field, in no model's queue) is found by
    a worker that holds sd14, and never by one that holds only sd21."""
    job = new_job(guild=3, user=30)
    await store.enqueue(job)
    await raw.hdel(f"{redis_prefix}job:{job.id}", "model")
    await raw.delete(f"{redis_prefix}queue:u:3:30:m:sd14", f"{redis_prefix}models:indexed")
    assert await store.claim("new", models=["sd21"]) == []
    [claimed] = await store.claim("old", models=["sd14"])
    assert (claimed.id, claimed.params.model) == (job.id, "sd14")
