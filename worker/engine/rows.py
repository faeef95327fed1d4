"""Requests as rows: one row per image, grouped into padded batches.

A row carries everything that may differ between the images of one batch (prompt,
negative prompt, seed, guidance, img2img start), so jobs from different users share
one UNet call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from worker.engine.request import MAX_COUNT, GenerationRequest

LATENT_CHANNELS = 4
LATENT_SCALE = 8  # the VAE turns 8x8 pixels into one latent cell


@dataclass(frozen=True)
class Row:
    request: int  # index into the call's requests
    prompt: str
    negative_prompt: str
    seed: int
    guidance: float
    start: int  # the first schedule step this row takes (0 unless img2img)


def start_step(request: GenerationRequest) -> int:
    """img2img skips the first ``steps * (1 - strength)`` steps, as diffusers does."""
    if request.init_image is None:
        return 0
    return request.steps - min(int(request.steps * request.strength), request.steps)


def to_rows(requests: Sequence[GenerationRequest]) -> list[Row]:
    return [
        Row(index, r.prompt, r.negative_prompt, r.seed + i, r.guidance, start_step(r))
        for index, r in enumerate(requests)
        for i in range(r.count)
    ]


def batches(rows: Sequence[Row], max_batch: int) -> list[list[Row]]:
    return [list(rows[i : i + max_batch]) for i in range(0, len(rows), max_batch)]


def bucket_sizes(max_batch: int) -> tuple[int, ...]:
    """Every size up to 4, then powers of two below `max_batch`, then `max_batch`:
    (1, 2, 3, 4) for 4, (1, 2, 3, 4, 6) for 6, (1, 2, 3, 4, 8, 12) for 12.

    A job asks for 1-4 images, so a job alone never pays for padding rows; a UNet row
    costs the same whether it is an image or padding (a job of 3 padded to 4 measured
    1.33x the work of 3).
    """
    sizes = list(range(1, min(max_batch, MAX_COUNT) + 1))
    size = 2 * MAX_COUNT
    while size < max_batch:
        sizes.append(size)
        size *= 2
    if sizes[-1] != max_batch:
        sizes.append(max_batch)
    return tuple(sizes)


def bucket_for(rows: int, buckets: Sequence[int]) -> int:
    return next(size for size in buckets if size >= rows)


def latent_shape(width: int, height: int) -> tuple[int, int, int]:
    return height // LATENT_SCALE, width // LATENT_SCALE, LATENT_CHANNELS


def noise(seed: int, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """The starting noise of one image: NumPy's PCG64 stream for `seed`.

    Drawn on the host, so it depends only on the seed and the latent shape: not on the
    batch the image lands in, the device, or the TensorFlow version.
    """
    generator = np.random.Generator(np.random.PCG64(seed))
    return generator.standard_normal(shape, dtype=np.float32)
