"""Image grids and encodings that fit Discord's upload limit."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

# Which columns x rows a grid of n images takes: 1, 2 side by side, 3 or 4 in 2x2.
_LAYOUT = {1: (1, 1), 2: (2, 1), 3: (2, 2), 4: (2, 2)}


def make_grid(images: np.ndarray) -> Image.Image:
    """(n, H, W, 3) uint8 -> one RGB image; empty cells of a 3-grid stay black."""
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected (n, H, W, 3) uint8 images, got {images.shape} {images.dtype}")
    count, height, width, _ = images.shape
    columns, rows = _LAYOUT[count]
    grid = Image.new("RGB", (columns * width, rows * height))
    for index, pixels in enumerate(images):
        row, column = divmod(index, columns)
        grid.paste(Image.fromarray(pixels), (column * width, row * height))
    return grid


PREVIEW_SCALE = 4  # latent cells are 8x8 pixels; half the final size reads well in a chat


def encode_preview(colours: np.ndarray) -> bytes:
    """A progress preview: (n, h/8, w/8, 3) uint8 latent colours as a small WebP grid,
    smoothly upscaled (a 2x2 grid of 512x512 images is about 10 KB)."""
    grid = make_grid(colours)
    size = (grid.width * PREVIEW_SCALE, grid.height * PREVIEW_SCALE)
    return _encode(grid.resize(size, Image.Resampling.BILINEAR), "WEBP", 70)


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def encode_pngs(images: np.ndarray) -> tuple[bytes, tuple[bytes, ...]]:
    """The grid and each single image, as PNG."""
    singles = tuple(encode_png(Image.fromarray(pixels)) for pixels in images)
    return encode_png(make_grid(images)), singles


def fit_to_limit(png: bytes, limit: int) -> tuple[bytes, str]:
    """The image as PNG if it fits in `limit` bytes, else the best WebP or JPEG that does.

    Returns (bytes, file extension). Shrinks the picture as a last resort, so an upload
    never fails for its size.
    """
    if len(png) <= limit:
        return png, "png"
    image = Image.open(io.BytesIO(png)).convert("RGB")
    while True:
        for fmt, quality in _LOSSY_LADDER:
            encoded = _encode(image, fmt, quality)
            if len(encoded) <= limit:
                return encoded, fmt.lower()
        if min(image.size) <= 16:
            raise ValueError(f"cannot fit an image in {limit} bytes")
        image = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)


_LOSSY_LADDER: Sequence[tuple[str, int]] = (
    ("WEBP", 90),
    ("JPEG", 90),
    ("WEBP", 75),
    ("JPEG", 75),
    ("JPEG", 50),
)


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=quality)
    return buffer.getvalue()
