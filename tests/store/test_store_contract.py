"""The job store's promises. Every backend runs this whole file (see conftest `connect`)."""

import asyncio
import dataclasses
import random

from core.jobs import GAVE_UP, EventKind, JobResult, JobState
from core.store import JobStore, Lease, Preview
from core.store.base import WORKER_TIMEOUT_SECONDS, QueueStats
from tests.store.conftest import Connect
from tests.support.clock import FakeClock
from tests.support.jobs import new_job

LEASE = 30.0
RESULT = JobResult(b"grid", (b"one",), 1.5)


async def test_enqueue_is_idempotent_by_id(store: JobStore) -> None:
    job = new_job()
    first = await store.enqueue(job)
    again = await store.enqueue(job)
    assert first == again
    assert first.state is JobState.QUEUED
    assert len(await store.claim("w", max_images=4)) == 1


async def test_claim_takes_oldest_first_and_counts_the_attempt(
    store: JobStore, clock: FakeClock
) -> None:
    older, newer = new_job(), new_job()
    await store.enqueue(older)
    clock.advance(1)
    await store.enqueue(newer)
    [claimed] = await store.claim("w", lease_seconds=LEASE)
    assert claimed.id == older.id
    assert (claimed.state, claimed.attempts, claimed.lease_owner) == (JobState.RUNNING, 1, "w")
    assert claimed.lease_expires == clock.now + LEASE
    assert await store.position(newer.id) == 0


async def test_concurrent_claimers_never_share_a_job(connect: Connect) -> None:
    stores = [await connect() for _ in range(6)]
    for _ in range(60):
        await stores[0].enqueue(new_job())

    async def drain(store: JobStore, name: str) -> list[str]:
        taken: list[str] = []
        while batch := await store.claim(name):
            taken += [job.id for job in batch]
        return taken

    results = await asyncio.gather(*(drain(s, f"w{i}") for i, s in enumerate(stores)))
    everything = [job_id for taken in results for job_id in taken]
    assert len(everything) == 60
    assert len(set(everything)) == 60


async def test_claim_batches_compatible_jobs_up_to_max_images(store: JobStore) -> None:
    a = new_job(count=2)
    other_size = new_job(size=(256, 128))
    b, c = new_job(count=2), new_job(count=1)
    for job in (a, other_size, b, c):
        await store.enqueue(job)
    batch = await store.claim("w", max_images=4)
    assert [job.id for job in batch] == [a.id, b.id]
    [alone] = await store.claim("w", max_images=4)
    assert alone.id == other_size.id


async def test_expired_lease_is_requeued_and_claimed_again(
    store: JobStore, clock: FakeClock
) -> None:
    job = new_job()
    await store.enqueue(job)
    await store.claim("dead", lease_seconds=LEASE)
    clock.advance(LEASE - 1)
    assert await store.claim("alive", lease_seconds=LEASE) == []
    clock.advance(2)
    [again] = await store.claim("alive", lease_seconds=LEASE)
    assert (again.id, again.attempts, again.lease_owner) == (job.id, 2, "alive")


async def test_stale_owner_cannot_complete_fail_or_heartbeat(
    store: JobStore, clock: FakeClock
) -> None:
    job = new_job()
    await store.enqueue(job)
    await store.claim("old", lease_seconds=LEASE)
    clock.advance(LEASE + 1)
    await store.claim("new", lease_seconds=LEASE)
    assert not await store.complete(job.id, "old", RESULT)
    assert not await store.fail(job.id, "old", "boom", retry=False)
    assert await store.heartbeat(job.id, "old", 1, 2, LEASE) is Lease.LOST
    assert await store.complete(job.id, "new", RESULT)
    assert await store.result(job.id) == RESULT


async def test_attempts_run_out_into_failed_with_a_message(
    store: JobStore, clock: FakeClock
) -> None:
    job = new_job(max_attempts=2)
    await store.enqueue(job)
    for _ in range(2):
        assert await store.claim("w", lease_seconds=LEASE)
        clock.advance(LEASE + 1)
    assert await store.claim("w", lease_seconds=LEASE) == []
    failed = await store.get(job.id)
    assert failed is not None
    assert (failed.state, failed.error) == (JobState.FAILED, GAVE_UP)


