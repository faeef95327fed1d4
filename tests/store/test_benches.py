"""The store's benchmarks run as the docs say and print their figures (tiny settings:
this checks that they work, not how fast anything is)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def bench(*args: str) -> str:
    command = [sys.executable, "-m", *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_queue_benchmark_moves_jobs_through_both_stores() -> None:
    out = bench("core.bench.queue", "--stores", "sqlite,redis", "--workers", "1", "--rounds", "1")
    for store in ("sqlite", "redis"):
        row = rf"\| {store} \| 1 \| (\d+) \| [\d.]+ ms \| [\d.]+ ms \|"
        found = re.search(row, out)
        assert found is not None, out
        assert int(found[1]) > 0, out


def test_the_purge_benchmark_gives_the_space_back() -> None:
    out = bench("core.bench.purge", "--jobs", "12", "--megabytes", "0.05")
    assert "12 jobs of 0.05 MB, 5 per batch" in out, out
    assert re.search(r"another connection's writes, ms: median [\d.]+", out), out
    sizes = re.search(r"file: (\d+) MB before, (\d+) MB after", out)
    assert sizes is not None, out
    assert int(sizes[2]) < int(sizes[1]), out
