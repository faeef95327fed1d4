"""Masked latent blending on the real architecture (inpainting, zoom out, pan): kept
cells end at the encoded source, a full mask is plain img2img, the blend against a
NumPy reference step by step, masked and unmasked rows in one batch and one program,
and a 2x upscale size compiled on demand."""

from __future__ import annotations

import logging
from collections import Counter

import keras
import numpy as np
import numpy.typing as npt
import pytest

from tests.engine.conftest import SIZE
from tests.engine.helpers import max_diff, request
from worker.engine.compiled import Blend, step_table
from worker.engine.engine import KerasEngine
from worker.engine.init_images import prepare
from worker.engine.previews import latent_preview
from worker.engine.request import check_batch
from worker.engine.rows import latent_shape, noise
from worker.engine.samplers import karras_schedule

pytestmark = pytest.mark.model

Array = npt.NDArray[np.float64]
WIDTH, HEIGHT = SIZE
CELLS = latent_shape(*SIZE)[:2]


@pytest.fixture(scope="module")
def source() -> npt.NDArray[np.uint8]:
    return np.random.default_rng(9).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def known(engine: KerasEngine, source: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The source's latent, as the engine encodes it."""
    pixels = keras.ops.convert_to_tensor(prepare(source, *SIZE)[np.newaxis])
    return np.asarray(engine.model.encode_image(pixels))[0]


def left_half() -> npt.NDArray[np.uint8]:
    """Redraw the left half: latent columns 0-7 fully, the rest not at all."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[:, : WIDTH // 2] = 255
    return mask


def test_a_mask_that_keeps_everything_returns_the_encoded_source(
    engine: KerasEngine,
    decoded: list[npt.NDArray[np.float32]],
    source: npt.NDArray[np.uint8],
    known: npt.NDArray[np.float32],
) -> None:
    keep = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    engine.generate([request(init_image=source, mask=keep, strength=1.0, sampler="dpmpp_2m")])
    np.testing.assert_array_equal(decoded[-1][0], known)


def test_a_mask_that_redraws_everything_is_plain_img2img(
    engine: KerasEngine, decoded: list[npt.NDArray[np.float32]], source: npt.NDArray[np.uint8]
) -> None:
    plain = request(init_image=source, strength=0.5)
    everything = np.full((HEIGHT, WIDTH), 255, dtype=np.uint8)
    engine.generate([plain])
    engine.generate([request(init_image=source, strength=0.5, mask=everything)])
    np.testing.assert_array_equal(decoded[1], decoded[0])


def test_kept_cells_end_at_the_source_and_redrawn_cells_do_not(
    engine: KerasEngine,
    decoded: list[npt.NDArray[np.float32]],
    source: npt.NDArray[np.uint8],
    known: npt.NDArray[np.float32],
) -> None:
    engine.generate([request(init_image=source, mask=left_half(), strength=1.0, count=2)])
    half = CELLS[1] // 2
    for latent in decoded[-1]:
        np.testing.assert_array_equal(latent[:, half:], known[:, half:])
        # Redrawn: nowhere near the source (random weights draw something else).
        assert np.abs(latent[:, :half] - known[:, :half]).mean() > 0.1
    assert np.abs(decoded[-1][0] - decoded[-1][1])[:, :half].mean() > 0.01  # own seeds


# The blend against NumPy, step by step. Row 0 is masked with every kind of cell (kept,
# a quarter and half redrawn, redrawn); row 1 has no mask (mask 1).
STEPS = 3
ROWS = 2
SEEDS = (51, 52)
# float32 against float64 over one step's blend (measured about 5e-7).
TOLERANCE = 1e-5


def cell_mask() -> npt.NDArray[np.float32]:
    mask = np.ones((ROWS, *CELLS, 1), dtype=np.float32)
    mask[0, :, :4] = 0.0
    mask[0, :, 4:8] = 0.25
    mask[0, :, 8:12] = 0.5
    return mask


def reference_blend(
    x_free: Array, known: Array, mask: Array, row_noise: Array, level: float
) -> Array:
    """The blend written out: kept cells at the known latent noised to `level` (a_t)."""
    kept = np.sqrt(level) * known + np.sqrt(1.0 - level) * row_noise
    return mask * x_free + (1.0 - mask) * kept


def test_every_step_blends_at_the_level_it_lands_on(
    engine: KerasEngine, known: npt.NDArray[np.float32]
) -> None:
    schedule = karras_schedule(STEPS)
    table = step_table(schedule, 2)
    tensor = keras.ops.convert_to_tensor
    blank, prompt = (engine._prompts["sd14"].context(text) for text in ("", "a quiet harbour"))
    contexts = keras.ops.concatenate([blank, blank, prompt, prompt], 0)
    noises = np.stack([noise(seed, latent_shape(*SIZE)) for seed in SEEDS])
    knowns = np.stack([known, np.zeros_like(known)])
    mask = cell_mask()
    blend = Blend(tensor(knowns), tensor(mask), tensor(noises))
    free = Blend(tensor(np.zeros_like(knowns)), tensor(np.ones_like(mask)), tensor(noises))

    def step(x: Array, memory: Array, i: int, masks: Blend) -> tuple[Array, Array]:
        out, x0, _ = engine.model.denoise(
            tensor(x, "float32"),
            tensor(memory, "float32"),
            contexts,
            tensor([7.5, 7.5], "float32"),
            tensor([0, 0], "int32"),
            table,
            tensor(i, "int32"),
            tensor(1, "int32"),
            masks,
        )
        return np.asarray(out, np.float64), np.asarray(x0, np.float64)

    x, memory = noises.astype(np.float64), np.zeros_like(noises, np.float64)
    for i in range(STEPS):
        x_free, x0 = step(x, memory, i, free)  # the same step without a mask
        x_blend, _ = step(x, memory, i, blend)
        landing = schedule.alphas_cumprod[i + 1]  # 1.0 after the last step
        expected = reference_blend(x_free, knowns, mask, noises, landing)
        np.testing.assert_allclose(x_blend, expected, rtol=TOLERANCE, atol=TOLERANCE)
        np.testing.assert_array_equal(x_blend[1], x_free[1])  # mask 1: untouched
        # The level the step started from is the wrong one, and is told apart.
        wrong = reference_blend(x_free, knowns, mask, noises, schedule.alphas_cumprod[i])
        assert np.abs(x_blend - wrong).max() > 100 * TOLERANCE
        x, memory = x_blend, x0
    np.testing.assert_array_equal(x[0][:, :4], known[:, :4])  # the clean level: exact


def test_masked_and_unmasked_rows_share_a_batch_and_a_program(
    engine: KerasEngine, source: npt.NDArray[np.uint8], known: npt.NDArray[np.float32]
) -> None:
    traces = Counter(engine.model.traces)
    text = request(sampler="dpmpp_2m", steps=3, seed=61)
    edit = request(sampler="dpmpp_2m", steps=3, seed=62, init_image=source, strength=0.7)
    inpaint = request(
        sampler="dpmpp_2m", steps=3, seed=63, init_image=source, mask=left_half(), strength=1.0
    )
    together = engine.generate([text, inpaint, edit])
    alone = [engine.generate([job])[0] for job in (text, inpaint, edit)]
    for batched, single in zip(together, alone, strict=True):
        assert max_diff(batched, single) <= 1
    assert engine.model.traces == traces  # one program for masked and unmasked rows


def test_an_upscale_size_is_offered_and_compiles_on_demand(
    engine: KerasEngine, caplog: pytest.LogCaptureFixture
) -> None:
    double = (2 * WIDTH, 2 * HEIGHT)
    upscaling = KerasEngine(
        {"sd14": engine.model.parts},  # the same weights: no second UNet in memory
        sizes=[SIZE],
        precision=engine.precision,
        max_batch=engine.max_batch,
        steps_per_call=1,
        small_conv_pixels=engine.model.unet.small_conv_pixels,
        upscale_sizes=[double],
    )
    assert upscaling.sizes == (SIZE, double)
    tasks = upscaling._warm_tasks()
    assert tasks[-2:] == [("sd14", *double, 1), ("sd14", *double, 0)]
    assert all(bucket in (0, 1) for _, w, h, bucket in tasks if (w, h) == double)
    big = request(width=double[0], height=double[1], steps=1)
    check_batch([big], upscaling.sizes)
    with pytest.raises(ValueError, match="not one this worker compiled"):
        check_batch([big], engine.sizes)
    with caplog.at_level(logging.INFO, logger="worker.engine.engine"):
        [image] = upscaling.generate([big])
    assert image.shape == (1, double[1], double[0], 3)
    assert f"Compiling {double[0]}x{double[1]} for 1 image(s) of sd14 for this job" in caplog.text


def test_previews_show_the_kept_cells_as_the_source(
    engine: KerasEngine,
    decoded: list[npt.NDArray[np.float32]],
    source: npt.NDArray[np.uint8],
    known: npt.NDArray[np.float32],
) -> None:
    shown: list[npt.NDArray[np.uint8]] = []
    job = request(init_image=source, mask=left_half(), strength=1.0)
    engine.generate([job], preview=lambda _, colours: shown.append(colours.copy()))
    half = CELLS[1] // 2
    np.testing.assert_array_equal(shown[0][0][:, half:], latent_preview(known)[:, half:])
    np.testing.assert_array_equal(shown[-1], latent_preview(decoded[-1]))  # what is decoded
