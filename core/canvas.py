"""Canvases for inpainting, zoom out and pan: an RGBA PNG whose alpha is the keep-mask.

Alpha 255 keeps a pixel, alpha 0 has it redrawn (values between: partly). The colour
under alpha 0 still matters: the engine encodes the whole canvas, so new areas are
filled with the image's own edge colours (a plausible start), never black.
Pillow and NumPy only, so the bot can build canvases without the engine.
"""

from __future__ import annotations

import io
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

CELL: Final = 8  # one latent cell: canvases keep their sides and seams on this grid
SIDES: Final = ("left", "right", "up", "down")
PAN_SHARE: Final = 3  # a pan uncovers a third of the canvas

Pixels = npt.NDArray[np.uint8]


def masked_png(image_png: bytes, mask_png: bytes, size: tuple[int, int]) -> bytes:
    """Inpainting: an image and a mask (white = redraw, black = keep, any mode and size;
    the mask is resized to the image) as an RGBA PNG at `size`, cover-resized and
    center-cropped like an img2img source."""
    image = _open(image_png, "image").convert("RGB")
    mask = _open(mask_png, "mask").convert("L").resize(image.size, Image.Resampling.BILINEAR)
    # Fitted separately: resizing RGBA premultiplies, which would blacken redrawn areas.
    rgb = ImageOps.fit(image, size, Image.Resampling.LANCZOS)
    redraw = ImageOps.fit(mask, size, Image.Resampling.BILINEAR)
    return _rgba_png(np.asarray(rgb), 255 - np.asarray(redraw))


def zoom_out_png(image_png: bytes, factor: float = 1.5) -> bytes:
    """The same-size canvas with the image shrunk by `factor` in its centre and a
    transparent border to be drawn; the shrunk image's sides and offsets are multiples
    of 8 px, so whole latent cells are kept or redrawn."""
    if not (isinstance(factor, int | float) and 1.0 < factor <= 16.0):
        raise ValueError(f"The zoom factor must be above 1 and at most 16, not {factor}.")
    canvas = _canvas_image(image_png)
    width, height = canvas.size
    inner = (_cells(width / factor), _cells(height / factor))
    small = np.asarray(canvas.resize(inner, Image.Resampling.LANCZOS))
    left, top = _cells_floor((width - inner[0]) / 2), _cells_floor((height - inner[1]) / 2)
    pad = ((top, height - inner[1] - top), (left, width - inner[0] - left), (0, 0))
    keep = np.zeros((height, width), dtype=np.uint8)
    keep[top : top + inner[1], left : left + inner[0]] = 255
    return _rgba_png(np.pad(small, pad, mode="edge"), keep)


def pan_png(image_png: bytes, side: str) -> bytes:
    """The same-size canvas with the image slid a third of the way away from `side`
    ("left", "right", "up" or "down"); the uncovered third, at `side`, is transparent."""
    if side not in SIDES:
        raise ValueError(f"Pan to one of {', '.join(SIDES)}, not {side!r}.")
    pixels = np.asarray(_canvas_image(image_png))
    axis = 1 if side in ("left", "right") else 0
    length = pixels.shape[axis]
    shift = min(_cells(length / PAN_SHARE), length - CELL)
    kept = length - shift
    toward_start = side in ("left", "up")  # the new area is at the start of the axis
    # What stays in view is the image's part nearest `side`; the far third falls off.
    if toward_start:
        stays, new = slice(0, kept), slice(0, shift)
    else:
        stays, new = slice(shift, length), slice(kept, length)
    widths = [(0, 0)] * 3
    widths[axis] = (shift, 0) if toward_start else (0, shift)
    keep = np.full(pixels.shape[:2], 255, dtype=np.uint8)
    along = (slice(None), new) if axis == 1 else (new, slice(None))
    keep[along] = 0
    part = pixels[:, stays] if axis == 1 else pixels[stays]
    return _rgba_png(np.pad(part, widths, mode="edge"), keep)


def split_mask(png: bytes) -> tuple[Pixels, Pixels]:
    """An RGBA canvas as (RGB uint8 HxWx3, redraw mask uint8 HxW, 255 = redraw). A PNG
    without alpha keeps everything."""
    image = _open(png, "canvas").convert("RGBA")
    pixels = np.asarray(image)
    return np.ascontiguousarray(pixels[:, :, :3]), 255 - pixels[:, :, 3]


def _open(data: bytes, what: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"The {what} is not an image file this bot can read.") from error
    return image


def _canvas_image(png: bytes) -> Image.Image:
    """The image as RGB, center-cropped to sides that are multiples of 8 (at least 16)."""
    image = _open(png, "image").convert("RGB")
    width, height = image.size
    if width < 2 * CELL or height < 2 * CELL:
        raise ValueError(f"The image is {width}x{height}; it must be at least 16x16 pixels.")
    return ImageOps.fit(image, (_cells_floor(width), _cells_floor(height)))


def _cells(length: float) -> int:
    """`length` rounded to a multiple of 8, at least 8."""
    return max(CELL, round(length / CELL) * CELL)


def _cells_floor(length: float) -> int:
    return int(length // CELL) * CELL


def _rgba_png(rgb: Pixels, alpha: Pixels) -> bytes:
    pixels = np.dstack([rgb, alpha]).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()
