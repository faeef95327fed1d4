"""The worker's image engine: Stable Diffusion on KerasCV's parts, with our own loop.

Importing this package does not import Keras or TensorFlow; ``build_engine`` does,
on the backend it is given. So the worker loop and its tests can use the request types
with a small stand-in engine. See docs/engine.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from worker.engine.previews import PreviewFn
from worker.engine.request import (
    SAMPLERS,
    GenerationCanceled,
    GenerationRequest,
    ProgressFn,
)
from worker.engine.weights import check_models

__all__ = [
    "SAMPLERS",
    "Engine",
    "GenerationCanceled",
    "GenerationRequest",
    "PreviewFn",
    "ProgressFn",
    "build_engine",
]

SIZE_STEP = 64  # the VAE (8x) and the UNet's three halvings (8x) must divide a size
COMPILED_SUBDIR = "compiled"  # under cache_dir: the persistent XLA compilation cache


class Engine(Protocol):
    sizes: tuple[tuple[int, int], ...]  # (width, height) offered, upscale sizes last

    def warm_up(self) -> float:
        """Compiles the first size's batch buckets, returning the seconds; the rest
        compiles in the background (docs/engine.md, "Warm-up")."""
        ...

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        progress: ProgressFn | None = None,
        preview: PreviewFn | None = None,
    ) -> list[npt.NDArray[np.uint8]]:
        """One uint8 array (count, height, width, 3) per request, in order. The requests
        must share width, height, steps and sampler (ValueError otherwise). `preview`
        gets (request index, (rows, h/8, w/8, 3) uint8 colours) after every chunk."""
        ...

    def count_tokens(self, text: str) -> int:
        """CLIP tokens in `text`, start and end included; more than 77 is refused."""
        ...

    def close(self) -> None:
        """Stops the background warm-up (after its current program) and waits for it."""
        ...


def build_engine(
    weights: str,
    *,
    sizes: Sequence[tuple[int, int]],
    vocab: Path | None,
    cache_dir: Path,
    precision: str = "auto",
    max_batch: int = 4,
    steps_per_call: int = 5,
    jit_compile: bool | None = None,
    backend: str = "tensorflow",
    models: Sequence[str] = ("sd14",),
    upscale_sizes: Sequence[tuple[int, int]] = (),
) -> Engine:
    """Builds each model's parts (one UNet for every size) and compiled loop; call
    warm_up next.

    weights: "download" (KerasCV's files and hashes, cached in cache_dir), "random", or a
    folder with each model's files (worker/engine/weights.py: for sd14 kcv_encoder.h5,
    kcv_diffusion_model.h5, kcv_decoder.h5 and vae_encoder.h5; sd21 adds
    text_encoder_v2_1.h5 and diffusion_model_v2_1.h5).
    vocab: the CLIP merges file; None downloads KerasCV's into cache_dir.
    precision: "auto" (mixed_float16 + XLA on a GPU, float32 on a CPU), "float32",
    "mixed_float16" or "mixed_bfloat16". max_batch: images per UNet batch (the UNet runs
    twice that for guidance). steps_per_call: steps per compiled call; progress and
    cancellation are checked between calls. jit_compile: XLA on TensorFlow, None = on a
    GPU only (JAX always compiles with XLA). backend: "tensorflow" or "jax", the Keras
    backend; it must be chosen before anything in the process imports Keras.
    models: the models to hold ("sd14", "sd21"); a request names one (the first by
    default). Each costs its own text encoder and UNet in memory (docs/engine.md).
    upscale_sizes: further sizes offered for upscaling, warmed up for one image only,
    after everything else (docs/engine.md, "Upscale sizes").
    """
    _check_config([*sizes, *upscale_sizes], max_batch, steps_per_call)
    check_models(models)  # before Keras loads: a typo is said at once
    from worker.engine.backend import select_backend, use_compilation_cache

    select_backend(backend)
    use_compilation_cache(cache_dir / COMPILED_SUBDIR / backend, backend)
    # Keras (and on TensorFlow, TensorFlow) loads here, not when the package is imported.
    from worker.engine.backend import has_gpu, set_graph_options
    from worker.engine.engine import KerasEngine
    from worker.engine.parts import build_models
    from worker.engine.precision import graph_optimizer_options, resolve_precision
    from worker.engine.unet import SMALL_CONV_PIXELS

    gpu = has_gpu()
    chosen = resolve_precision(
        precision, gpu=gpu, jit_compile=True if backend == "jax" else jit_compile
    )
    set_graph_options(graph_optimizer_options(chosen.policy, gpu=gpu))
    parts = build_models(
        weights, models, size=sizes[0], vocab=vocab, cache_dir=cache_dir, policy=chosen.policy
    )
    return KerasEngine(
        parts,
        sizes=sizes,
        precision=chosen,
        max_batch=max_batch,
        steps_per_call=steps_per_call,
        # cuDNN has fast small convolutions; only CPUs take the matrix-product route.
        small_conv_pixels=0 if gpu else SMALL_CONV_PIXELS,
        upscale_sizes=upscale_sizes,
    )


def _check_config(sizes: Sequence[tuple[int, int]], max_batch: int, steps_per_call: int) -> None:
    if not sizes:
        raise ValueError("Configure at least one image size.")
    for width, height in sizes:
        if width <= 0 or height <= 0 or width % SIZE_STEP or height % SIZE_STEP:
            raise ValueError(
                f"Image size {width}x{height} is not made of positive multiples of {SIZE_STEP}."
            )
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, not {max_batch}.")
    if steps_per_call < 1:
        raise ValueError(f"steps_per_call must be at least 1, not {steps_per_call}.")
