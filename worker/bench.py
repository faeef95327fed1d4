"""`python -m worker.bench`: our engine against stock KerasCV, one run, one table.

Both sides run the same parts (the stock ``StableDiffusion`` object is handed the
engine's networks, so there is one UNet and no download) at the same size:

    python -m worker.bench --size 128x128 --steps 10 --vocab merges.txt.gz

Random weights by default (noise, not pictures; the speed is the same); ``--weights
download`` or a folder for the real ones. Counts are measured: UNet calls through a
counter on the stock model and an in-graph counter in ours.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from worker.engine import GenerationRequest, build_engine
from worker.engine.engine import KerasEngine

log = logging.getLogger("worker.bench")

PROMPT = "a photograph of an astronaut riding a horse"


class Row(NamedTuple):
    measure: str
    before: str
    after: str
    ratio: str = ""  # before / after for times, after / before for rates
    target: str = ""


class CountingModel:
    """Stands in for the stock pipeline's UNet and counts its calls (each one is also a
    host round trip: ``predict_on_batch`` returns NumPy)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.calls = 0

    def predict_on_batch(self, inputs: Any) -> Any:
        self.calls += 1
        return self.model.predict_on_batch(inputs)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker.bench", description=__doc__)
    parser.add_argument("--size", default="128x128", help="WIDTHxHEIGHT (default 128x128)")
    parser.add_argument("--steps", type=int, default=10, help="DDIM steps for both sides")
    parser.add_argument("--images", type=int, default=3, help="images per text_to_image call")
    parser.add_argument("--dpm-steps", type=int, default=25, help="our DPM-Solver++ steps")
    parser.add_argument("--stock-steps", type=int, default=50, help="stock steps to compare")
    parser.add_argument("--jobs", type=int, default=8, help="single-image jobs to batch")
    parser.add_argument("--weights", default="random", help="random, download or a folder")
    parser.add_argument("--vocab", type=Path, default=None, help="CLIP merges (.gz)")
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/worker"))
    parser.add_argument("--precision", default="auto")
    return parser.parse_args(argv)


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def stock_pipeline(engine: KerasEngine, job: GenerationRequest) -> tuple[Any, CountingModel]:
    import keras_cv

    jit = engine.precision.jit_compile
    stock = keras_cv.models.StableDiffusion(job.width, job.height, jit_compile=jit)
    parts = engine.model.parts
    if jit:  # what the stock pipeline does to the parts it builds itself
        for model in (parts.text_encoder, parts.diffusion_model, parts.decoder):
            model.compile(jit_compile=True)
    counter = CountingModel(parts.diffusion_model)
    stock._text_encoder = parts.text_encoder
    stock._diffusion_model = counter
    stock._decoder = parts.decoder
    stock._tokenizer = parts.tokenizer
    # Warm the stock side too: its predict functions trace per batch size.
    stock.text_to_image(PROMPT, batch_size=job.count, num_steps=2)
    return stock, counter


def compare_ddim(
    engine: KerasEngine, stock: Any, counter: CountingModel, job: GenerationRequest
) -> list[Row]:
    calls_before = counter.calls
    stock_s = timed(
        lambda: stock.text_to_image(job.prompt, batch_size=job.count, num_steps=job.steps)
    )
    stock_calls = (counter.calls - calls_before) / job.steps
    unet_before, host_before = int(engine.model.unet_calls.numpy()), engine.host_calls
    ours_s = timed(lambda: engine.generate([job]))
    ours_calls = (int(engine.model.unet_calls.numpy()) - unet_before) / job.steps
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


def machine() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = ", ".join(gpu.name for gpu in gpus) if gpus else "no GPU"
    return (
        f"{_cpu_model()} ({os.cpu_count()} cores), {device}, "
        f"TensorFlow {tf.__version__}, Python {platform.python_version()}"
    )


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def table(rows: Sequence[Row]) -> str:
    lines = ["| measure | before | after | gain | target |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    width, height = (int(side) for side in args.size.split("x"))
    engine = build_engine(
        args.weights,
        sizes=[(width, height)],
        vocab=args.vocab,
        cache_dir=args.cache_dir,
        precision=args.precision,
        max_batch=max(args.jobs, args.images),
    )
    assert isinstance(engine, KerasEngine)
    warm = engine.warm_up()
    job = GenerationRequest(PROMPT, "", args.images, args.steps, 7.5, 1, width, height, "ddim")
    rows: list[Row] = first_jobs(engine, job)
    stock, counter = stock_pipeline(engine, job)
    rows += compare_ddim(engine, stock, counter, job)
    dpm = replace(job, sampler="dpmpp_2m", steps=args.dpm_steps, prompt=f"{PROMPT}, at dawn")
    rows += compare_dpm(engine, stock, dpm, args.stock_steps)
    rows += compare_batching(engine, job, args.jobs)
    rows.append(Row("warm-up, every batch bucket: s", "", f"{warm:.1f}"))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    rows.append(Row("peak memory of the process (ru_maxrss): GB", "", f"{peak_gb:.1f}"))
    print(
        f"\n{args.size}, {engine.precision.policy}, XLA {engine.precision.jit_compile}, "
        f"batch buckets {engine.buckets}, {args.weights} weights; {machine()}\n"
    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
