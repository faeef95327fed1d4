"""The worker's job loop: claim a batch, run the engine off the event loop, keep the
leases alive while it runs, hand back results (or the jobs themselves) at the end."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.canvas import split_mask
from core.images import encode_pngs, encode_preview
from core.jobs import ENGINE_FAILED, Job, JobResult
from core.store import JobStore, Lease
from worker import metrics
from worker.engine.previews import PreviewFn
from worker.engine.request import GenerationCanceled, GenerationRequest, ProgressFn

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.25
SEEN_EVERY_SECONDS = 5.0  # how often the store hears this worker is alive


class EngineLike(Protocol):
    """The part of worker.engine.Engine the loop needs; tests plug in a small one."""

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        progress: ProgressFn | None = None,
        preview: PreviewFn | None = None,
    ) -> list[npt.NDArray[np.uint8]]: ...


class _Progress:
    """Shared between the engine's thread and the loop: the latest step, whether to go on,
    and the previews not yet sent (job id -> (step, image))."""

    def __init__(self, stop: asyncio.Event, job_ids: list[str], preview_seconds: float) -> None:
        self.done, self.total = 0, 0
        self.changed = threading.Event()
        self.abandon = False  # every job in the batch was canceled or lost
        self._stop = stop
        self._preview_seconds = preview_seconds
        self._job_ids = job_ids  # the engine's request index -> job id
        self._previews: dict[str, tuple[int, bytes]] = {}
        self._previewed: dict[str, float] = {}  # job id -> monotonic time
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int) -> bool:
        self.done, self.total = done, total
        self.changed.set()
        return not (self.abandon or self._stop.is_set())

    def preview(self, request: int, colours: npt.NDArray[np.uint8]) -> None:
        """Runs in the engine's thread after each chunk; encodes at most one preview per
        job per `preview_seconds`, so a fast GPU does not flood the store or Discord."""
        job_id, now = self._job_ids[request], time.monotonic()
        if now - self._previewed.get(job_id, -math.inf) < self._preview_seconds:
            return
        self._previewed[job_id] = now
        image = encode_preview(colours)
        with self._lock:
            self._previews[job_id] = (self.done, image)  # reported just before

    def take_previews(self) -> dict[str, tuple[int, bytes]]:
        with self._lock:
            taken, self._previews = self._previews, {}
        return taken


class Worker:
    def __init__(
        self,
        store: JobStore,
        engine: EngineLike,
        *,
        worker_id: str,
        max_images: int,
        lease_seconds: float,
        heartbeat_file: Path | None = None,
        preview_seconds: float = 0.0,
        models: Sequence[str] | None = None,
    ) -> None:
        self._store = store
        # The models the engine holds: only their jobs are claimed (None: any job).
        self._models = None if models is None else tuple(models)
        self._preview_seconds = preview_seconds  # 0: no previews
        self._engine = engine
        self.worker_id = worker_id
        self._max_images = max_images
        self._lease_seconds = lease_seconds
        self._heartbeat_file = heartbeat_file
        self._last_seen = -SEEN_EVERY_SECONDS

    async def run(self, stop: asyncio.Event) -> None:
        """Serves jobs until `stop` is set; the batch in hand is finished or given back."""
        held = "any model" if self._models is None else ", ".join(self._models)
        log.info("Worker %s is taking jobs for %s", self.worker_id, held)
        while not stop.is_set():
            await self._beat()
            jobs = await self._store.claim(
                self.worker_id,
                max_images=self._max_images,
                lease_seconds=self._lease_seconds,
                models=self._models,
            )
            if jobs:
                await self.run_batch(jobs, stop)
            else:
                await _wait(stop, IDLE_POLL_SECONDS)
        log.info("Worker %s stopped", self.worker_id)

    async def run_batch(self, jobs: list[Job], stop: asyncio.Event) -> None:
        progress = _Progress(stop, [job.id for job in jobs], self._preview_seconds)
        requests = [await self._request(job) for job in jobs]
        started = time.monotonic()
        preview = progress.preview if self._preview_seconds > 0 else None
        generation = asyncio.create_task(
            asyncio.to_thread(self._engine.generate, requests, progress, preview)
        )
        live = await self._keep_leases(jobs, generation, progress)
        try:
            images = await generation
        except GenerationCanceled:
            # Stopping (SIGTERM) or every job canceled: hand back what is still ours,
            # without using up an attempt.
            for job in live:
                await self._store.release(job.id, self.worker_id)
            return
        except Exception:
            if len(live) > 1:
                # One bad job must not sink the others that shared its batch: run each
                # alone, so only the job that breaks the engine uses up its attempts.
                log.warning("A batch of %d jobs failed; running them one by one", len(live))
                for job in live:
                    await self.run_batch([job], stop)
                return
            log.exception("The engine failed on job %s", live[0].id if live else "?")
            metrics.JOB_FAILURES.inc(len(live))
            await self._fail_all(live, ENGINE_FAILED, retry=True)
            return
        await self._complete(jobs, live, images, time.monotonic() - started)

    async def _keep_leases(
        self,
        jobs: list[Job],
        generation: asyncio.Task[list[npt.NDArray[np.uint8]]],
        progress: _Progress,
    ) -> list[Job]:
        """Heartbeats each job while the engine runs; returns the jobs still ours."""
        live = list(jobs)
        interval = self._lease_seconds / 4
        last_beat = time.monotonic()
        while not generation.done():
            await asyncio.wait({generation}, timeout=min(interval, 1.0))
            due = time.monotonic() - last_beat >= interval
            if not (due or progress.changed.is_set()) or generation.done():
                continue
            progress.changed.clear()
            last_beat = time.monotonic()
            live = await self._beat_jobs(live, progress)
            progress.abandon = not live
        return live

    async def _beat_jobs(self, jobs: list[Job], progress: _Progress) -> list[Job]:
        await self._beat()
        kept = []
        previews = progress.take_previews()
        for job in jobs:
            if job.id in previews:  # first: the heartbeat's progress event announces it
                await self._store.set_preview(job.id, self.worker_id, *previews[job.id])
            lease = await self._store.heartbeat(
                job.id, self.worker_id, progress.done, progress.total, self._lease_seconds
            )
            if lease is Lease.HELD:
                kept.append(job)
            elif lease is Lease.CANCEL:
                await self._store.fail(job.id, self.worker_id, "canceled", retry=False)
            else:
                log.warning("Lost the lease on job %s; dropping its work", job.id)
        return kept

    async def _complete(
        self, jobs: list[Job], live: list[Job], images: list[npt.NDArray[np.uint8]], seconds: float
    ) -> None:
        total_images = sum(job.params.count for job in jobs)
        live_ids = {job.id for job in live}
        for job, pixels in zip(jobs, images, strict=True):
            if job.id not in live_ids:
                continue
            grid, singles = await asyncio.to_thread(encode_pngs, pixels)
            share = seconds * job.params.count / total_images
            if not await self._store.complete(
                job.id, self.worker_id, JobResult(grid, singles, share)
            ):
                log.warning("Job %s was taken over before it completed", job.id)
        metrics.record_batch(total_images, jobs[0].params.steps, seconds)
        log.info("Finished %d job(s) in %.1f s", len(live), seconds)

    async def _fail_all(self, jobs: list[Job], error: str, *, retry: bool) -> None:
        for job in jobs:
            await self._store.fail(job.id, self.worker_id, error, retry=retry)

    async def _request(self, job: Job) -> GenerationRequest:
        if job.params.strength is None and not job.params.masked:
            return to_request(job)
        png = await self._store.source(job.id)
        if png is None:
            raise RuntimeError(f"img2img job {job.id} has no source image")
        if job.params.masked:  # the PNG's alpha is the keep-mask (core.canvas)
            return to_request(job, *await asyncio.to_thread(split_mask, png))
        return to_request(job, await asyncio.to_thread(decode_source, png))

    async def _beat(self) -> None:
        """Tells the health check (a file) and the bot (the store) this worker is alive."""
        if self._heartbeat_file is not None:
            self._heartbeat_file.parent.mkdir(parents=True, exist_ok=True)
            self._heartbeat_file.touch()
        if time.monotonic() - self._last_seen >= SEEN_EVERY_SECONDS:
            self._last_seen = time.monotonic()
            await self._store.worker_seen(self.worker_id, models=self._models or ())


def to_request(
    job: Job,
    source: npt.NDArray[np.uint8] | None = None,
    mask: npt.NDArray[np.uint8] | None = None,
) -> GenerationRequest:
    """The engine's request for `job`; img2img and masked jobs without a strength
    redraw fully (1.0): a masked job then starts from noise where its mask says."""
    p = job.params
    return GenerationRequest(
        p.prompt,
        p.negative_prompt,
        p.count,
        p.steps,
        p.guidance,
        p.seed,
        p.width,
        p.height,
        p.sampler,
        init_image=source,
        strength=1.0 if p.strength is None else p.strength,
        model=p.model,
        mask=mask,
    )


def decode_source(png: bytes) -> npt.NDArray[np.uint8]:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
