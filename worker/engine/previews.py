"""Previews while sampling: the sampler's current estimate of the clean latent (x0)
through a fixed linear map to RGB, with no decoder pass.

The 4x3 matrix is the one Stable Diffusion 1.x front ends use for their cheap previews
(ComfyUI's ``SD15.latent_rgb_factors``): a least-squares fit of the VAE decoder's
colours from the scaled latent, which is the space KerasCV's sampler works in. A
preview is one (h/8, w/8, 4) x (4, 3) product on the host per image: 64x64 pixels for
a 512x512 image, microseconds of work next to a UNet step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

LATENT_RGB = np.array(
    [
        # R       G        B
        [0.3512, 0.2297, 0.3227],
        [0.3250, 0.4974, 0.2350],
        [-0.2829, 0.1762, 0.2721],
        [-0.2120, -0.2616, -0.7177],
    ],
    dtype=np.float32,
)

# (request index, its images so far as (count, h/8, w/8, 3) uint8), after every chunk.
PreviewFn = Callable[[int, npt.NDArray[np.uint8]], None]


def latent_preview(latents: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """(..., 4) scaled latents to (..., 3) uint8 colours, [-1, 1] mapped to [0, 255]."""
    rgb: npt.NDArray[np.float32] = latents @ LATENT_RGB
    colours: npt.NDArray[np.uint8] = np.clip((rgb + 1.0) * 127.5, 0.0, 255.0).astype(np.uint8)
    return colours
