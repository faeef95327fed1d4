"""What the buttons that start from one image of a result ask for: an upscale (the same
picture, twice as wide and high), a zoom out, a pan. Each is a new job of one image."""

from __future__ import annotations

import dataclasses

from core.jobs import MAX_SEED, UPSCALE_FACTOR, JobParams

Size = tuple[int, int]

# An upscale is img2img on the image resized up: low enough to keep the picture as it
# is, high enough for the model to redraw the detail the resize blurred.
UPSCALE_STRENGTH = 0.35
ZOOM_FACTOR = 1.5  # zoom out: the picture shrinks to 2/3, a new border is drawn around it
OUTPAINT_STRENGTH = 1.0  # the new area is drawn from noise; the mask keeps the rest
PAN_SIDES = ("left", "right", "up", "down")  # as core.canvas.pan_png names them


def image_seed(params: JobParams, index: int) -> int:
    """The seed image `index` of a job was drawn with (the engine draws image i with
    seed + i); past MAX_SEED it wraps, as a job's seed must stay within it."""
    return (params.seed + index) % (MAX_SEED + 1)


def upscaled_size(params: JobParams) -> Size:
    return UPSCALE_FACTOR * params.width, UPSCALE_FACTOR * params.height


def upscaled(params: JobParams, index: int) -> JobParams:
    """Image `index` again at twice the size: same prompt, seed, model, sampler, steps."""
    width, height = upscaled_size(params)
    return dataclasses.replace(
        params,
        count=1,
        seed=image_seed(params, index),
        width=width,
        height=height,
        strength=UPSCALE_STRENGTH,
        masked=False,
    )


def outpainted(params: JobParams, index: int) -> JobParams:
    """Zoom out or pan of image `index`: the same size, its transparent part drawn anew."""
    return dataclasses.replace(
        params, count=1, seed=image_seed(params, index), strength=OUTPAINT_STRENGTH, masked=True
    )
