"""The source documents' table (standard, mixed precision, XLA, XLA + mixed precision)
for stock KerasCV and for our engine, each variant on its own freshly built parts."""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import NamedTuple

from worker.bench.stock import stock_pipeline, timed
from worker.engine import GenerationRequest
from worker.engine.engine import KerasEngine


class Variant(NamedTuple):
    name: str
    policy: str
    jit_compile: bool
    published_s: float  # the source documents: 3 images, 512x512, 50 steps, A100


VARIANTS = (
    Variant("Standard", "float32", False, 10.57),
    Variant("Mixed precision", "mixed_float16", False, 6.65),
    Variant("XLA", "float32", True, 10.63),
    Variant("XLA + mixed precision", "mixed_float16", True, 6.66),
)

Builder = Callable[[Variant], KerasEngine]


def pick(names: str) -> list[Variant]:
    """``all``, ``none`` or comma-separated indexes into VARIANTS (1 = Standard)."""
    if names == "all":
        return list(VARIANTS)
    if names == "none":
        return []
    return [VARIANTS[int(index) - 1] for index in names.split(",")]


def variant_table(build: Builder, job: GenerationRequest, variants: Sequence[Variant]) -> str:
    lines = [
        f"| variant | stock s ({job.count} images, {job.steps} steps) | ours s | gain "
        "| published stock s (A100, 512x512, 50 steps) |",
        "|---|---|---|---|---|",
    ]
    for variant in variants:
        stock_s, ours_s = _measure(build(variant), job)
        gc.collect()  # the variant's parts go before the next one is built
        lines.append(
            f"| {variant.name} | {stock_s:.2f} | {ours_s:.2f} | {stock_s / ours_s:.2f}x "
            f"| {variant.published_s:.2f} |"
        )
    return "\n".join(lines)


def _measure(engine: KerasEngine, job: GenerationRequest) -> tuple[float, float]:
    """Seconds for one text_to_image call and one engine call, both warmed first (with
    XLA, the first call of each compiles)."""
    engine.generate([replace(job, steps=1)])
    stock, _ = stock_pipeline(engine, job)
    stock_s = timed(
        lambda: stock.text_to_image(job.prompt, batch_size=job.count, num_steps=job.steps)
    )
    ours_s = timed(lambda: engine.generate([job]))
    return stock_s, ours_s
