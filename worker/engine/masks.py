"""Masked rows (inpainting, zoom out, pan) on the host: the blend's per-row inputs for
the compiled loop (``compiled.blend``), and what their previews show."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from keras import ops

from worker.engine.compiled import Blend
from worker.engine.rows import Row

Pixels = npt.NDArray[np.uint8]
Latents = npt.NDArray[np.float32]


def cells_to_redraw(mask: Pixels, width: int, height: int) -> Latents:
    """(h/8, w/8, 1): the share of each latent cell to redraw."""
    from worker.engine.init_images import prepare_mask  # Pillow, for masks only

    return prepare_mask(mask, width, height)


def row_inputs(
    rows: Sequence[Row],
    masks: Mapping[int, Latents],
    sources: Mapping[int, Latents],
    noises: Sequence[Latents],
    shape: tuple[int, ...],
) -> Blend:
    """NumPy (bucket, *shape) inputs: masked rows get their source latent, mask and own
    starting noise (so the kept cells follow the noise the row started from, whatever
    the batch); every other row, padding too, mask 1, which leaves it as the sampler
    made it."""
    blend = unmasked(shape)
    for i, row in enumerate(rows):
        mask = masks.get(row.request)
        if mask is not None:
            blend.known[i] = sources[row.request]
            blend.mask[i] = mask
            blend.noise[i] = noises[i]
    return blend


def unmasked(shape: tuple[int, ...]) -> Blend:
    """NumPy inputs of (bucket, h/8, w/8, 4) latents that change nothing: mask 1."""
    zeros = np.zeros(shape, np.float32)
    return Blend(zeros, np.ones((*shape[:3], 1), np.float32), zeros.copy())


def to_tensors(blend: Blend) -> Blend:
    return Blend(*(ops.convert_to_tensor(part) for part in blend))


def shown(x0: Latents, blend: Blend) -> Latents:
    """The x0 estimate with masked rows' kept cells showing their source, as the
    finished image will: the sampler's own x0 there is a guess the blend replaces."""
    mask: Any = blend.mask
    out: Latents = mask * x0 + (1.0 - mask) * blend.known
    return out
