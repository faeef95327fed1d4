"""Canvases for inpainting, zoom out and pan: sizes, which pixels are kept, where the
image lands, and bad input."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from core.canvas import masked_png, pan_png, split_mask, zoom_out_png

Pixels = npt.NDArray[np.uint8]


def png(pixels: Pixels) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def gradient(width: int, height: int) -> Pixels:
    """Every column and row its own colour, so a shifted image is easy to locate."""
    x = np.linspace(0, 255, width)[np.newaxis, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, np.newaxis].repeat(width, 1)
    return np.dstack([x, y, 255 - x]).round().astype(np.uint8)


def rgba(data: bytes) -> Pixels:
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGBA"
        return np.asarray(image)


def test_masked_png_keeps_black_and_redraws_white_at_the_requested_size() -> None:
    image = gradient(64, 64)
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[:, 32:] = 255  # redraw the right half
    canvas = rgba(masked_png(png(image), png(mask), (64, 64)))
    assert canvas.shape == (64, 64, 4)
    assert (canvas[:, :32, 3] == 255).all()
    assert (canvas[:, 32:, 3] == 0).all()
    np.testing.assert_array_equal(canvas[:, :, :3], image)  # the colour stays under alpha 0


def test_masked_png_resizes_a_mask_of_another_size_and_mode() -> None:
    mask = np.zeros((10, 20, 3), dtype=np.uint8)  # RGB, a fifth of the image's size
    mask[:, 10:] = 255
    canvas = rgba(masked_png(png(gradient(100, 50)), png(mask), (100, 50)))
    assert (canvas[:, :45, 3] == 255).all()
    assert (canvas[:, 55:, 3] == 0).all()


def test_masked_png_cover_resizes_and_crops_to_the_size() -> None:
    # A 200x100 image cropped to a square keeps its middle half: the redrawn strip in
    # its left quarter falls off.
    mask = np.zeros((100, 200), dtype=np.uint8)
    mask[:, :40] = 255
    canvas = rgba(masked_png(png(gradient(200, 100)), png(mask), (64, 64)))
    assert canvas.shape == (64, 64, 4)
    assert (canvas[:, :, 3] == 255).all()


def test_zoom_out_shrinks_the_image_into_the_centre() -> None:
    image = gradient(128, 96)
    canvas = rgba(zoom_out_png(png(image), 2.0))
    assert canvas.shape == (96, 128, 4)
    keep = canvas[:, :, 3] == 255
    rows, cols = np.nonzero(keep)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (24, 72, 32, 96)
    assert keep.sum() == 48 * 64  # the inner rectangle, nothing else
    assert set(np.unique(canvas[:, :, 3])) == {0, 255}
    inner = canvas[24:72, 32:96, :3]
    expected = np.asarray(Image.fromarray(image).resize((64, 48), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(inner, expected)
    # The border repeats the nearest edge of the shrunk image.
    np.testing.assert_array_equal(canvas[0, 32:96, :3], inner[0])
    np.testing.assert_array_equal(canvas[40, 0, :3], inner[16, 0])


def test_zoom_out_keeps_sides_on_the_latent_grid() -> None:
    canvas = rgba(zoom_out_png(png(gradient(512, 512))))  # 1.5x: 341.3 px rounds to 344
    keep = canvas[:, :, 3] == 255
    rows, cols = np.nonzero(keep)
    for start, end in ((rows.min(), rows.max() + 1), (cols.min(), cols.max() + 1)):
        assert start % 8 == 0
        assert end - start == 344


@pytest.mark.parametrize("factor", [1.0, 0.5, float("nan")])
def test_zoom_out_refuses_a_factor_that_does_not_shrink(factor: float) -> None:
    with pytest.raises(ValueError, match="zoom factor"):
        zoom_out_png(png(gradient(64, 64)), factor)


@pytest.mark.parametrize(
    ("side", "new", "old"),
    [
        # (which canvas pixels are new, where the image's first 80 px of the axis land)
        ("left", np.s_[:, :40], np.s_[:, 40:]),
        ("right", np.s_[:, 80:], np.s_[:, :80]),
        ("up", np.s_[:40, :], np.s_[40:, :]),
        ("down", np.s_[80:, :], np.s_[:80, :]),
    ],
)
def test_pan_slides_the_image_away_from_the_side(side: str, new: object, old: object) -> None:
    image = gradient(120, 120)
    canvas = rgba(pan_png(png(image), side))
    assert canvas.shape == (120, 120, 4)
    assert (canvas[new][..., 3] == 0).all()
    assert (canvas[old][..., 3] == 255).all()
    # A third (40 px) slid: the kept part is the image's part nearest the new area.
    expected = {"left": image[:, :80], "right": image[:, 40:], "up": image[:80], "down": image[40:]}
    np.testing.assert_array_equal(canvas[old][..., :3], expected[side])


def test_pan_fills_the_new_area_with_the_edge_colours() -> None:
    image = gradient(96, 64)
    canvas = rgba(pan_png(png(image), "left"))
    new = canvas[:, :32, :3]
    np.testing.assert_array_equal(new, np.repeat(image[:, :1], 32, axis=1))


def test_pan_refuses_an_unknown_side() -> None:
    with pytest.raises(ValueError, match="Pan to one of"):
        pan_png(png(gradient(64, 64)), "sideways")


def test_split_mask_inverts_alpha_into_a_redraw_mask() -> None:
    pixels = np.dstack([gradient(32, 16), np.full((16, 32), 255, np.uint8)])
    pixels[:, :8, 3] = 0
    pixels[:, 8:16, 3] = 64
    rgb, redraw = split_mask(png(pixels))
    assert rgb.shape == (16, 32, 3)
    assert redraw.shape == (16, 32)
    assert rgb.dtype == redraw.dtype == np.uint8
    np.testing.assert_array_equal(rgb, pixels[:, :, :3])
    assert (redraw[:, :8] == 255).all()
    assert (redraw[:, 8:16] == 191).all()
    assert (redraw[:, 16:] == 0).all()


def test_split_mask_of_an_opaque_png_keeps_everything() -> None:
    _, redraw = split_mask(png(gradient(16, 16)))
    assert not redraw.any()


def test_a_canvas_round_trips_through_split_mask() -> None:
    rgb, redraw = split_mask(pan_png(png(gradient(64, 64)), "right"))
    assert (redraw[:, 48:] == 255).all()
    assert not redraw[:, :40].any()
    assert rgb.shape == (64, 64, 3)


@pytest.mark.parametrize(
    "call",
    [
        lambda bad: masked_png(bad, png(gradient(8, 8)), (64, 64)),
        lambda bad: masked_png(png(gradient(8, 8)), bad, (64, 64)),
        lambda bad: zoom_out_png(bad),
        lambda bad: pan_png(bad, "left"),
        split_mask,
    ],
)
def test_a_file_that_is_not_an_image_is_one_sentence(call: object) -> None:
    with pytest.raises(ValueError, match=r"^The (image|mask|canvas) is not an image file .*\.$"):
        call(b"\x89PNG\r\n\x1a\n truncated")  # type: ignore[operator]


def test_an_image_too_small_for_a_canvas_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16x16"):
        zoom_out_png(png(gradient(12, 40)))
