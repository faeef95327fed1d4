"""`python -m worker.bench.warmup`: warm-up with an empty compilation cache, then again
in a new process with the cache the first one filled (what a restarted worker sees).

    python -m worker.bench.warmup --backend jax --size 128x128 --vocab /tmp/merges.txt.gz

Each run is its own process (a fresh backend, nothing compiled in memory) building the
engine with random weights, then ``warm_up`` of every size
and bucket in the foreground. TensorFlow caches only XLA programs: pass
``--jit-compile`` there (its CPU default compiles nothing with XLA).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker.bench.warmup", description=__doc__)
    parser.add_argument("--backend", default="jax", help="jax (default) or tensorflow")
    parser.add_argument("--size", default="128x128", help="WIDTHxHEIGHT, or several: a,b")
    parser.add_argument("--max-batch", type=int, default=4)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit-compile", action="store_true", help="XLA on TensorFlow")
    parser.add_argument("--vocab", type=Path, default=None, help="CLIP merges (.gz)")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def child(args: argparse.Namespace) -> int:
    """One start: build, warm up everything, print the seconds as JSON."""
    from worker.engine import build_engine

    assert args.child is not None
    sizes = [tuple(int(side) for side in size.split("x")) for size in args.size.split(",")]
    engine = build_engine(
        "random",
        sizes=sizes,  # type: ignore[arg-type]
        vocab=args.vocab,
        cache_dir=args.child,
        precision=args.precision,
        max_batch=args.max_batch,
        jit_compile=True if args.jit_compile else None,
        backend=args.backend,
    )
    from worker.engine.engine import KerasEngine

    assert isinstance(engine, KerasEngine)
    print(json.dumps({"warm_up_s": engine.warm_up(background=False)}))
    return 0


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.child is not None:
        return child(args)
    with tempfile.TemporaryDirectory() as folder:
        times = []
        for run in ("cold", "cached"):
            began = time.monotonic()
            command = [sys.executable, "-m", "worker.bench.warmup", *argv, "--child", folder]
            done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
            seconds = json.loads(done.stdout.strip().splitlines()[-1])["warm_up_s"]
            times.append(seconds)
            print(f"{run}: warm-up {seconds:.1f} s (process {time.monotonic() - began:.1f} s)")
        cached = sum(1 for _ in (Path(folder) / "compiled").rglob("*") if _.is_file())
    print(
        f"| {args.backend} | {args.size} | {times[0]:.1f} | {times[1]:.1f} "
        f"| {times[0] / times[1]:.1f}x | {cached} files |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
