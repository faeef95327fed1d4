"""img2img source images: any size and mode in, the model's input range out."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps


def to_rgb(pixels: npt.NDArray[np.uint8]) -> Image.Image:
    """Grey, grey+alpha, RGB or RGBA pixels as an RGB image; transparency becomes white,
    which is what a transparent upload looks like in Discord's light theme and in most
    viewers, and keeps the model from seeing the colour hidden under alpha 0."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    image = Image.fromarray(pixels)
    if image.mode in ("LA", "RGBA"):
        white = Image.new("RGBA", image.size, "white")
        return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


def prepare(pixels: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.float32]:
    """Resized to cover width x height and center-cropped (no stretching), as (h, w, 3)
    floats in [-1, 1], the range KerasCV's decoder produces and its encoder expects."""
    image = ImageOps.fit(to_rgb(pixels), (width, height), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 127.5 - 1.0


def prepare_mask(mask: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.float32]:
    """A redraw mask (HxW uint8, 255 = redraw) fitted like its image by `prepare`, then
    averaged over each 8x8 block: (h/8, w/8, 1) in [0, 1], the share of a latent cell
    to redraw (a cell half under the mask is half redrawn)."""
    fitted = ImageOps.fit(Image.fromarray(mask), (width, height), Image.Resampling.BILINEAR)
    cells = np.asarray(fitted, dtype=np.float32).reshape(height // 8, 8, width // 8, 8)
    share: npt.NDArray[np.float32] = cells.mean(axis=(1, 3)) / np.float32(255.0)
    return share[:, :, np.newaxis]