async def test_fail_with_retry_requeues_until_attempts_run_out(store: JobStore) -> None:
    job = new_job(max_attempts=2)
    await store.enqueue(job)
    await store.claim("w")
    assert await store.fail(job.id, "w", "engine broke", retry=True)
    assert (await store.get(job.id)).state is JobState.QUEUED  # type: ignore[union-attr]
    await store.claim("w")
    assert await store.fail(job.id, "w", "engine broke", retry=True)
    final = await store.get(job.id)
    assert final is not None
    assert (final.state, final.error) == (JobState.FAILED, "engine broke")


async def test_release_gives_the_job_back_without_using_an_attempt(store: JobStore) -> None:
    job = new_job(max_attempts=1)
    await store.enqueue(job)
    await store.claim("stopping")
    assert await store.release(job.id, "stopping")
    [again] = await store.claim("next")
    assert again.attempts == 1


async def test_heartbeat_renews_the_lease_and_records_progress(
    store: JobStore, clock: FakeClock
) -> None:
    job = new_job()
    await store.enqueue(job)
    await store.claim("w", lease_seconds=LEASE)
    clock.advance(LEASE - 1)
    assert await store.heartbeat(job.id, "w", 3, 25, LEASE) is Lease.HELD
    clock.advance(LEASE - 1)
    assert await store.claim("thief", lease_seconds=LEASE) == []
    running = await store.get(job.id)
    assert running is not None
    assert (running.step, running.total_steps, running.lease_owner) == (3, 25, "w")


async def test_cancel_queued_job_at_once(store: JobStore) -> None:
    job = new_job()
    await store.enqueue(job)
    canceled = await store.cancel(job.id)
    assert canceled is not None
    assert canceled.state is JobState.CANCELED
    assert await store.claim("w") == []


async def test_cancel_running_job_stops_it_at_the_next_heartbeat(store: JobStore) -> None:
    job = new_job()
    await store.enqueue(job)
    await store.claim("w")
    assert (await store.cancel(job.id)).state is JobState.RUNNING  # type: ignore[union-attr]
    assert await store.heartbeat(job.id, "w", 1, 2, LEASE) is Lease.CANCEL
    await store.fail(job.id, "w", "stopped", retry=True)
    assert (await store.get(job.id)).state is JobState.CANCELED  # type: ignore[union-attr]


async def test_cancel_of_a_finished_job_changes_nothing(store: JobStore) -> None:
    job = new_job()
    await store.enqueue(job)
    await store.claim("w")
    await store.complete(job.id, "w", RESULT)
    assert (await store.cancel(job.id)).state is JobState.DONE  # type: ignore[union-attr]


async def test_events_tell_every_change_in_order_from_any_cursor(store: JobStore) -> None:
    start = await store.head()
    job = new_job()
    await store.enqueue(job)
    await store.claim("w")
    await store.heartbeat(job.id, "w", 1, 2, LEASE)
    await store.heartbeat(job.id, "w", 1, 2, LEASE)  # no change: no event
    await store.complete(job.id, "w", RESULT)
    events = await store.events(start)
    assert [e.kind for e in events] == [
        EventKind.QUEUED,
        EventKind.STARTED,
        EventKind.PROGRESS,
        EventKind.DONE,
    ]
    assert (events[2].step, events[2].total_steps) == (1, 2)
    assert [e.seq for e in await store.events(events[1].seq)] == [e.seq for e in events[2:]]


async def test_events_reader_on_another_connection_sees_changes(connect: Connect) -> None:
    bot, worker = await connect(), await connect()
    cursor = await bot.head()
    waiting = asyncio.create_task(bot.events(cursor, wait=5.0))
    await worker.enqueue(new_job())
    events = await asyncio.wait_for(waiting, 5.0)
    assert [e.kind for e in events] == [EventKind.QUEUED]


async def test_position_counts_jobs_ahead(store: JobStore, clock: FakeClock) -> None:
    jobs = [new_job() for _ in range(3)]
    for job in jobs:
        await store.enqueue(job)
        clock.advance(1)
    assert [await store.position(job.id) for job in jobs] == [0, 1, 2]
    await store.claim("w")
    assert [await store.position(job.id) for job in jobs] == [-1, 0, 1]


