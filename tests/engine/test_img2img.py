"""img2img on the real architecture: shapes, strength 0, determinism, mixed batches."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from keras import ops

from tests.engine.conftest import SIZE
from tests.engine.helpers import ProgressLog, max_diff, request
from worker.engine.engine import KerasEngine
from worker.engine.init_images import prepare

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def source() -> npt.NDArray[np.uint8]:
    """An RGBA image of another size and aspect than the request's."""
    return np.random.default_rng(5).integers(0, 256, (90, 150, 4), dtype=np.uint8)


def test_img2img_shapes_and_determinism(engine: KerasEngine, source: npt.NDArray[np.uint8]) -> None:
    job = request(init_image=source, strength=0.5, count=2, seed=11)
    first, again = engine.generate([job])[0], engine.generate([job])[0]
    assert first.shape == (2, SIZE[1], SIZE[0], 3)
    assert first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert max_diff(first[0], first[1]) > 10  # seeds 11 and 12 noise the source differently


def test_strength_zero_returns_the_decoded_source(
    engine: KerasEngine, source: npt.NDArray[np.uint8]
) -> None:
    progress = ProgressLog()
    image = engine.generate([request(init_image=source, strength=0.0)], progress)[0]
    latent = engine.model.encode_image(ops.convert_to_tensor(prepare(source, *SIZE)[np.newaxis]))
    decoded = np.asarray(engine.model.decode(latent))
    assert max_diff(image, decoded) <= 1
    assert progress.reports == [(0, 0)]  # no denoising step ran


def test_img2img_and_text_to_image_share_a_batch(
    engine: KerasEngine, source: npt.NDArray[np.uint8]
) -> None:
    # Four DPM-Solver++ steps: the text rows take all four (second order from the second
    # on); the img2img row starts at step 2 and takes its own first step at first order.
    text = request(sampler="dpmpp_2m", steps=4, seed=21)
    edit = request(sampler="dpmpp_2m", steps=4, seed=22, init_image=source, strength=0.5)
    together = engine.generate([text, edit])
    alone = [engine.generate([text])[0], engine.generate([edit])[0]]
    for batched, single in zip(together, alone, strict=True):
        assert max_diff(batched, single) <= 1
