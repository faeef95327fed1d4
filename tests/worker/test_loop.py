"""The worker's job loop on a real SQLite store, with a small deterministic engine."""

import asyncio
import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from core.canvas import pan_png, split_mask, zoom_out_png
from core.jobs import ENGINE_FAILED, JobState, NewJob
from core.store import JobStore
from core.store.sqlite import SqliteJobStore
from tests.support.engines import POISON, StepEngine
from tests.support.jobs import new_job
from tests.support.waiting import wait_finished
from worker.loop import Worker


@pytest.fixture
def store(job_store: SqliteJobStore) -> JobStore:
    return job_store


def make_worker(store: JobStore, engine: StepEngine, max_images: int = 4) -> Worker:
    return Worker(store, engine, worker_id="w1", max_images=max_images, lease_seconds=30)


async def run_until(worker: Worker, store: JobStore, job_ids: list[str]) -> None:
    """Runs the worker until every job in `job_ids` has finished."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await wait_finished(store, job_ids)
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest.mark.parametrize(
    ("count", "grid_size"), [(1, (128, 128)), (2, (256, 128)), (3, (256, 256)), (4, (256, 256))]
)
async def test_completes_a_job_with_grid_and_single_images(
    store: JobStore, count: int, grid_size: tuple[int, int]
) -> None:
    job = new_job(count=count)
    await store.enqueue(job)
    await run_until(make_worker(store, StepEngine()), store, [job.id])
    done = await store.get(job.id)
    result = await store.result(job.id)
    assert done is not None
    assert result is not None
    assert done.state is JobState.DONE
    assert Image.open(io.BytesIO(result.grid_png)).size == grid_size
    assert len(result.image_pngs) == count
    assert all(Image.open(io.BytesIO(png)).size == (128, 128) for png in result.image_pngs)


async def test_batches_compatible_jobs_in_one_engine_call(store: JobStore) -> None:
    jobs = [new_job(count=2), new_job(count=1), new_job(count=1)]
    for job in jobs:
        await store.enqueue(job)
    engine = StepEngine()
    await run_until(make_worker(store, engine, max_images=4), store, [j.id for j in jobs])
    assert [len(batch) for batch in engine.batches] == [3]


async def test_a_failing_job_fails_with_a_message_and_the_next_is_served(
    store: JobStore,
) -> None:
    poison, good = new_job(prompt=f"{POISON} pill", max_attempts=2), new_job(size=(256, 128))
    await store.enqueue(poison)
    await store.enqueue(good)
    engine = StepEngine()
    await run_until(make_worker(store, engine, max_images=1), store, [poison.id, good.id])
    failed, served = await store.get(poison.id), await store.get(good.id)
    assert failed is not None
    assert served is not None
    assert (failed.state, failed.error, failed.attempts) == (JobState.FAILED, ENGINE_FAILED, 2)
    assert served.state is JobState.DONE


async def test_stopping_gives_the_running_job_back_without_using_an_attempt(
    store: JobStore,
) -> None:
    job = new_job(steps=1000)
    await store.enqueue(job)
    engine = StepEngine(step_seconds=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(make_worker(store, engine).run(stop))
    await asyncio.to_thread(engine.started.wait, 10)
    stop.set()
    await asyncio.wait_for(task, 10)
    back = await store.get(job.id)
    assert back is not None
    assert (back.state, back.attempts, back.lease_owner) == (JobState.QUEUED, 0, None)


async def test_cancel_stops_a_running_job(store: JobStore) -> None:
    job = new_job(steps=1000)
    await store.enqueue(job)
    engine = StepEngine(step_seconds=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(make_worker(store, engine).run(stop))
    await asyncio.to_thread(engine.started.wait, 10)
    await store.cancel(job.id)
    await wait_finished(store, [job.id])
    stop.set()
    await asyncio.wait_for(task, 10)
    canceled = await store.get(job.id)
    assert canceled is not None
    assert canceled.state is JobState.CANCELED
    assert canceled.step < 1000


async def test_a_failing_job_does_not_sink_the_jobs_batched_with_it(store: JobStore) -> None:
    good = [new_job(), new_job()]
    poison = new_job(prompt=f"{POISON} pill", max_attempts=2)
    for job in (good[0], poison, good[1]):
        await store.enqueue(job)
    engine = StepEngine()
    await run_until(make_worker(store, engine), store, [j.id for j in (*good, poison)])
    assert [len(batch) for batch in engine.batches[:1]] == [3]
    assert [(await store.get(j.id)).state for j in good] == [JobState.DONE] * 2  # type: ignore[union-attr]
    failed = await store.get(poison.id)
    assert failed is not None
    assert (failed.state, failed.attempts) == (JobState.FAILED, 2)


async def test_a_worker_serves_only_its_models_and_says_which_it_holds(store: JobStore) -> None:
    new, old = new_job(model="sd21"), new_job(model="sd14")
    await store.enqueue(new)
    await store.enqueue(old)
    engine = StepEngine()
    worker = Worker(store, engine, worker_id="w21", max_images=4, lease_seconds=30, models=["sd21"])
    await run_until(worker, store, [new.id])
    assert [[request.model for request in batch] for batch in engine.batches] == [["sd21"]]
    waiting = await store.get(old.id)
    assert waiting is not None
    assert waiting.state is JobState.QUEUED
    assert await store.models_online() == ("sd21",)


def _source_job(canvas: bytes, **params: object) -> NewJob:
    job = new_job()
    return dataclasses.replace(
        job, params=dataclasses.replace(job.params, **params), source_png=canvas
    )


async def test_a_masked_job_reaches_the_engine_as_image_and_mask(store: JobStore) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    canvas = pan_png(_png(pixels), "left")  # the left 40 px to redraw, alpha 0
    job = _source_job(canvas, masked=True)  # no strength: the engine redraws fully
    await store.enqueue(job)
    engine = StepEngine()
    await run_until(make_worker(store, engine), store, [job.id])
    [[sent]] = engine.batches
    assert sent.init_image is not None
    assert sent.mask is not None
    assert sent.strength == 1.0
    expected_rgb, expected_mask = split_mask(canvas)
    np.testing.assert_array_equal(sent.init_image, expected_rgb)
    np.testing.assert_array_equal(sent.mask, expected_mask)
    assert (sent.mask[:, :40] == 255).all()
    assert not sent.mask[:, 40:].any()


async def test_an_unmasked_img2img_job_gets_no_mask(store: JobStore) -> None:
    canvas = zoom_out_png(_png(np.full((128, 128, 3), 90, dtype=np.uint8)))  # has alpha
    job = _source_job(canvas, strength=0.6)
    await store.enqueue(job)
    engine = StepEngine()
    await run_until(make_worker(store, engine), store, [job.id])
    [[sent]] = engine.batches
    assert sent.mask is None
    assert sent.strength == 0.6
    assert sent.init_image is not None
    assert sent.init_image.shape == (128, 128, 3)


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()
