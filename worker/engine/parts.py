"""Builds KerasCV's Stable Diffusion parts and gives them their weights.

The engine builds the parts itself (rather than through ``StableDiffusion`` or
``StableDiffusionV2``) so it decides where weights come from (worker/engine/weights.py),
which dtype policy they are built under, and how they are compiled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from worker.engine.kerascv import stable_diffusion
from worker.engine.precision import dtype_policy
from worker.engine.weights import MODEL_FILES, check_models, vocab_path, weight_paths

log = logging.getLogger(__name__)

MAX_PROMPT_LENGTH: Final = 77  # CLIP's window, start and end tokens included


@dataclass(frozen=True)
class ModelSpec:
    """What differs between KerasCV's two pipelines: the text encoder and UNet classes
    (by name in KerasCV's package) and the width of the text contexts they exchange.
    Both use the same tokenizer, unconditional tokens, VAE and DDIM schedule."""

    text_encoder: str
    diffusion_model: str
    context_width: int


MODEL_SPECS: Final = {
    "sd14": ModelSpec("TextEncoder", "DiffusionModel", 768),  # StableDiffusion
    "sd21": ModelSpec("TextEncoderV2", "DiffusionModelV2", 1024),  # StableDiffusionV2
}


@dataclass(frozen=True)
class Parts:
    """The four networks and the tokenizer; every network serves every image size."""

    text_encoder: Any  # keras.Model
    diffusion_model: Any  # keras.Model (the UNet)
    decoder: Any  # keras.Sequential
    image_encoder: Any  # keras.Sequential
    tokenizer: Any  # SimpleTokenizer
    context_width: int = 768  # the text encoder's output width, the UNet's context input


def build_models(
    weights: str,
    models: Sequence[str],
    *,
    size: tuple[int, int],
    vocab: Path | None,
    cache_dir: Path,
    policy: str,
) -> dict[str, Parts]:
    """Every model's parts; the models share one tokenizer, decoder and image encoder
    (the same files in KerasCV), so a second model costs its text encoder and UNet only."""
    check_models(models)
    built: dict[str, Parts] = {}
    for model in models:
        shared = next(iter(built.values()), None)
        built[model] = build_parts(
            weights,
            model=model,
            size=size,
            vocab=vocab,
            cache_dir=cache_dir,
            policy=policy,
            shared=shared,
        )
    return built


def build_parts(
    weights: str,
    *,
    model: str = "sd14",
    size: tuple[int, int],
    vocab: Path | None,
    cache_dir: Path,
    policy: str,
    shared: Parts | None = None,
) -> Parts:
    """Builds `model`'s parts under the dtype `policy`; `size` (width, height) is only the
    shape Keras records for the UNet and decoder, which run at any configured size.
    `shared`: another model's parts whose tokenizer, decoder and image encoder to reuse."""
    check_models([model])
    paths = weight_paths(weights, cache_dir, model=model)
    spec, kcv = MODEL_SPECS[model], stable_diffusion()
    width, height = size
    with dtype_policy(policy):
        text_encoder = getattr(kcv, spec.text_encoder)(MAX_PROMPT_LENGTH, download_weights=False)
        unet = getattr(kcv, spec.diffusion_model)(
            height, width, MAX_PROMPT_LENGTH, download_weights=False
        )
        if shared is None:
            tokenizer = kcv.SimpleTokenizer(str(vocab_path(vocab, cache_dir)))
            decoder = kcv.Decoder(height, width, download_weights=False)
            image_encoder = kcv.ImageEncoder(download_weights=False)
        else:
            tokenizer, decoder, image_encoder = (
                shared.tokenizer,
                shared.decoder,
                shared.image_encoder,
            )
    parts = Parts(text_encoder, unet, decoder, image_encoder, tokenizer, spec.context_width)
    if paths is not None:
        for part, path in paths.items():
            if shared is not None and part in ("decoder", "image_encoder"):
                continue  # loaded with the first model
            log.info("Loading %s from %s", MODEL_FILES[model][part].holds, path)
            getattr(parts, part).load_weights(str(path))
    return parts
