"""Masked sources: an RGBA PNG whose alpha is the keep-mask (255 = keep this pixel, 0 =
redraw it). Inpainting, zoom out and pan all hand the worker one of these."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from core.images import encode_png

_SIDES = ("left", "right", "up", "down")


def masked_png(image_png: bytes, mask_png: bytes, size: tuple[int, int]) -> bytes:
    """Inpainting: the image cover-resized to `size`, its alpha the inverse of the mask
    (white = redraw), the mask resized to the image first."""
    with Image.open(io.BytesIO(image_png)) as opened:
        image = opened.convert("RGB")
    with Image.open(io.BytesIO(mask_png)) as opened:
        redraw = opened.convert("L").resize(image.size, Image.Resampling.BILINEAR)
    image.putalpha(ImageOps.invert(redraw))
    return encode_png(ImageOps.fit(image, size, Image.Resampling.LANCZOS))


def zoom_out_png(image_png: bytes, factor: float = 1.5) -> bytes:
    """The image shrunk by `factor` in the middle of a same-size canvas; the border is
    transparent (to be drawn)."""
    image = _rgba(image_png)
    inner = (_multiple_of_8(image.width / factor), _multiple_of_8(image.height / factor))
    canvas = Image.new("RGBA", image.size, (0, 0, 0, 0))
    corner = ((image.width - inner[0]) // 2, (image.height - inner[1]) // 2)
    canvas.paste(image.resize(inner, Image.Resampling.LANCZOS), corner)
    return encode_png(canvas)


def pan_png(image_png: bytes, side: str) -> bytes:
    """The image slid a third of the way away from `side`; the third it uncovers, at
    `side`, is transparent."""
    if side not in _SIDES:
        raise ValueError(f"side must be one of {_SIDES}, not {side!r}")
    image = _rgba(image_png)
    dx = _multiple_of_8(image.width / 3) * {"left": 1, "right": -1}.get(side, 0)
    dy = _multiple_of_8(image.height / 3) * {"up": 1, "down": -1}.get(side, 0)
    canvas = Image.new("RGBA", image.size, (0, 0, 0, 0))
    canvas.paste(image, (dx, dy))
    return encode_png(canvas)


def split_mask(png: bytes) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """An RGBA source -> (RGB pixels, redraw mask with 255 = redraw)."""
    with Image.open(io.BytesIO(png)) as opened:
        pixels = np.asarray(opened.convert("RGBA"), dtype=np.uint8)
    return pixels[..., :3].copy(), 255 - pixels[..., 3]


def _rgba(png: bytes) -> Image.Image:
    with Image.open(io.BytesIO(png)) as opened:
        return opened.convert("RGBA")


def _multiple_of_8(length: float) -> int:
    return max(8, round(length / 8) * 8)
