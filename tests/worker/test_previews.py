"""Previews from the worker loop to the store: throttled per job, cleared at the end."""

import asyncio
import io

from PIL import Image

from core.store.sqlite import SqliteJobStore
from tests.support.engines import StepEngine
from tests.support.jobs import new_job
from tests.support.waiting import wait_finished
from worker.loop import Worker


def make_worker(store: SqliteJobStore, engine: StepEngine, preview_seconds: float) -> Worker:
    return Worker(
        store,
        engine,
        worker_id="w1",
        max_images=4,
        lease_seconds=30,
        preview_seconds=preview_seconds,
    )


async def test_a_running_job_gets_newer_previews_and_none_once_done(
    job_store: SqliteJobStore,
) -> None:
    jobs = [new_job(count=2, steps=40), new_job(count=1, steps=40)]
    for job in jobs:
        await job_store.enqueue(job)
    worker = make_worker(job_store, StepEngine(step_seconds=0.05), preview_seconds=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    seen: dict[str, list[int]] = {job.id: [] for job in jobs}
    sizes: dict[str, tuple[int, int]] = {}
    while not all(len(steps) >= 2 for steps in seen.values()):
        await asyncio.sleep(0.05)
        for job in jobs:
            preview = await job_store.preview(job.id)
            if preview is not None and preview.step not in seen[job.id]:
                seen[job.id].append(preview.step)
                with Image.open(io.BytesIO(preview.image)) as image:
                    assert image.format == "WEBP"
                    sizes[job.id] = image.size
    await wait_finished(job_store, [job.id for job in jobs])
    stop.set()
    await asyncio.wait_for(task, 10)
    for steps in seen.values():
        assert steps == sorted(steps)
        assert 0 < steps[0] < 40
        # At most one preview per job per 0.2 s: 40 steps of 0.05 s give about 10.
        assert len(steps) <= 12
    # 128x128 images are 16x16 latent cells, shown 4x: a 2-image grid is 128x64.
    assert sizes == {jobs[0].id: (128, 64), jobs[1].id: (64, 64)}
    assert [await job_store.preview(job.id) for job in jobs] == [None, None]


async def test_no_previews_when_turned_off(job_store: SqliteJobStore) -> None:
    job = new_job(steps=10)
    await job_store.enqueue(job)
    engine = StepEngine(step_seconds=0.02)
    worker = make_worker(job_store, engine, preview_seconds=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    assert await asyncio.to_thread(engine.started.wait, 10)
    for _ in range(10):
        assert await job_store.preview(job.id) is None
        await asyncio.sleep(0.02)
    await wait_finished(job_store, [job.id])
    stop.set()
    await asyncio.wait_for(task, 10)
