"""The source documents' table (standard, mixed precision, XLA, XLA + mixed precision)
for stock KerasCV and for our engine.

Each variant runs in a child process (``python -m worker.bench.variants``): the parts
are built under a global dtype policy, and a process that built four 3.4 GB UNets one
after another does not give their memory back (measured: killed at 24 GB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from worker.bench.stock import PROMPT, build, default_backend, stock_pipeline, timed
from worker.engine import GenerationRequest

if TYPE_CHECKING:
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


def pick(names: str, backend: str = "tensorflow") -> list[int]:
    """``all``, ``none`` or comma-separated numbers of VARIANTS (1 = Standard). On JAX,
    which always compiles with XLA, ``all`` is the two XLA variants."""
    if names == "all":
        numbers = range(1, len(VARIANTS) + 1)
        return [n for n in numbers if backend == "tensorflow" or VARIANTS[n - 1].jit_compile]
    if names == "none":
        return []
    return [int(number) for number in names.split(",")]


def variant_table(
    numbers: Sequence[int], common: Sequence[str], images: int, steps: int
) -> Iterator[str]:
    """Runs each variant in its own process (`common`: the arguments they share) and
    yields the table line by line, as the measurements come in."""
    yield (
        f"| variant | stock s ({images} images, {steps} steps) | ours s | gain "
        "| published stock s (A100, 512x512, 50 steps) |"
    )
    yield "|---|---|---|---|---|"
    for number in numbers:
        variant = VARIANTS[number - 1]
        command = [sys.executable, "-m", "worker.bench.variants", str(number), *common]
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        times = json.loads(done.stdout.strip().splitlines()[-1])
        stock_s, ours_s = times["stock"], times["ours"]
        yield (
            f"| {variant.name} | {stock_s:.2f} | {ours_s:.2f} | {stock_s / ours_s:.2f}x "
            f"| {variant.published_s:.2f} |"
        )


def measure(engine: KerasEngine, job: GenerationRequest) -> tuple[float, float]:
    """Seconds for one text_to_image call and one engine call, both warmed first (with
    XLA, the first call of each compiles)."""
    engine.generate([replace(job, steps=1)])
    stock, _ = stock_pipeline(engine, job)
    stock_s = timed(
        lambda: stock.text_to_image(job.prompt, batch_size=job.count, num_steps=job.steps)
    )
    ours_s = timed(lambda: engine.generate([job]))
    return stock_s, ours_s


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.bench.variants")
    parser.add_argument("variant", type=int, help="1 standard, 2 mixed, 3 XLA, 4 both")
    parser.add_argument("--size", default="128x128")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--weights", default="random")
    parser.add_argument("--vocab", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/worker"))
    parser.add_argument("--backend", default=default_backend())
    args = parser.parse_args(argv)
    variant = VARIANTS[args.variant - 1]
    width, height = (int(side) for side in args.size.split("x"))
    engine = build(args, variant.policy, variant.jit_compile, args.images)
    job = GenerationRequest(PROMPT, "", args.images, args.steps, 7.5, 1, width, height, "ddim")
    stock_s, ours_s = measure(engine, job)
    print(json.dumps({"stock": stock_s, "ours": ours_s}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
