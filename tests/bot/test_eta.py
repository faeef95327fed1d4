"""The ETA a waiting member sees, from the workers' measured speed and the work ahead
(fake timings: an injected clock and jobs with known GPU seconds)."""

import math
from pathlib import Path

from bot.delivery import duration, seconds_left
from core.jobs import JobResult
from core.store.sqlite import SqliteJobStore
from tests.support.clock import FakeClock
from tests.support.jobs import new_job


async def test_eta_is_the_work_ahead_and_its_own_at_the_measured_speed(tmp_path: Path) -> None:
    clock = FakeClock()
    store = await SqliteJobStore.open(tmp_path / "jobs.db", clock=clock)
    try:
        measured = new_job(count=1, steps=20)
        await store.enqueue(measured)
        await store.claim("w1")
        # 10 GPU seconds for 1 image x 20 steps: 0.5 s per image-step.
        await store.complete(measured.id, "w1", JobResult(b"g", (b"1",), gpu_seconds=10.0))
        waiting = new_job(count=2, steps=25)
        assert await seconds_left(store, await store.get(measured.id)) == math.inf  # type: ignore[arg-type]
        await store.worker_seen("w1")
        ahead = new_job(count=4, steps=25)
        await store.enqueue(ahead)
        clock.advance(1)
        await store.enqueue(waiting)
        job = await store.get(waiting.id)
        assert job is not None
        assert await seconds_left(store, job) == (4 * 25 + 2 * 25) * 0.5
        await store.worker_seen("w2")  # a second worker halves it
        assert await seconds_left(store, job) == (4 * 25 + 2 * 25) * 0.5 / 2
    finally:
        await store.close()


async def test_no_eta_before_anything_was_measured(tmp_path: Path) -> None:
    store = await SqliteJobStore.open(tmp_path / "jobs.db")
    try:
        job = await store.enqueue(new_job())
        await store.worker_seen("w1")
        assert await seconds_left(store, job) is None
    finally:
        await store.close()


def test_durations_read_naturally() -> None:
    assert [duration(s, "en-US") for s in (0.2, 42, 89, 600)] == ["1 s", "42 s", "89 s", "10 min"]
    assert duration(120, "zh-CN") == "2 分钟"
    assert duration(30, "ko") == "30초"
