"""The KerasCV engine: requests in, uint8 images out, through the compiled loop of the
model each request names (one engine may hold several: docs/engine.md, "Models")."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from keras import ops

from worker.engine import masks as masked
from worker.engine.compiled import CompiledModel, StepTable, step_table
from worker.engine.parts import MAX_PROMPT_LENGTH, Parts
from worker.engine.precision import Precision
from worker.engine.previews import PreviewFn, latent_preview
from worker.engine.prompts import PromptEncoder
from worker.engine.request import (
    GenerationCanceled,
    GenerationRequest,
    ProgressFn,
    check_batch,
)
from worker.engine.rows import (
    Row,
    batches,
    bucket_for,
    bucket_sizes,
    latent_shape,
    noise,
    to_rows,
)
from worker.engine.samplers import Schedule, max_order, schedule_for

log = logging.getLogger(__name__)

Pixels = npt.NDArray[np.uint8]
Latents = npt.NDArray[np.float32]
Size = tuple[int, int]
WarmTask = tuple[int, int, int]  # (width, height, bucket); bucket 0 = the image encoder
ModelTask = tuple[str, int, int, int]  # (model, width, height, bucket)


class _Ticker:
    """Adds up steps over the batches of one call and asks the callback whether to go on."""

    def __init__(self, total: int, progress: ProgressFn | None) -> None:
        self.done, self.total = 0, total
        self._progress = progress

    def advance(self, steps: int) -> None:
        self.done += steps
        if self._progress is not None and not self._progress(self.done, self.total):
            raise GenerationCanceled(f"Canceled after {self.done} of {self.total} steps.")


@dataclass(frozen=True)
class _Plan:
    """What every batch of one call shares."""

    model: str  # the requests' model, a key of KerasEngine.models
    width: int
    height: int
    schedule: Schedule
    table: StepTable
    init_latents: dict[int, Latents]  # request index -> encoded init image
    masks: dict[int, Latents]  # request index -> (h/8, w/8, 1) share of each cell to redraw


class KerasEngine:
    """KerasCV's Stable Diffusion parts behind our own sampling loop. ``generate`` calls
    run one at a time, and never beside a background warm-up step."""

    def __init__(
        self,
        models: Mapping[str, Parts],
        *,
        sizes: Sequence[tuple[int, int]],
        precision: Precision,
        max_batch: int,
        steps_per_call: int,
        small_conv_pixels: int,
        upscale_sizes: Sequence[Size] = (),
    ) -> None:
        # Upscale sizes are offered too, but compiled only for one image, last.
        self.upscale_sizes = tuple(size for size in upscale_sizes if size not in sizes)
        self.sizes = (*sizes, *self.upscale_sizes)
        self.precision = precision
        self.max_batch = max_batch
        self.buckets = bucket_sizes(max_batch)
        self.steps_per_call = steps_per_call
        if not models:
            raise ValueError("An engine needs at least one model.")
        # Each model its own compiled programs and prompt cache (their contexts differ).
        self.models = {
            name: CompiledModel(
                parts, jit_compile=precision.jit_compile, small_conv_pixels=small_conv_pixels
            )
            for name, parts in models.items()
        }
        self._prompts = {
            name: PromptEncoder(model.parts.tokenizer, model.encode_text)
            for name, model in self.models.items()
        }
        self.host_calls = 0  # compiled loop calls, each one host round trip
        self._lock = threading.Lock()  # one job or one warm-up program at a time
        self.warming: threading.Thread | None = None  # the background warm-up
        self._closing = threading.Event()  # tells the background warm-up to stop
        self._compiled: set[ModelTask] = set()  # programs run once, by warm-up or a job

    @property
    def model(self) -> CompiledModel:
        """The first model (the default one when the engine holds several)."""
        return next(iter(self.models.values()))

    def count_tokens(self, text: str) -> int:
        # Every model tokenizes with the same CLIP tokenizer, so any one counts.
        return next(iter(self._prompts.values())).count_tokens(text)

    def warm_up(self, *, background: bool = True) -> float:
        """Traces (with XLA: compiles) and runs every function once for every size and
        bucket, so no job pays for it. The first size's buckets are done now and the
        seconds they took returned; the other sizes and the image encoder (img2img only)
        follow in a background thread when `background`, one at a time between jobs. A
        job that needs one of them first compiles it itself. With several models, each
        model's first size is done now, so every model can take jobs once this returns."""
        started = time.monotonic()
        tasks = self._warm_tasks()
        first = self.sizes[0]
        now = [task for task in tasks if task[1:3] == first and task[3]]
        later = [task for task in tasks if task not in now]
        for prompts in self._prompts.values():
            prompts.context("")
        self._warm(now, 0, len(tasks))
        seconds = time.monotonic() - started
        log.info(
            "Ready for %dx%d after %.1f s of warm-up (%s)",
            *first,
            seconds,
            ", ".join(self.models),
        )
        if later and background:
            self.warming = threading.Thread(
                target=self._warm, args=(later, len(now), len(tasks)), daemon=True
            )
            self.warming.start()
        elif later:
            self._warm(later, len(now), len(tasks))
            seconds = time.monotonic() - started
        return seconds

    def _warm_tasks(self) -> list[ModelTask]:
        """(model, width, height, bucket) for each program, model by model, in the order
        of `warm_tasks`."""
        configured = self.sizes[: len(self.sizes) - len(self.upscale_sizes)]
        tasks = warm_tasks(configured, self.buckets, self.upscale_sizes)
        return [(name, *task) for name in self.models for task in tasks]

    def close(self) -> None:
        """Stops the background warm-up after the program it is compiling, and waits for
        it: a process that exits while a thread is inside TensorFlow aborts."""
        self._closing.set()
        if self.warming is not None:
            self.warming.join()

    def _warm(self, tasks: list[ModelTask], done: int, total: int) -> None:
        for number, (name, width, height, bucket) in enumerate(tasks, done + 1):
            if self._closing.is_set():
                log.info("Warm-up stopped at %d/%d: the worker is stopping", number - 1, total)
                return
            began = time.monotonic()
            model = self.models[name]
            upscale = " (upscale)" if (width, height) in self.upscale_sizes else ""
            what = f"{width}x{height}{upscale} for {_program(bucket)} of {name}"
            log.info("Warm-up %d/%d: compiling %s", number, total, what)
            with self._lock:  # never beside a job: it would slow the job down
                if bucket:
                    self._warm_batch(model, width, height, bucket)
                else:
                    model.encode_image(ops.zeros((1, height, width, 3)))
                self._compiled.add((name, width, height, bucket))
            log.info(
                "Warm-up %d/%d: compiled %s in %.1f s",
                number,
                total,
                what,
                time.monotonic() - began,
            )

    def _on_demand(self, name: str, width: int, height: int, bucket: int) -> None:
        """Logs a program a job compiles itself (warm-up has not reached it, or never
        will: an upscale size for more than one image)."""
        if (name, width, height, bucket) not in self._compiled:
            log.info(
                "Compiling %dx%d for %s of %s for this job", width, height, _program(bucket), name
            )
            self._compiled.add((name, width, height, bucket))

    def _warm_batch(self, model: CompiledModel, width: int, height: int, bucket: int) -> None:
        zeros = ops.zeros((bucket, *latent_shape(width, height)))
        table = step_table(schedule_for("ddim", 1), 1)
        contexts = ops.zeros((2 * bucket, MAX_PROMPT_LENGTH, model.parts.context_width))
        # One real step, not just a trace: oneDNN and cuDNN choose and cache their kernels
        # on first execution, which would otherwise land on the first job (measured 1.4x).
        model.denoise(
            zeros,
            zeros,
            contexts,
            ops.zeros((bucket,)),
            ops.zeros((bucket,), "int32"),
            table,
            _int(0),
            _int(1),
            masked.to_tensors(masked.unmasked((bucket, *latent_shape(width, height)))),
        )
        model.decode(zeros)

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        progress: ProgressFn | None = None,
        preview: PreviewFn | None = None,
    ) -> list[Pixels]:
        """One (count, height, width, 3) uint8 array per request, in order; `preview`,
        if given, gets each request's rows of the running batch after every chunk."""
        with self._lock:
            return self._generate(requests, progress, preview)

    def _generate(
        self,
        requests: Sequence[GenerationRequest],
        progress: ProgressFn | None,
        preview: PreviewFn | None,
    ) -> list[Pixels]:
        check_batch(requests, self.sizes, tuple(self.models))
        prompts = self._prompts[requests[0].model]
        for request in requests:
            prompts.check(request.prompt, "prompt")
            prompts.check(request.negative_prompt, "negative prompt")
        plan = self._plan(requests)
        groups = batches(to_rows(requests), self.max_batch)
        steps = plan.schedule.steps
        ticker = _Ticker(sum(steps - min(row.start for row in g) for g in groups), progress)
        ticker.advance(0)
        pixels = np.concatenate([self._run(group, plan, ticker, preview) for group in groups])
        ends = np.cumsum([request.count for request in requests])
        return np.split(pixels, ends[:-1])

    def _plan(self, requests: Sequence[GenerationRequest]) -> _Plan:
        first = requests[0]
        schedule = schedule_for(first.sampler, first.steps)
        model = self.models[first.model]
        if any(request.init_image is not None for request in requests):
            self._on_demand(first.model, first.width, first.height, 0)
        init_latents = {
            index: _encode_init(model, request.init_image, first.width, first.height)
            for index, request in enumerate(requests)
            if request.init_image is not None
        }
        masks = {
            index: masked.cells_to_redraw(request.mask, first.width, first.height)
            for index, request in enumerate(requests)
            if request.mask is not None
        }
        table = step_table(schedule, max_order(first.sampler))
        return _Plan(first.model, first.width, first.height, schedule, table, init_latents, masks)

    def _run(
        self, rows: list[Row], plan: _Plan, ticker: _Ticker, preview: PreviewFn | None
    ) -> Pixels:
        """Denoises and decodes one batch of at most max_batch rows."""
        model = self.models[plan.model]
        bucket = bucket_for(len(rows), self.buckets)
        pad = bucket - len(rows)
        steps = plan.schedule.steps
        shape = latent_shape(plan.width, plan.height)
        self._on_demand(plan.model, plan.width, plan.height, bucket)
        noises = [noise(row.seed, shape) for row in rows]
        latents = np.zeros((bucket, *shape), dtype=np.float32)
        for i, row in enumerate(rows):
            latents[i] = self._start_latent(row, plan, noises[i])
        blend = masked.row_inputs(rows, plan.masks, plan.init_latents, noises, latents.shape)
        masks = masked.to_tensors(blend)
        # Padding rows start after the last step: they ride along and never change.
        starts = ops.convert_to_tensor([row.start for row in rows] + [steps] * pad, "int32")
        guidance = ops.convert_to_tensor([row.guidance for row in rows] + [0.0] * pad, "float32")
        contexts = _contexts(self._prompts[plan.model], rows, pad)
        x, x0_prev = ops.convert_to_tensor(latents), ops.zeros_like(latents)
        for begin in range(min(row.start for row in rows), steps, self.steps_per_call):
            count = min(self.steps_per_call, steps - begin)
            x, x0_prev, finite = model.denoise(
                x,
                x0_prev,
                contexts,
                guidance,
                starts,
                plan.table,
                _int(begin),
                _int(count),
                masks,
            )
            self.host_calls += 1
            if not bool(finite):
                raise FloatingPointError("The latents overflowed (inf or NaN) while sampling.")
            ticker.advance(count)
            if preview is not None:
                _send_previews(rows, masked.shown(np.asarray(x0_prev), blend), preview)
        return np.asarray(model.decode(x))[: len(rows)]

    def _start_latent(self, row: Row, plan: _Plan, row_noise: Latents) -> Latents:
        """Pure noise for text-to-image; the source latent noised to the row's start level
        for img2img (at strength 0 that is the source itself)."""
        source = plan.init_latents.get(row.request)
        if source is None:
            return row_noise
        level = float(plan.schedule.alphas_cumprod[row.start])
        noised = math.sqrt(level) * source + math.sqrt(1.0 - level) * row_noise
        return noised.astype(np.float32)


