"""The benchmark runs as the docs say and prints both tables (tiny settings: this checks
that it works, not how fast anything is)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model


def test_the_benchmark_prints_the_variant_and_the_main_tables(vocab: Path, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "worker.bench",
        *("--size", "128x128", "--steps", "1", "--dpm-steps", "1", "--stock-steps", "2"),
        *("--images", "1", "--jobs", "2", "--variants", "1", "--variant-steps", "1"),
        *("--vocab", str(vocab), "--cache-dir", str(tmp_path)),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"\| Standard \| [\d.]+ \| [\d.]+ \| [\d.]+x \| 10\.57 \|", out), out
    assert "| UNet calls per step, stock -> ours | 2 | 1 |" in out, out
    for measure in (
        "DDIM, 1 steps, 1 images",
        "stock DDIM 2 steps -> ours DPM++ 2M 1",
        "2 single-image jobs",
        "first job after warm-up",
        "peak memory",
    ):
        assert f"| {measure}" in out, out
