"""The engine's contract, on the real architecture with random weights (noise, not
pictures: shapes, determinism, batching, progress, errors)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.engine.conftest import BACKEND, SIZE, STEPS
from tests.engine.helpers import ProgressLog, max_diff, request
from worker.engine import COMPILED_SUBDIR, GenerationCanceled
from worker.engine.engine import KerasEngine

pytestmark = pytest.mark.model


def test_shapes_and_dtype_for_every_count(engine: KerasEngine) -> None:
    # 1 + 2 + 3 + 4 = 10 images: batches of 4, 4 and 2 (bucket 2), split back per request.
    requests = [request(count=n, seed=n) for n in (1, 2, 3, 4)]
    images = engine.generate(requests)
    assert [image.shape for image in images] == [(n, SIZE[1], SIZE[0], 3) for n in (1, 2, 3, 4)]
    assert all(image.dtype == np.uint8 for image in images)


def test_same_seed_same_pixels_and_other_seeds_differ(engine: KerasEngine) -> None:
    first, again, other = (engine.generate([request(seed=seed)])[0] for seed in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert max_diff(first, other) > 10


def test_images_of_one_request_use_consecutive_seeds(engine: KerasEngine) -> None:
    pair = engine.generate([request(count=2, seed=40)])[0]
    second = engine.generate([request(seed=41)])[0]
    assert max_diff(pair[1:], second) <= 1
    assert max_diff(pair[:1], pair[1:]) > 10


def test_batched_requests_equal_the_same_requests_alone(engine: KerasEngine) -> None:
    a = request(prompt="a lighthouse at dusk", seed=3, guidance=7.5, sampler="dpmpp_2m")
    b = request(
        prompt="a bowl of ramen",
        negative_prompt="blurry",
        seed=99,
        guidance=4.0,
        count=2,
        sampler="dpmpp_2m",
    )
    together = engine.generate([a, b])
    alone = [engine.generate([a])[0], engine.generate([b])[0]]
    for batched, single in zip(together, alone, strict=True):
        assert max_diff(batched, single) <= 1


def test_progress_reports_every_step_and_false_cancels(engine: KerasEngine) -> None:
    progress = ProgressLog()
    engine.generate([request()], progress)
    assert progress.reports == [(0, STEPS), (1, STEPS), (2, STEPS)]

    calls: list[int] = []

    def stop_after_first_step(done: int, total: int) -> bool:
        calls.append(done)
        return done < 1

    with pytest.raises(GenerationCanceled):
        engine.generate([request()], stop_after_first_step)
    assert calls == [0, 1]


def test_one_unet_call_per_step_and_no_tracing_after_warm_up(engine: KerasEngine) -> None:
    traces = dict(engine.model.traces)
    unet_before = engine.model.unet_runs()
    engine.generate([request(prompt="a prompt never seen before", count=3, seed=5)])
    assert engine.model.unet_runs() - unet_before == STEPS
    assert dict(engine.model.traces) == traces


def test_too_long_prompt_is_refused_with_its_token_count(engine: KerasEngine) -> None:
    long_prompt = " ".join(["fox"] * 80)
    count = engine.count_tokens(long_prompt)
    assert count > 77
    with pytest.raises(ValueError, match=f"prompt is {count} tokens long"):
        engine.generate([request(prompt=long_prompt)])
    with pytest.raises(ValueError, match=f"negative prompt is {count} tokens long"):
        engine.generate([request(negative_prompt=long_prompt)])


def test_requests_that_cannot_share_a_call_are_refused(engine: KerasEngine) -> None:
    with pytest.raises(ValueError, match="share model, width, height, steps and sampler"):
        engine.generate([request(), request(steps=STEPS + 1)])
    with pytest.raises(ValueError, match="not one this worker compiled"):
        engine.generate([request(width=256)])
    with pytest.raises(ValueError, match="count must be between 1 and 4"):
        engine.generate([request(count=5)])


def test_several_steps_per_call_give_the_same_images(engine: KerasEngine) -> None:
    job = request(steps=3, sampler="dpmpp_2m", seed=17)
    one_per_call = engine.generate([job])[0]
    progress = ProgressLog()
    engine.steps_per_call = 2
    try:
        calls_before = engine.host_calls
        two_per_call = engine.generate([job], progress)[0]
        assert engine.host_calls - calls_before == 2
    finally:
        engine.steps_per_call = 1
    assert progress.reports == [(0, 3), (2, 3), (3, 3)]
    assert max_diff(one_per_call, two_per_call) <= 1


def test_warm_up_readies_the_first_size_then_finishes_in_the_background(
    engine: KerasEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="worker.engine.engine")
    engine.warm_up()
    assert engine.warming is not None
    engine.warming.join(timeout=300)
    assert not engine.warming.is_alive()
    messages = [record.getMessage() for record in caplog.records]
    buckets = len(engine.buckets)
    total = buckets + 1  # every bucket of the one size, then its image encoder
    # Each program says when it starts compiling, then when it is done.
    starts = [line for line in messages if ": compiling " in line]
    assert [line.split(":")[0] for line in starts] == [
        f"Warm-up {n}/{total}" for n in range(1, total + 1)
    ]
    lines = [line for line in messages if ": compiling " not in line]
    assert lines[buckets].startswith(f"Ready for {SIZE[0]}x{SIZE[1]} after ")
    for number, line in enumerate(lines[:buckets], 1):
        assert line.startswith(f"Warm-up {number}/{total}: compiled 128x128 for ")
    assert lines[-1].startswith(f"Warm-up {total}/{total}: compiled 128x128 for the image encoder")


def test_close_stops_the_background_warm_up_between_programs(
    engine: KerasEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker told to stop must not exit while the background warm-up is inside the
    backend (TensorFlow aborts the process): close stops it after its current program."""
    caplog.set_level(logging.INFO, logger="worker.engine.engine")
    other = KerasEngine(
        {"sd14": engine.model.parts},  # the same weights: no second UNet in memory
        sizes=[SIZE],
        precision=engine.precision,
        max_batch=1,
        steps_per_call=1,
        small_conv_pixels=engine.model.unet.small_conv_pixels,
        upscale_sizes=[(2 * SIZE[0], 2 * SIZE[1])],  # 3 programs left for the background
    )
    other.warm_up()
    other.close()
    assert other.warming is not None
    assert not other.warming.is_alive()
    stopped = [r.getMessage() for r in caplog.records if "Warm-up stopped" in r.getMessage()]
    assert len(stopped) == 1
    assert "(upscale)" not in caplog.text  # stopped before the upscale size's programs


@pytest.mark.skipif(BACKEND != "jax", reason="TensorFlow caches only XLA programs (GPU)")
def test_compiled_programs_are_kept_in_the_cache_folder(
    engine: KerasEngine, cache_dir: Path
) -> None:
    kept = [path for path in (cache_dir / COMPILED_SUBDIR / BACKEND).rglob("*") if path.is_file()]
    # The loop and the decoder for each bucket, the text encoder: at least.
    assert len(kept) >= 2 * len(engine.buckets) + 1


@pytest.mark.skipif(BACKEND != "jax", reason="on TensorFlow it is the backend")
def test_tensorflow_is_never_imported_on_jax(engine: KerasEngine) -> None:
    engine.generate([request()])
    assert "tensorflow" not in sys.modules
