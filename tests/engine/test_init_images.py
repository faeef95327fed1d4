"""Preparing img2img sources with Pillow: modes, transparency, resize and crop."""

from __future__ import annotations

import numpy as np

from worker.engine.init_images import prepare, to_rgb


def test_transparent_pixels_become_white() -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red, but fully transparent
    np.testing.assert_array_equal(np.asarray(to_rgb(rgba)), np.full((4, 4, 3), 255))


def test_half_transparent_pixels_blend_with_white() -> None:
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 3] = 128  # black at half opacity
    assert abs(int(np.asarray(to_rgb(rgba))[0, 0, 0]) - 127) <= 1


def test_grey_and_single_channel_images_become_rgb() -> None:
    for grey in (np.full((3, 5), 80, np.uint8), np.full((3, 5, 1), 80, np.uint8)):
        np.testing.assert_array_equal(np.asarray(to_rgb(grey)), np.full((3, 5, 3), 80))
    grey_alpha = np.stack([np.full((3, 5), 80), np.full((3, 5), 255)], axis=-1).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(to_rgb(grey_alpha)), np.full((3, 5, 3), 80))


def test_prepare_covers_then_center_crops_without_stretching() -> None:
    # 300x100: red | green | blue thirds. Covering 128x128 keeps the green middle.
    wide = np.zeros((100, 300, 3), dtype=np.uint8)
    wide[:, :100, 0] = wide[:, 100:200, 1] = wide[:, 200:, 2] = 255
    out = prepare(wide, 128, 128)
    assert out.shape == (128, 128, 3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[64, 64], [-1.0, 1.0, -1.0], atol=1e-6)
    assert out.min() >= -1.0
    assert out.max() <= 1.0


def test_prepare_gives_the_requested_width_and_height() -> None:
    square = np.full((50, 50, 3), 200, dtype=np.uint8)
    assert prepare(square, 192, 128).shape == (128, 192, 3)
