"""Images members upload for img2img: only real PNG, JPEG or WebP, with size and pixel
count checked before anything is decoded (no decompression bombs), EXIF orientation
applied, transparency flattened on white. What is kept is a plain RGB PNG of at most
KEPT_SIDE pixels a side: the engine resizes it to the job's size (512-768 by default).

Decoding costs memory in proportion to the pixels decoded, not to the file's bytes (a
74 KiB PNG can claim 16 megapixels), so the pixel caps are a few times what is kept, a
JPEG is decoded at the smallest scale that still covers what is kept, and at most
DECODE_SLOTS uploads are decoded at once, on their own threads.
"""

from __future__ import annotations

import asyncio
import io
import math
import warnings
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageOps, UnidentifiedImageError

from core.images import encode_png
from core.jobs import InvalidRequest

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
KEPT_SIDE = 1024  # larger sources are shrunk: the model works at 512-768 anyway
MAX_PIXELS = 4 * KEPT_SIDE * KEPT_SIDE  # 2048x2048: the most pixels decoded at full size
# A JPEG decodes at 1/2, 1/4 or 1/8 scale, so a phone's photo decodes small; but a
# progressive JPEG holds 2 bytes of coefficients per pixel and colour channel while it
# decodes, whatever the scale (6 bytes a pixel without chroma subsampling): its own cap
# keeps that under 100 MiB.
MAX_JPEG_PIXELS = 4 * MAX_PIXELS  # 4096x4096: a 12-16 MP phone photo fits
DECODE_SLOTS = 2
FORMATS = ("PNG", "JPEG", "WEBP")

_decoders = ThreadPoolExecutor(max_workers=DECODE_SLOTS, thread_name_prefix="upload-decode")


async def decode_upload(data: bytes) -> bytes:
    """`read_upload` on one of DECODE_SLOTS threads: the event loop is never blocked, the
    memory decoding takes is bounded by the slots, and a caller that stops waiting (its
    deadline passed) before its turn came never starts decoding."""
    return await asyncio.get_running_loop().run_in_executor(_decoders, read_upload, data)


def read_upload(data: bytes) -> bytes:
    """The upload as an RGB PNG, or InvalidRequest saying what is wrong with it."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidRequest("image_too_big", limit=MAX_UPLOAD_BYTES // (1024 * 1024))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _normalize(data)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard, for headers far past ours: refused all the same.
        raise InvalidRequest("image_too_many_pixels", limit=f"{MAX_PIXELS:,}") from None
    except InvalidRequest:
        raise
    except UnidentifiedImageError:
        raise InvalidRequest("image_unreadable") from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or corrupt data
        raise InvalidRequest("image_unreadable") from error


def _normalize(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data), formats=FORMATS) as image:
        # Only the header has been read so far: refuse huge images before decoding them.
        _check_pixels(image)
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        # Shrunk before it is flattened: the copies flattening makes are small ones.
        small = _rgb_or_rgba(image)
    small.thumbnail((KEPT_SIDE, KEPT_SIDE), Image.Resampling.LANCZOS)
    return encode_png(_flatten(small))


def _check_pixels(image: Image.Image) -> None:
    """Refuses an image whose decoding would take too much memory; asks a JPEG to decode
    at the smallest scale that still covers the kept size."""
    if image.format == "JPEG":
        if image.width * image.height > MAX_JPEG_PIXELS:
            raise InvalidRequest("image_too_many_pixels", limit=f"{MAX_JPEG_PIXELS:,}")
        image.draft(None, kept_size(image.size))  # from now on, image.size is what decodes
    if image.width * image.height > MAX_PIXELS:
        raise InvalidRequest("image_too_many_pixels", limit=f"{MAX_PIXELS:,}")


def kept_size(size: tuple[int, int]) -> tuple[int, int]:
    """`size` shrunk to fit KEPT_SIDE x KEPT_SIDE, as `thumbnail` will (never enlarged)."""
    scale = min(1.0, KEPT_SIDE / max(size))
    return max(1, math.ceil(size[0] * scale)), max(1, math.ceil(size[1] * scale))


def _rgb_or_rgba(image: Image.Image) -> Image.Image:
    """RGBA if the image has any transparency, else RGB (a copy either way: the file's
    image is closed after this)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return image.convert("RGBA")
    return image.convert("RGB")


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (what a viewer shows)."""
    if image.mode == "RGBA":
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, image).convert("RGB")
    return image
