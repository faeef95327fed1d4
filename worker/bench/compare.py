"""The main table's rows: same sampler, the sampler a user gets, batching, first jobs."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from worker.bench.stock import CountingModel, Row, timed
from worker.engine import GenerationRequest

if TYPE_CHECKING:
    from worker.engine.engine import KerasEngine


def compare_ddim(
    engine: KerasEngine, stock: Any, counter: CountingModel, job: GenerationRequest
) -> list[Row]:
    calls_before = counter.calls
    stock_s = timed(
        lambda: stock.text_to_image(job.prompt, batch_size=job.count, num_steps=job.steps)
    )
    stock_calls = (counter.calls - calls_before) / job.steps
    unet_before, host_before = engine.model.unet_runs(), engine.host_calls
    ours_s = timed(lambda: engine.generate([job]))
    ours_calls = (engine.model.unet_runs() - unet_before) / job.steps
    ours_trips = (engine.host_calls - host_before) / job.steps
    n = job.count
    return [
        Row(
            f"DDIM, {job.steps} steps, {n} images: s/image, stock -> ours",
            f"{stock_s / n:.2f}",
            f"{ours_s / n:.2f}",
            f"{stock_s / ours_s:.2f}x",
            ">= 1.5x",
        ),
        Row("UNet calls per step, stock -> ours", f"{stock_calls:g}", f"{ours_calls:g}"),
        Row("host round trips per step, stock -> ours", f"{stock_calls:g}", f"{ours_trips:g}"),
    ]


def compare_dpm(
    engine: KerasEngine, stock: Any, job: GenerationRequest, stock_steps: int
) -> list[Row]:
    stock_s = timed(
        lambda: stock.text_to_image(job.prompt, batch_size=job.count, num_steps=stock_steps)
    )
    ours_s = timed(lambda: engine.generate([job]))
    return [
        Row(
            f"stock DDIM {stock_steps} steps -> ours DPM++ 2M {job.steps}: s/image",
            f"{stock_s / job.count:.2f}",
            f"{ours_s / job.count:.2f}",
            f"{stock_s / ours_s:.2f}x",
            ">= 3x",
        )
    ]


def compare_batching(engine: KerasEngine, job: GenerationRequest, jobs: int) -> list[Row]:
    def singles(tag: str) -> list[GenerationRequest]:
        # Every job its own prompt, and new ones for each side: no cached text helps.
        return [
            replace(job, count=1, seed=job.seed + i, prompt=f"{job.prompt}, {tag} {i}")
            for i in range(jobs)
        ]

    alone = singles("alone")
    one_by_one = timed(lambda: [engine.generate([single]) for single in alone])
    together = singles("together")
    batched = timed(lambda: engine.generate(together))
    return [
        Row(
            f"{jobs} single-image jobs: images/s, one by one -> batched",
            f"{jobs / one_by_one:.3f}",
            f"{jobs / batched:.3f}",
            f"{one_by_one / batched:.2f}x",
            ">= 2x",
        )
    ]


def first_jobs(engine: KerasEngine, job: GenerationRequest) -> list[Row]:
    first = timed(lambda: engine.generate([replace(job, count=1, prompt="a first job")]))
    second = timed(lambda: engine.generate([replace(job, count=1, prompt="a second job")]))
    return [
        Row(
            "first job after warm-up -> second: s",
            f"{first:.2f}",
            f"{second:.2f}",
            f"{first / second:.2f}x",
            "<= 1.2x",
        )
    ]
