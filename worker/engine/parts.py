"""Builds KerasCV's Stable Diffusion parts and gives them their weights.

The engine builds the parts itself (rather than through ``StableDiffusion``) so it
decides where weights come from (worker/engine/weights.py), which dtype policy they are
built under, and how they are compiled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from worker.engine.kerascv import stable_diffusion
from worker.engine.precision import dtype_policy
from worker.engine.weights import WEIGHT_FILES, vocab_path, weight_paths

log = logging.getLogger(__name__)

MAX_PROMPT_LENGTH: Final = 77  # CLIP's window, start and end tokens included


@dataclass(frozen=True)
class Parts:
    """The four networks and the tokenizer; every network serves every image size."""

    text_encoder: Any  # keras.Model
    diffusion_model: Any  # keras.Model (the UNet)
    decoder: Any  # keras.Sequential
    image_encoder: Any  # keras.Sequential
    tokenizer: Any  # SimpleTokenizer


def build_parts(
    weights: str, *, size: tuple[int, int], vocab: Path | None, cache_dir: Path, policy: str
) -> Parts:
    """Builds every part under the dtype `policy`; `size` (width, height) is only the
    shape Keras records for the UNet and decoder, which run at any configured size."""
    paths = weight_paths(weights, cache_dir)
    kcv = stable_diffusion()
    tokenizer = kcv.SimpleTokenizer(str(vocab_path(vocab, cache_dir)))
    width, height = size
    with dtype_policy(policy):
        parts = Parts(
            text_encoder=kcv.TextEncoder(MAX_PROMPT_LENGTH, download_weights=False),
            diffusion_model=kcv.DiffusionModel(
                height, width, MAX_PROMPT_LENGTH, download_weights=False
            ),
            decoder=kcv.Decoder(height, width, download_weights=False),
            image_encoder=kcv.ImageEncoder(download_weights=False),
            tokenizer=tokenizer,
        )
    if paths is not None:
        for part, path in paths.items():
            log.info("Loading %s from %s", WEIGHT_FILES[part].holds, path)
            getattr(parts, part).load_weights(str(path))
    return parts
