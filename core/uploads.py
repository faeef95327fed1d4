"""Images members upload for img2img: only real PNG, JPEG or WebP, with size and pixel
count checked before anything is decoded (no decompression bombs), EXIF orientation
applied, transparency flattened on white. What is kept is a plain RGB PNG."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from core.images import encode_png
from core.jobs import InvalidRequest

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
KEPT_SIDE = 1024  # larger sources are shrunk: the model works at 512-768 anyway
FORMATS = ("PNG", "JPEG", "WEBP")


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
        if image.width * image.height > MAX_PIXELS:
            raise InvalidRequest("image_too_many_pixels", limit=f"{MAX_PIXELS:,}")
        image.load()
        upright = ImageOps.exif_transpose(image)
        rgb = _flatten(upright)
    rgb.thumbnail((KEPT_SIDE, KEPT_SIDE), Image.Resampling.LANCZOS)
    return encode_png(rgb)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (what a viewer shows)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")
