"""What the worker asks of the engine, and the checks every engine applies to it.

Nothing here imports TensorFlow: the worker loop and its tests use these types with
a small stand-in engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

SAMPLERS: Final = ("dpmpp_2m", "ddim")  # the first is the default
MAX_COUNT: Final = 4
MAX_STEPS: Final = 1000  # the model's training timesteps: more steps cannot mean more
SEED_LIMIT: Final = 2**32
DEFAULT_MODEL: Final = "sd14"

ProgressFn = Callable[[int, int], bool]  # (steps_done, total_steps) -> False means cancel


class GenerationCanceled(Exception):
    """The progress callback asked to stop; no images were made."""


@dataclass(frozen=True)
class GenerationRequest:
    """One job's images. Image i of the request uses seed ``seed + i``."""

    prompt: str
    negative_prompt: str  # "" = KerasCV's unconditional context
    count: int  # 1..4 images
    steps: int
    guidance: float
    seed: int  # 0 <= seed < 2**32
    width: int
    height: int
    sampler: str = SAMPLERS[0]
    # img2img: any size and mode (RGBA is flattened on white), resized and center-cropped
    # to width x height; strength 0 keeps the image, 1 replaces it.
    init_image: npt.NDArray[np.uint8] | None = field(default=None, compare=False)
    strength: float = 0.8
    model: str = DEFAULT_MODEL  # which of the engine's models makes it (core/jobs.py MODELS)
    # Inpainting, zoom out, pan: HxW uint8 at the init image's size, 255 = redraw, 0 =
    # keep the init image there (between: partly). Only with init_image.
    mask: npt.NDArray[np.uint8] | None = field(default=None, compare=False)


def check_batch(
    requests: Sequence[GenerationRequest],
    sizes: Sequence[tuple[int, int]],
    models: Sequence[str] = (DEFAULT_MODEL,),
) -> None:
    """Raises ValueError (one sentence) unless the requests can share one engine call:
    one model, one size, one step count, one sampler."""
    if not requests:
        raise ValueError("Nothing to generate: the list of requests is empty.")
    first = requests[0]
    shared = _shared(first)
    for request in requests:
        if _shared(request) != shared:
            raise ValueError(
                "Requests in one call must share model, width, height, steps and sampler; "
                f"got {shared} and {_shared(request)}."
            )
        check_request(request, sizes, models)


def _shared(request: GenerationRequest) -> tuple[str, int, int, int, str]:
    return (request.model, request.width, request.height, request.steps, request.sampler)


def check_request(
    request: GenerationRequest,
    sizes: Sequence[tuple[int, int]],
    models: Sequence[str] = (DEFAULT_MODEL,),
) -> None:
    if request.model not in models:
        raise ValueError(
            f"Model {request.model!r} is not one this worker loaded ({', '.join(models)})."
        )
    if (request.width, request.height) not in sizes:
        offered = ", ".join(f"{w}x{h}" for w, h in sizes)
        raise ValueError(
            f"Size {request.width}x{request.height} is not one this worker compiled ({offered})."
        )
    if request.sampler not in SAMPLERS:
        raise ValueError(
            f"Unknown sampler {request.sampler!r}; choose one of {', '.join(SAMPLERS)}."
        )
    if not 1 <= request.count <= MAX_COUNT:
        raise ValueError(f"count must be between 1 and {MAX_COUNT}, not {request.count}.")
    if not 1 <= request.steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}, not {request.steps}.")
    if not 0 <= request.seed < SEED_LIMIT:
        raise ValueError(f"seed must be in [0, 2**32), not {request.seed}.")
    if not 0.0 <= request.strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, not {request.strength}.")
    if request.init_image is not None and request.init_image.dtype != np.uint8:
        raise ValueError(f"init_image must be uint8 pixels, not {request.init_image.dtype}.")
    if request.mask is not None:
        _check_mask(request.mask, request.init_image)


def _check_mask(mask: npt.NDArray[np.uint8], image: npt.NDArray[np.uint8] | None) -> None:
    if image is None:
        raise ValueError("A mask needs an init_image: it says which of its pixels to redraw.")
    if mask.dtype != np.uint8 or mask.shape != image.shape[:2]:
        raise ValueError(
            f"The mask must be uint8 of the init image's size {image.shape[:2]}, "
            f"not {mask.dtype} {mask.shape}."
        )
