"""Where the model's files come from: KerasCV's own addresses and hashes, a mirror, or a
folder copied by hand. No TensorFlow here: the worker downloads before it imports it,
so a failed download is said within a second.

The file names, addresses and hashes are KerasCV's own
(``keras_cv/src/models/stable_diffusion/*.py``; the vocabulary's in core/vocab.py); tests
check that they still match.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from core.download import RemoteFile, download
from core.vocab import resolve_vocab

CACHE_SUBDIR: Final = "stable_diffusion"  # under cache_dir; doubles as a weights folder
_HF: Final = "https://huggingface.co/fchollet/stable-diffusion/resolve/main/"

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
# The end of the sentence a failed download logs: what to do on a host without internet.
WEIGHTS_INSTEAD: Final = (
    "without internet, copy kcv_encoder.h5, kcv_diffusion_model.h5, kcv_decoder.h5 and "
    "vae_encoder.h5 into a folder and set IMAGINE_WEIGHTS to it "
    '(docs/self-hosting.md, "Weights without internet")'
)


def weight_paths(
    weights: str, cache_dir: Path, mirror: str | None = None
) -> dict[str, Path] | None:
    """Where each part's weights are (None = random weights); checked before any building.
    "download" fetches what the cache lacks (DownloadError when that fails)."""
    if weights == "random":
        return None
    if weights == "download":
        return {
            part: fetch(file, cache_dir, mirror, WEIGHTS_INSTEAD)
            for part, file in WEIGHT_FILES.items()
        }
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


def downloaded_weights(weights: str, cache_dir: Path, mirror: str | None = None) -> str:
    """`weights` with "download" done: the cache's folder of verified files, so building
    the model later reads them without hashing gigabytes a second time."""
    if weights != "download":
        return weights
    weight_paths(weights, cache_dir, mirror)
    return str(cache_dir / CACHE_SUBDIR)


def vocab_path(vocab: Path | None, cache_dir: Path, mirror: str | None = None) -> Path:
    if vocab is not None and not vocab.is_file():
        raise ValueError(f"The CLIP vocabulary file {vocab} does not exist.")
    return resolve_vocab(vocab, cache_dir, mirror)


def fetch(file: RemoteFile, cache_dir: Path, mirror: str | None = None, instead: str = "") -> Path:
    """`file` in the cache, downloaded once and checked against its hash on every start."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(cache_dir, os.W_OK):
        raise ValueError(f"The cache folder {cache_dir} is not writable.")
    return download(file, cache_dir / CACHE_SUBDIR, mirror=mirror, instead=instead)
