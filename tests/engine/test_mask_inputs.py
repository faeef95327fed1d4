"""Masks and upscale sizes before the model: the mask at latent resolution, the request
checks, and the warm-up order. No model is built."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.helpers import request
from worker.engine.engine import warm_tasks
from worker.engine.init_images import prepare_mask
from worker.engine.request import check_request


def test_a_mask_becomes_the_share_of_each_latent_cell_to_redraw() -> None:
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[:, :16] = 255  # two whole cells wide
    mask[:, 16:20] = 255  # half of the third cell
    mask[:2, 40:48] = 255  # 2 of a cell's 8 rows
    cells = prepare_mask(mask, 64, 64)
    assert cells.shape == (8, 8, 1)
    assert cells.dtype == np.float32
    np.testing.assert_array_equal(cells[:, :2, 0], 1.0)
    np.testing.assert_allclose(cells[:, 2, 0], 0.5)
    assert cells[0, 5, 0] == pytest.approx(0.25)
    assert cells[1:, 3:, 0].max() == 0.0


def test_a_mask_is_fitted_like_its_image() -> None:
    # 300x100, redraw the left third. Covering 128x128 keeps the middle third of the
    # width (100 of 300 px, scaled to 128): nothing of the left third is left.
    mask = np.zeros((100, 300), dtype=np.uint8)
    mask[:, :90] = 255
    assert prepare_mask(mask, 128, 128).max() == 0.0
    # Redrawing the middle third instead redraws everything.
    mask = np.zeros((100, 300), dtype=np.uint8)
    mask[:, 90:210] = 255
    np.testing.assert_array_equal(prepare_mask(mask, 128, 128), 1.0)


def test_a_mask_needs_an_init_image_of_its_size() -> None:
    image = np.zeros((90, 150, 3), dtype=np.uint8)
    sizes = [(128, 128)]
    check_request(request(init_image=image, mask=np.zeros((90, 150), np.uint8)), sizes)
    with pytest.raises(ValueError, match="A mask needs an init_image"):
        check_request(request(mask=np.zeros((128, 128), np.uint8)), sizes)
    with pytest.raises(ValueError, match="of the init image's size"):
        check_request(request(init_image=image, mask=np.zeros((150, 90), np.uint8)), sizes)
    with pytest.raises(ValueError, match="must be uint8"):
        check_request(request(init_image=image, mask=np.zeros((90, 150), np.float32)), sizes)


def test_upscale_sizes_warm_up_last_for_one_image() -> None:
    sizes, buckets = [(128, 128), (192, 128)], (1, 2, 3, 4)
    tasks = warm_tasks(sizes, buckets, [(256, 256), (384, 256)])
    plain = warm_tasks(sizes, buckets)
    assert tasks[: len(plain)] == plain  # everything else first, in its usual order
    assert tasks[len(plain) :] == [(256, 256, 1), (256, 256, 0), (384, 256, 1), (384, 256, 0)]