async def test_a_failed_attempt_goes_to_the_back_of_the_queue(
    store: JobStore, clock: FakeClock
) -> None:
    failing, waiting = new_job(), new_job()
    await store.enqueue(failing)
    clock.advance(1)
    await store.enqueue(waiting)
    await store.claim("w")
    clock.advance(1)
    await store.fail(failing.id, "w", "engine broke", retry=True)
    [next_job] = await store.claim("w")
    assert next_job.id == waiting.id


async def test_a_released_job_keeps_its_place(store: JobStore, clock: FakeClock) -> None:
    first, second = new_job(), new_job()
    await store.enqueue(first)
    clock.advance(1)
    await store.enqueue(second)
    await store.claim("stopping")
    clock.advance(1)
    await store.release(first.id, "stopping")
    assert await store.position(first.id) == 0
    [again] = await store.claim("w")
    assert again.id == first.id


async def test_reads_on_a_connection_never_break_its_writes(connect: Connect) -> None:
    """The bot reads events and enqueues on one connection while a worker writes."""
    bot, worker = await connect(), await connect()
    stop = asyncio.Event()

    async def read() -> None:
        cursor = 0
        while not stop.is_set():
            events = await bot.events(cursor)
            cursor = events[-1].seq if events else cursor
            await bot.position("no-such-job")

    async def work() -> None:
        while not stop.is_set():
            for job in await worker.claim("w", max_images=4):
                await worker.complete(job.id, "w", RESULT)
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(read()) for _ in range(3)] + [asyncio.create_task(work())]
    try:
        for _ in range(300):
            await bot.enqueue(new_job())
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_an_img2img_job_keeps_its_source_image(store: JobStore) -> None:
    plain = new_job()
    job = dataclasses.replace(new_job(), source_png=b"\x89PNG source")
    await store.enqueue(plain)
    await store.enqueue(job)
    assert await store.source(job.id) == b"\x89PNG source"
    assert await store.source(plain.id) is None


async def test_work_ahead_counts_image_steps_before_a_queued_job(
    store: JobStore, clock: FakeClock
) -> None:
    running, first, second = new_job(count=2, steps=10), new_job(count=3, steps=4), new_job()
    for job in (running, first, second):
        await store.enqueue(job)
        clock.advance(1)
    await store.claim("w", max_images=2)  # takes `running` only (3 images would not fit)
    await store.heartbeat(running.id, "w", 6, 10, LEASE)
    assert await store.work_ahead(first.id) == 2 * 4  # what is left of the running job
    assert await store.work_ahead(second.id) == 2 * 4 + 3 * 4
    assert await store.work_ahead(running.id) == 0


async def test_stats_count_jobs_workers_and_measured_speed(
    store: JobStore, clock: FakeClock
) -> None:
    assert await store.stats() == QueueStats(0, 0, 0, None)
    done = new_job(count=2, steps=10, guild=1)
    await store.enqueue(done)
    await store.claim("w")
    await store.complete(done.id, "w", JobResult(b"g", (b"a", b"b"), gpu_seconds=4.0))
    await store.enqueue(new_job(guild=1))
    await store.enqueue(new_job(guild=2))
    await store.worker_seen("w")
    await store.worker_seen("w2")
    clock.advance(WORKER_TIMEOUT_SECONDS / 2)
    await store.worker_seen("w")
    clock.advance(WORKER_TIMEOUT_SECONDS * 0.6)
    assert await store.stats() == QueueStats(2, 0, 1, 4.0 / (2 * 10))
    assert (await store.stats(guild_id=2)).queued == 1


async def test_jobs_lists_a_guilds_or_a_members_jobs_newest_first(
    store: JobStore, clock: FakeClock
) -> None:
    mine = [new_job(guild=1, user=5) for _ in range(3)]
    theirs, elsewhere = new_job(guild=1, user=6), new_job(guild=2, user=5)
    for job in (*mine, theirs, elsewhere):
        await store.enqueue(job)
        clock.advance(1)
    listed = await store.jobs(guild_id=1, user_id=5, states=(JobState.QUEUED,), limit=2)
    assert [job.id for job in listed] == [mine[2].id, mine[1].id]
    everyone = await store.jobs(guild_id=1, states=(JobState.QUEUED,))
    assert {job.id for job in everyone} == {*(job.id for job in mine), theirs.id}
    assert await store.jobs(guild_id=1, states=(JobState.DONE,)) == []


