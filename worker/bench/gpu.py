"""`python -m worker.bench.gpu`: the GPU table, one command on a machine with JAX.

Needs only this repository and, beside JAX, ``pip install keras optree`` and
``pip install --no-deps keras-cv`` (KerasCV's Stable Diffusion files are loaded without
TensorFlow, worker/engine/kerascv.py). At 512x512 by default, with random weights (the
speed is the same as the real ones', no download); on a machine without internet, with
the tests' synthetic CLIP merges file (``tests.support.vocab.write_test_vocab``;
tokenizing speed is all it changes), as docs/engine.md shows:

    python -m worker.bench.gpu --vocab /tmp/merges.txt.gz

For each batch (1, 3, 4, 8 images): our engine at DPM-Solver++(2M) 25 steps and at
DDIM 50, and stock KerasCV's ``text_to_image`` at DDIM 50 on the same networks; the
seconds per call, per image, images per second and the process's peak GPU memory so
far (rows run smallest batch first, so each row's peak is its own). Warm-up (compiling
every batch bucket) is timed too.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worker.bench.stock import PROMPT
from worker.engine import GenerationRequest
from worker.engine.backend import select_backend
from worker.engine.request import MAX_COUNT

if TYPE_CHECKING:
    from worker.engine.engine import KerasEngine

HEADER = (
    "| batch | pipeline | s per call | s/image | images/s | peak GPU memory GB |",
    "|---|---|---|---|---|---|",
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker.bench.gpu", description=__doc__)
    parser.add_argument("--size", default="512x512", help="WIDTHxHEIGHT (default 512x512)")
    parser.add_argument("--batches", default="1,3,4,8", help="images per call")
    parser.add_argument("--dpm-steps", type=int, default=25)
    parser.add_argument("--ddim-steps", type=int, default=50, help="ours and stock")
    parser.add_argument("--no-stock", action="store_true", help="skip stock KerasCV")
    parser.add_argument("--weights", default="random", help="random, download or a folder")
    parser.add_argument(
        "--vocab", type=Path, default=None, help="CLIP merges (default: download KerasCV's)"
    )
    parser.add_argument("--precision", default="auto", help="auto: mixed_float16 on a GPU")
    parser.add_argument("--backend", default="jax", help="jax (default) or tensorflow")
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/worker"))
    return parser.parse_args(argv)


def requests(images: int, steps: int, sampler: str, size: tuple[int, int]) -> list[Any]:
    """`images` images as requests of at most MAX_COUNT (a job's limit), one batch."""
    counts = [MAX_COUNT] * (images // MAX_COUNT) + (
        [images % MAX_COUNT] if images % MAX_COUNT else []
    )
    return [
        GenerationRequest(PROMPT, "", count, steps, 7.5, 1 + i, *size, sampler)
        for i, count in enumerate(counts)
    ]


def peak_gpu_gb() -> str:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        stats = device.memory_stats() if device.platform == "gpu" else None
        return f"{stats['peak_bytes_in_use'] / 2**30:.1f}" if stats else "no GPU"
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return "no GPU"
    return f"{tf.config.experimental.get_memory_info('GPU:0')['peak'] / 2**30:.1f}"


def row(images: int, pipeline: str, seconds: float) -> str:
    return (
        f"| {images} | {pipeline} | {seconds:.2f} | {seconds / images:.3f} "
        f"| {images / seconds:.2f} | {peak_gpu_gb()} |"
    )


def stock_for(engine: KerasEngine, size: tuple[int, int]) -> Any:
    from worker.engine.kerascv import stable_diffusion

    width, height = size
    stock = stable_diffusion().StableDiffusion(width, height, jit_compile=True)
    parts = engine.model.parts
    stock._text_encoder, stock._diffusion_model = parts.text_encoder, parts.diffusion_model
    stock._decoder, stock._tokenizer = parts.decoder, parts.tokenizer
    return stock


def measure(engine: KerasEngine, args: argparse.Namespace, size: tuple[int, int]) -> list[str]:
    lines = []
    stock = None if args.no_stock else stock_for(engine, size)
    for images in (int(n) for n in args.batches.split(",")):
        for sampler, steps in (("dpmpp_2m", args.dpm_steps), ("ddim", args.ddim_steps)):
            engine.generate(requests(images, 1, sampler, size))  # the first run of a shape
            batch = requests(images, steps, sampler, size)
            started = time.perf_counter()
            engine.generate(batch)
            name = "DPM++ 2M" if sampler == "dpmpp_2m" else "DDIM"
            lines.append(row(images, f"ours, {name} {steps}", time.perf_counter() - started))
        if stock is not None:
            stock.text_to_image(PROMPT, batch_size=images, num_steps=1)  # compiles
            started = time.perf_counter()
            stock.text_to_image(PROMPT, batch_size=images, num_steps=args.ddim_steps)
            seconds = time.perf_counter() - started
            lines.append(row(images, f"stock KerasCV, DDIM {args.ddim_steps}", seconds))
        print(*lines[-3 if stock is not None else -2 :], sep="\n", flush=True)
    return lines


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    select_backend(args.backend)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    from worker.bench.__main__ import machine
    from worker.bench.stock import build

    width, height = (int(side) for side in args.size.split("x"))
    batches = [int(n) for n in args.batches.split(",")]
    started = time.monotonic()
    engine = build(args, args.precision, None, max(batches))
    built = time.monotonic() - started
    warm = engine.warm_up(background=False)
    print(f"\n{args.size}, {args.weights} weights, {engine.precision.policy}; {machine()}")
    print(f"built in {built:.1f} s; warm-up (buckets {engine.buckets}) {warm:.1f} s\n")
    print(*HEADER, sep="\n", flush=True)
    measure(engine, args, (width, height))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
