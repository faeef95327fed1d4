"""The job store's promises about what it keeps, and for how long: part of the contract
suite, so every backend runs this whole file (see conftest `connect`)."""

import dataclasses

from core.jobs import JobResult, JobState, NewJob
from core.store import JobStore
from core.store.base import DEFAULT_RETENTION_SECONDS
from tests.store.conftest import Connect
from tests.support.clock import FakeClock
from tests.support.jobs import new_job

RETENTION = DEFAULT_RETENTION_SECONDS
RESULT = JobResult(b"grid", (b"one", b"two"), 1.5)
FOREVER = 10 * RETENTION  # a lease that outlives every clock jump here


def img2img() -> NewJob:
    return dataclasses.replace(new_job(), source_png=b"\x89PNG source")


async def finished_jobs(store: JobStore, clock: FakeClock) -> list[str]:
    """One job ended each way, each with a source image; the done one has a result."""
    done, failed, canceled = img2img(), img2img(), img2img()
    given_up = dataclasses.replace(img2img(), max_attempts=1)
    for job in (done, failed, canceled):
        await store.enqueue(job)
    await store.cancel(canceled.id)
    claimed = await store.claim("w", max_images=2, lease_seconds=FOREVER)
    assert [job.id for job in claimed] == [done.id, failed.id]
    assert await store.set_preview(done.id, "w", 1, b"preview")
    assert await store.complete(done.id, "w", RESULT)
    assert await store.fail(failed.id, "w", "boom", retry=False)
    await store.enqueue(given_up)
    await store.claim("vanished", lease_seconds=1)
    clock.advance(2)
    assert await store.claim("w") == []  # finds the lease ran out: the job has failed
    return [done.id, failed.id, canceled.id, given_up.id]


async def assert_gone(store: JobStore, job_id: str) -> None:
    assert await store.get(job_id) is None
    assert await store.result(job_id) is None
    assert await store.source(job_id) is None
    assert await store.preview(job_id) is None


async def test_finished_jobs_past_the_retention_go_with_everything_kept_for_them(
    store: JobStore, clock: FakeClock
) -> None:
    old = await finished_jobs(store, clock)
    running, recent, queued = img2img(), img2img(), img2img()
    await store.enqueue(running)
    await store.enqueue(recent)
    await store.claim("w", lease_seconds=FOREVER)
    await store.claim("w2", lease_seconds=FOREVER)
    await store.enqueue(queued)
    clock.advance(RETENTION - 10)
    assert await store.complete(recent.id, "w2", RESULT)
    assert await store.set_preview(running.id, "w", 3, b"running preview")
    clock.advance(11)  # the old jobs finished a second more than the retention ago

    assert await store.purge() == len(old)
    for job_id in old:
        await assert_gone(store, job_id)
    assert await store.purge() == 0
    kept_recent = await store.get(recent.id)
    assert kept_recent is not None
    assert kept_recent.state is JobState.DONE
    assert await store.result(recent.id) == RESULT
    assert await store.source(recent.id) == b"\x89PNG source"
    # Unfinished jobs are never purged, however old: their sources and previews stay.
    for job, state in ((queued, JobState.QUEUED), (running, JobState.RUNNING)):
        unfinished = await store.get(job.id)
        assert unfinished is not None
        assert unfinished.state is state
        assert await store.source(job.id) == b"\x89PNG source"
    preview = await store.preview(running.id)
    assert preview is not None
    assert preview.image == b"running preview"
    assert await store.complete(running.id, "w", RESULT)  # its worker finishes it fine


async def test_a_purge_deletes_at_most_its_limit_oldest_first(
    store: JobStore, clock: FakeClock
) -> None:
    jobs = [new_job() for _ in range(5)]
    for job in jobs:
        await store.enqueue(job)
        clock.advance(1)
        await store.cancel(job.id)  # finished one second apart
    clock.advance(RETENTION + 1)
    assert await store.purge(limit=2) == 2
    assert [await store.get(job.id) is None for job in jobs] == [True, True, False, False, False]
    assert await store.purge(limit=2) == 2
    assert await store.purge(limit=2) == 1
    assert await store.purge(limit=2) == 0


async def test_purging_a_jobs_images_drops_its_result_source_and_preview_at_once(
    connect: Connect,
) -> None:
    worker, bot = await connect(), await connect()
    job = img2img()
    await bot.enqueue(job)
    await worker.claim("w", lease_seconds=FOREVER)
    assert await worker.set_preview(job.id, "w", 1, b"preview")
    assert not await bot.purge_images(job.id)  # running: the worker still needs its source
    assert await worker.source(job.id) == b"\x89PNG source"
    assert await bot.preview(job.id) is not None
    assert await worker.complete(job.id, "w", RESULT)

    assert await bot.purge_images(job.id)
    assert await worker.result(job.id) is None
    assert await worker.source(job.id) is None
    assert await worker.preview(job.id) is None
    kept = await worker.get(job.id)  # the record stays: buttons on it say it is gone
    assert kept is not None
    assert kept.state is JobState.DONE
    assert await bot.purge_images(job.id)  # again: nothing left, no error
    assert not await bot.purge_images("no-such-job")


async def test_assets_are_kept_by_name_until_replaced_and_never_purged(
    connect: Connect, clock: FakeClock
) -> None:
    worker, bot = await connect(), await connect()
    assert await bot.asset("clip-merges") is None
    await worker.put_asset("clip-merges", b"\x1f\x8b first")
    assert await bot.asset("clip-merges") == b"\x1f\x8b first"
    await worker.put_asset("clip-merges", b"\x1f\x8b second")
    await finished_jobs(worker, clock)
    clock.advance(RETENTION * 3)
    assert await worker.purge() > 0
    assert await bot.asset("clip-merges") == b"\x1f\x8b second"
    assert await bot.asset("other") is None