async def claim_all(store: JobStore, max_images: int = 1) -> list[list[str]]:
    """Every batch the queue gives, in claim order (each completed at once)."""
    batches: list[list[str]] = []
    while batch := await store.claim("w", max_images=max_images):
        batches.append([job.id for job in batch])
        for job in batch:
            await store.complete(job.id, "w", RESULT)
    return batches


async def test_one_servers_burst_does_not_starve_another(store: JobStore, clock: FakeClock) -> None:
    burst = [new_job(guild=1) for _ in range(50)]
    for job in burst:
        await store.enqueue(job)
    clock.advance(1)
    single = new_job(guild=2)
    await store.enqueue(single)
    assert await store.position(single.id) == 1
    order = [job_id for [job_id] in await claim_all(store)]
    assert order.index(single.id) == 1
    assert [job_id for job_id in order if job_id != single.id] == [job.id for job in burst]


async def test_servers_then_members_take_turns(store: JobStore, clock: FakeClock) -> None:
    jobs = {
        name: [new_job(guild=guild, user=user) for _ in range(3)]
        for name, guild, user in (("a1", 1, 10), ("a2", 1, 11), ("b", 2, 10), ("c", 3, 12))
    }
    for name in ("a1", "a2", "b", "c"):  # a1's jobs are the oldest, c's the newest
        for job in jobs[name]:
            await store.enqueue(job)
            clock.advance(1)
    names = {job.id: name for name, queued in jobs.items() for job in queued}
    positions = {names[job.id]: await store.position(job.id) for job in jobs["c"][2:]}
    order = [names[job_id] for [job_id] in await claim_all(store)]
    # Servers 1, 2, 3 in turn; server 1's turns alternate between its two members.
    assert order == ["a1", "b", "c", "a2", "b", "c", "a1", "b", "c", "a2", "a1", "a2"]
    assert positions == {"c": order.index("c", 6)}


async def test_positions_follow_the_fair_order(store: JobStore, clock: FakeClock) -> None:
    first = [new_job(guild=1) for _ in range(3)]
    for job in first:
        await store.enqueue(job)
        clock.advance(1)
    other = new_job(guild=2)
    await store.enqueue(other)
    assert [await store.position(job.id) for job in (*first, other)] == [0, 2, 3, 1]
    await store.claim("w")
    assert [await store.position(job.id) for job in (*first, other)] == [-1, 1, 2, 0]


async def test_a_batch_is_filled_fairly_too(store: JobStore, clock: FakeClock) -> None:
    burst = [new_job(guild=1) for _ in range(6)]
    for job in burst:
        await store.enqueue(job)
    clock.advance(1)
    other = new_job(guild=2)
    await store.enqueue(other)
    [batch, *_] = await claim_all(store, max_images=4)
    assert batch == [burst[0].id, other.id, burst[1].id, burst[2].id]


async def test_work_ahead_counts_the_jobs_the_fair_order_serves_first(
    store: JobStore, clock: FakeClock
) -> None:
    running = new_job(guild=3, count=2, steps=10)
    await store.enqueue(running)
    await store.claim("w", max_images=4)
    await store.heartbeat(running.id, "w", 6, 10, LEASE)
    left = 2 * (10 - 6)
    clock.advance(1)
    burst = [new_job(guild=1, count=3, steps=4)] + [new_job(guild=1, steps=5) for _ in range(49)]
    for job in burst:
        await store.enqueue(job)
    clock.advance(1)
    single = new_job(guild=2, count=2, steps=7)
    await store.enqueue(single)
    assert await store.position(single.id) == 1
    # Only server 1's first job goes before server 2's single job, not all fifty.
    assert await store.work_ahead(single.id) == left + 3 * 4
    assert await store.work_ahead(burst[0].id) == left
    assert await store.work_ahead(burst[1].id) == left + 3 * 4 + 2 * 7
    assert await store.work_ahead(burst[-1].id) == left + 3 * 4 + 2 * 7 + 48 * 5