def _contexts(prompts: PromptEncoder, rows: list[Row], pad: int) -> Any:
    """(2 * bucket, 77, width): every row's negative context, then every row's prompt."""
    blank = [prompts.context("")] * pad
    negatives = [prompts.context(r.negative_prompt, "negative prompt") for r in rows]
    positives = [prompts.context(r.prompt) for r in rows]
    return ops.concatenate([*negatives, *blank, *positives, *blank], 0)


def _encode_init(model: CompiledModel, image: Pixels, width: int, height: int) -> Latents:
    from worker.engine.init_images import prepare  # Pillow, for img2img only

    pixels = prepare(image, width, height)[np.newaxis]
    return np.asarray(model.encode_image(ops.convert_to_tensor(pixels))[0])


def warm_tasks(
    sizes: Sequence[Size], buckets: Sequence[int], upscale_sizes: Sequence[Size] = ()
) -> list[WarmTask]:
    """Warm-up's programs in order: every bucket of each size, size by size, then each
    size's image encoder (bucket 0; img2img only), then each upscale size for one image
    and its encoder, last: upscaling is rarer, and a job of more images at such a size
    compiles its own program."""
    batches = [(w, h, bucket) for w, h in sizes for bucket in buckets]
    encoders = [(w, h, 0) for w, h in sizes]
    upscales = [(w, h, bucket) for w, h in upscale_sizes for bucket in (1, 0)]
    return batches + encoders + upscales


def _program(bucket: int) -> str:
    return f"{bucket} image(s)" if bucket else "the image encoder"


def _int(value: int) -> Any:
    """An int32 scalar tensor: a Python int would be traced into the program."""
    return ops.convert_to_tensor(value, "int32")


def _send_previews(rows: list[Row], x0: Latents, preview: PreviewFn) -> None:
    """The current x0 estimate of each request's rows, as colours (padding dropped)."""
    colours = latent_preview(x0[: len(rows)])
    owners = np.array([row.request for row in rows])
    for request in dict.fromkeys(row.request for row in rows):
        preview(request, colours[owners == request])
