"""Entry point of the benchmark; see the package's docstring."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import resource
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from worker import bench
from worker.bench.compare import compare_batching, compare_ddim, compare_dpm, first_jobs
from worker.bench.stock import PROMPT, Row, build, default_backend, stock_pipeline
from worker.bench.variants import pick, variant_table
from worker.engine import GenerationRequest
from worker.engine.backend import select_backend

if TYPE_CHECKING:  # Keras loads only after the backend is chosen
    from worker.engine.engine import KerasEngine

# Passed on to each variant's process.
VARIANT_ARGS = ("size", "images", "weights", "vocab", "cache-dir", "backend")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker.bench", description=bench.__doc__)
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
    parser.add_argument(
        "--backend",
        default=default_backend(),
        help="tensorflow or jax (default: IMAGINE_BACKEND, else tensorflow)",
    )
    parser.add_argument(
        "--variants",
        default="all",
        help="source documents' variants to measure: all, none or e.g. 1,3 (1 = standard)",
    )
    parser.add_argument(
        "--variant-steps", type=int, default=None, help="steps for the variants (--steps)"
    )
    return parser.parse_args(argv)


def machine() -> str:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        gpus = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
        framework = f"JAX {jax.__version__}"
    else:
        import tensorflow as tf

        gpus = [gpu.name for gpu in tf.config.list_physical_devices("GPU")]
        framework = f"TensorFlow {tf.__version__}"
    device = ", ".join(gpus) if gpus else "no GPU"
    return (
        f"{_cpu_model()} ({os.cpu_count()} cores), {device}, {framework}, "
        f"Keras {keras.__version__}, Python {platform.python_version()}"
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
    select_backend(args.backend)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    print(f"\n{args.size}, {args.weights} weights; {machine()}", flush=True)
    _print_variants(args)  # first, while this process holds no model
    width, height = (int(side) for side in args.size.split("x"))
    engine = build(args, args.precision, None, max(args.jobs, args.images))
    warm = engine.warm_up(background=False)
    job = GenerationRequest(PROMPT, "", args.images, args.steps, 7.5, 1, width, height, "ddim")
    rows = _main_rows(engine, job, args, warm)
    print(
        f"\nOur engine against stock, {engine.precision.policy}, "
        f"XLA {engine.precision.jit_compile}, batch buckets {engine.buckets}:\n"
    )
    print(table(rows))
    return 0


def _print_variants(args: argparse.Namespace) -> None:
    variants = pick(args.variants, args.backend)
    if not variants:
        return
    steps = args.variant_steps or args.steps
    given = {name: getattr(args, name.replace("-", "_")) for name in VARIANT_ARGS}
    common = [f"--{name}={value}" for name, value in given.items() if value is not None]
    print("\nThe source documents' variants, each in its own process:\n", flush=True)
    for line in variant_table(variants, [*common, f"--steps={steps}"], args.images, steps):
        print(line, flush=True)


def _main_rows(
    engine: KerasEngine, job: GenerationRequest, args: argparse.Namespace, warm: float
) -> list[Row]:
    rows = first_jobs(engine, job)
    stock, counter = stock_pipeline(engine, job)
    rows += compare_ddim(engine, stock, counter, job)
    dpm = replace(job, sampler="dpmpp_2m", steps=args.dpm_steps, prompt=f"{PROMPT}, at dawn")
    rows += compare_dpm(engine, stock, dpm, args.stock_steps)
    rows += compare_batching(engine, job, args.jobs)
    rows.append(Row("warm-up, every batch bucket: s", "", f"{warm:.1f}"))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    rows.append(Row("peak memory of the process (ru_maxrss): GB", "", f"{peak_gb:.1f}"))
    return rows


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