async def test_work_ahead_agrees_with_positions_and_claims(
    store: JobStore, clock: FakeClock
) -> None:
    """Random mixes of servers, members, sizes and step counts, with jobs running, failed
    back to the end of the queue and given back: ordered by position, each queued job's
    work ahead is what is left of the running jobs plus exactly the jobs before it, and
    claims one job at a time then take them in that order."""
    rng = random.Random(11)
    work: dict[str, int] = {}
    running: dict[str, int] = {}  # job id -> image-steps left

    async def enqueue_some(count: int) -> None:
        for _ in range(count):
            if rng.random() < 0.7:
                clock.advance(rng.choice((0.0, 0.5, 1.0)))  # equal times happen too
            job = new_job(
                guild=rng.choice((1, 1, 1, 2, 2, 3)),
                user=rng.choice((10, 10, 11, 12)),
                count=rng.randint(1, 4),
                steps=rng.randint(1, 30),
                size=rng.choice(((128, 128), (256, 128))),
            )
            await store.enqueue(job)
            work[job.id] = job.params.count * job.params.steps

    async def serve_some(claims: int) -> None:
        for _ in range(claims):
            for job in await store.claim("w", max_images=rng.randint(1, 4), lease_seconds=1e6):
                outcome = rng.choice(("run", "complete", "retry", "release"))
                if outcome == "run":
                    step = rng.randint(0, job.params.steps)
                    await store.heartbeat(job.id, "w", step, job.params.steps, 1e6)
                    running[job.id] = job.params.count * (job.params.steps - step)
                elif outcome == "complete":
                    await store.complete(job.id, "w", RESULT)
                elif outcome == "retry":
                    clock.advance(0.5)
                    await store.fail(job.id, "w", "engine broke", retry=True)
                else:
                    await store.release(job.id, "w")

    async def check() -> list[str]:
        jobs = [await store.get(job_id) for job_id in work]
        queued = [job.id for job in jobs if job is not None and job.state is JobState.QUEUED]
        positions = {job_id: await store.position(job_id) for job_id in queued}
        ahead = {job_id: await store.work_ahead(job_id) for job_id in queued}
        in_order = sorted(queued, key=positions.__getitem__)
        assert [positions[job_id] for job_id in in_order] == list(range(len(queued)))
        assert sorted(queued, key=ahead.__getitem__) == in_order
        expected = sum(running.values())
        for job_id in in_order:
            assert ahead[job_id] == expected, f"position {positions[job_id]}"
            expected += work[job_id]
        return in_order

    for claims in (0, 3, 5, 8):
        await enqueue_some(25)
        await serve_some(claims)
        await check()
    in_order = await check()
    claimed = [job.id for _ in in_order for job in await store.claim("w", lease_seconds=1e6)]
    assert claimed == in_order


async def test_a_running_job_keeps_only_its_newest_preview(store: JobStore) -> None:
    job, waiting = new_job(), new_job(prompt="still queued")
    await store.enqueue(job)
    [claimed] = await store.claim("w", lease_seconds=LEASE)
    await store.enqueue(waiting)
    assert await store.preview(job.id) is None
    assert await store.set_preview(job.id, "w", 1, b"\x00one")
    assert await store.preview(job.id) == Preview(1, b"\x00one")
    assert await store.set_preview(job.id, "w", 3, b"\xffthree")
    assert not await store.set_preview(job.id, "stranger", 4, b"not mine")
    assert not await store.set_preview(waiting.id, "w", 1, b"not running")
    assert await store.preview(job.id) == Preview(3, b"\xffthree")
    assert await store.preview(waiting.id) is None
    assert await store.complete(claimed.id, "w", RESULT)
    assert await store.preview(job.id) is None
    assert not await store.set_preview(job.id, "w", 5, b"too late")


async def test_a_preview_goes_when_its_attempt_ends(store: JobStore, clock: FakeClock) -> None:
    """A requeued job's old picture would mislead: expired, released and failed attempts
    all drop it."""
    job = new_job(max_attempts=5)
    await store.enqueue(job)
    await store.claim("dead", lease_seconds=LEASE)
    await store.set_preview(job.id, "dead", 1, b"old")
    clock.advance(LEASE + 1)
    await store.claim("alive", lease_seconds=LEASE)
    assert await store.preview(job.id) is None
    assert not await store.set_preview(job.id, "dead", 2, b"stale worker")
    for end in ("release", "fail"):
        assert await store.set_preview(job.id, "alive", 1, b"shown")
        if end == "release":
            await store.release(job.id, "alive")
        else:
            await store.fail(job.id, "alive", "boom", retry=True)
        assert await store.preview(job.id) is None
        await store.claim("alive", lease_seconds=LEASE)


