"""Builds KerasCV's Stable Diffusion parts and gives them their weights.

The engine builds the parts itself (rather than through ``StableDiffusion``) so it
decides where weights come from, which dtype policy they are built under, and how
they are compiled. The file names, addresses and hashes are KerasCV's own
(``keras_cv/src/models/stable_diffusion/*.py``); tests check that they still match.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import keras

from worker.engine.kerascv import stable_diffusion
from worker.engine.precision import dtype_policy

log = logging.getLogger(__name__)

MAX_PROMPT_LENGTH: Final = 77  # CLIP's window, start and end tokens included
CACHE_SUBDIR: Final = "stable_diffusion"  # under cache_dir; doubles as a weights folder
_HF: Final = "https://huggingface.co/fchollet/stable-diffusion/resolve/main/"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    origin: str
    sha256: str
    holds: str  # what the file is, for messages


WEIGHT_FILES: Final = {
    "text_encoder": RemoteFile(
        "kcv_encoder.h5",
        _HF + "kcv_encoder.h5",
        "4789e63e07c0e54d6a34a29b45ce81ece27060c499a709d556c7755b42bb0dc4",
        "the CLIP text encoder's weights",
    ),
    "diffusion_model": RemoteFile(
        "kcv_diffusion_model.h5",
        _HF + "kcv_diffusion_model.h5",
        "8799ff9763de13d7f30a683d653018e114ed24a6a819667da4f5ee10f9e805fe",
        "the UNet's weights",
    ),
    "decoder": RemoteFile(
        "kcv_decoder.h5",
        _HF + "kcv_decoder.h5",
        "ad350a65cc8bc4a80c8103367e039a3329b4231c2469a1093869a345f55b1962",
        "the VAE decoder's weights",
    ),
    "image_encoder": RemoteFile(
        "vae_encoder.h5",
        _HF + "vae_encoder.h5",
        "c60fb220a40d090e0f86a6ab4c312d113e115c87c40ff75d11ffcf380aab7ebb",
        "the VAE image encoder's weights",
    ),
}
VOCAB_FILE: Final = RemoteFile(
    "bpe_simple_vocab_16e6.txt.gz",
    "https://github.com/openai/CLIP/blob/main/clip/bpe_simple_vocab_16e6.txt.gz?raw=true",
    "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a",
    "the CLIP tokenizer's merges",
)


@dataclass(frozen=True)
class Parts:
    """The four networks and the tokenizer; every network serves every image size."""

    text_encoder: Any  # keras.Model
    diffusion_model: Any  # keras.Model (the UNet)
    decoder: Any  # keras.Sequential
    image_encoder: Any  # keras.Sequential
    tokenizer: Any  # SimpleTokenizer


def weight_paths(weights: str, cache_dir: Path) -> dict[str, Path] | None:
    """Where each part's weights are (None = random weights); checked before any building."""
    if weights == "random":
        return None
    if weights == "download":
        return {part: fetch(file, cache_dir) for part, file in WEIGHT_FILES.items()}
    folder = Path(weights)
    if not folder.is_dir():
        raise ValueError(
            f"weights must be 'download', 'random' or a folder of KerasCV weight files, "
            f"and {weights!r} is not a folder."
        )
    paths = {part: folder / file.name for part, file in WEIGHT_FILES.items()}
    for part, path in paths.items():
        if not path.is_file():
            holds = WEIGHT_FILES[part].holds
            raise ValueError(f"The weights folder {folder} has no {path.name} ({holds}).")
    return paths


def vocab_path(vocab: Path | None, cache_dir: Path) -> Path:
    if vocab is None:
        return fetch(VOCAB_FILE, cache_dir)
    if not vocab.is_file():
        raise ValueError(f"The CLIP vocabulary file {vocab} does not exist.")
    return vocab


def fetch(file: RemoteFile, cache_dir: Path) -> Path:
    """Downloads `file` once into the cache (Keras checks the hash, also of a cached copy)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(cache_dir, os.W_OK):
        # Keras would silently fall back to /tmp/.keras and download again on every start.
        raise ValueError(f"The cache folder {cache_dir} is not writable.")
    log.info("Fetching %s (%s) into %s", file.name, file.holds, cache_dir / CACHE_SUBDIR)
    path = keras.utils.get_file(
        fname=file.name,
        origin=file.origin,
        file_hash=file.sha256,
        cache_dir=str(cache_dir),
        cache_subdir=CACHE_SUBDIR,
    )
    log.info("%s is ready at %s", file.name, path)
    return Path(path)


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