async def test_a_worker_claims_only_jobs_of_the_models_it_holds(
    store: JobStore, clock: FakeClock
) -> None:
    """An sd21 job at the front of the queue neither goes to an sd14 worker nor holds up
    the sd14 jobs behind it, its own member's or another server's; it waits, through the
    sd14 worker's claims, for a worker that holds sd21."""
    new = new_job(model="sd21")
    mine, theirs = new_job(), new_job(guild=2, user=20)
    for job in (new, mine, theirs):
        await store.enqueue(job)
        clock.advance(1)
    first = await store.claim("old", max_images=4, models=["sd14"])
    second = await store.claim("old", max_images=4, models=["sd14"])
    assert [job.id for job in first + second] == [mine.id, theirs.id]
    assert all(job.params.model == "sd14" for job in first + second)
    assert await store.claim("old", max_images=4, models=["sd14"]) == []
    assert await store.claim("none", max_images=4, models=[]) == []
    waiting = await store.get(new.id)
    assert waiting is not None
    assert waiting.state is JobState.QUEUED
    [claimed] = await store.claim("new", max_images=4, models=["sd21"])
    assert (claimed.id, claimed.params.model, claimed.lease_owner) == (new.id, "sd21", "new")


async def test_a_batch_holds_one_model(store: JobStore) -> None:
    old_a, new_a, old_b, new_b = (
        new_job(model=model) for model in ("sd14", "sd21", "sd14", "sd21")
    )
    for job in (old_a, new_a, old_b, new_b):
        await store.enqueue(job)
    for models in (None, ["sd14", "sd21"]):
        batch = await store.claim("both", max_images=4, models=models)
        assert [job.id for job in batch] == [old_a.id, old_b.id]
        batch = await store.claim("both", max_images=4, models=models)
        assert [job.id for job in batch] == [new_a.id, new_b.id]
        for job in (old_a, new_a, old_b, new_b):
            assert await store.release(job.id, "both")


async def test_a_requeued_job_goes_back_to_its_model(store: JobStore, clock: FakeClock) -> None:
    job = new_job(model="sd21")
    await store.enqueue(job)
    await store.claim("dead", lease_seconds=LEASE, models=["sd21"])
    clock.advance(LEASE + 1)
    assert await store.claim("old", lease_seconds=LEASE, models=["sd14"]) == []
    [again] = await store.claim("new", lease_seconds=LEASE, models=["sd21"])
    assert (again.id, again.attempts) == (job.id, 2)


async def test_workers_say_which_models_they_hold(store: JobStore, clock: FakeClock) -> None:
    assert await store.models_online() == ()
    await store.worker_seen("old", models=["sd14"])
    await store.worker_seen("both", models=["sd21", "sd14"])
    assert await store.models_online() == ("sd14", "sd21")
    clock.advance(WORKER_TIMEOUT_SECONDS - 1)
    await store.worker_seen("old", models=["sd14"])
    clock.advance(2)  # "both" is no longer seen
    assert await store.models_online() == ("sd14",)
    assert (await store.stats()).workers == 1


async def test_servers_keep_their_turns_among_a_worker_s_models(
    store: JobStore, clock: FakeClock
) -> None:
    """Server 2's sd14 job, behind its sd21 job, takes server 2's turn: second, not after
    server 1's burst."""
    burst = [new_job(guild=1, user=10) for _ in range(3)]
    new, old = new_job(guild=2, user=20, model="sd21"), new_job(guild=2, user=20)
    for job in (*burst, new, old):
        await store.enqueue(job)
        clock.advance(1)
    order = []
    while claimed := await store.claim("old", models=["sd14"]):
        order += [job.id for job in claimed]
    assert order == [burst[0].id, old.id, burst[1].id, burst[2].id]
    [last] = await store.claim("new", models=["sd21"])
    assert last.id == new.id
