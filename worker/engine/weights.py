"""Where the models' files come from: KerasCV's own addresses and hashes, a mirror, or a
folder copied by hand. No TensorFlow here: the worker downloads before it imports it,
so a failed download is said within a second.

The file names, addresses and hashes are KerasCV's own
(``keras_cv/src/models/stable_diffusion/*.py``; the vocabulary's in core/vocab.py); tests
check that they still match.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from core.download import RemoteFile, download
from core.vocab import resolve_vocab

CACHE_SUBDIR: Final = "stable_diffusion"  # under cache_dir; doubles as a weights folder
_HF: Final = "https://huggingface.co/fchollet/stable-diffusion/resolve/main/"

# Stable Diffusion 1.4 (KerasCV's StableDiffusion).
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
_HF_V2: Final = "https://huggingface.co/ianstenbit/keras-sd2.1/resolve/main/"

# Stable Diffusion 2.1: its own text encoder and UNet; KerasCV's StableDiffusionV2 keeps
# 1.4's VAE (the same Decoder and ImageEncoder with the same files), and so do we.
WEIGHT_FILES_V2: Final = {
    "text_encoder": RemoteFile(
        "text_encoder_v2_1.h5",
        _HF_V2 + "text_encoder_v2_1.h5",
        "985002e68704e1c5c3549de332218e99c5b9b745db7171d5f31fcd9a6089f25b",
        "the SD 2.1 text encoder's weights",
    ),
    "diffusion_model": RemoteFile(
        "diffusion_model_v2_1.h5",
        _HF_V2 + "diffusion_model_v2_1.h5",
        "c31730e91111f98fe0e2dbde4475d381b5287ebb9672b1821796146a25c5132d",
        "the SD 2.1 UNet's weights",
    ),
    "decoder": WEIGHT_FILES["decoder"],
    "image_encoder": WEIGHT_FILES["image_encoder"],
}
MODEL_FILES: Final = {"sd14": WEIGHT_FILES, "sd21": WEIGHT_FILES_V2}


def model_files(models: Sequence[str]) -> list[RemoteFile]:
    """Every file `models` need, each once (the VAE's are shared), in a stable order."""
    unique = {file.name: file for model in models for file in _files(model).values()}
    return list(unique.values())


def weights_instead(models: Sequence[str]) -> str:
    """The end of the sentence a failed download logs: what to do on a host without
    internet."""
    names = [file.name for file in model_files(models)]
    listed = ", ".join(names[:-1]) + " and " + names[-1]
    return (
        f"without internet, copy {listed} into a folder and set IMAGINE_WEIGHTS to it "
        '(docs/self-hosting.md, "Weights without internet")'
    )


def weight_paths(
    weights: str, cache_dir: Path, mirror: str | None = None, model: str = "sd14"
) -> dict[str, Path] | None:
    """Where each of `model`'s parts has its weights (None = random weights); checked
    before any building. "download" fetches what the cache lacks (DownloadError when that
    fails)."""
    files = _files(model)
    if weights == "random":
        return None
    if weights == "download":
        instead = weights_instead([model])
        return {part: fetch(file, cache_dir, mirror, instead) for part, file in files.items()}
    folder = Path(weights)
    if not folder.is_dir():
        raise ValueError(
            f"weights must be 'download', 'random' or a folder of KerasCV weight files, "
            f"and {weights!r} is not a folder."
        )
    paths = {part: folder / file.name for part, file in files.items()}
    for part, path in paths.items():
        if not path.is_file():
            holds = files[part].holds
            raise ValueError(f"The weights folder {folder} has no {path.name} ({holds}).")
    return paths


def downloaded_weights(
    weights: str, cache_dir: Path, mirror: str | None = None, models: Sequence[str] = ("sd14",)
) -> str:
    """`weights` with "download" done for every model: the cache's folder of verified
    files, so building the models later reads them without hashing gigabytes again."""
    if weights != "download":
        return weights
    instead = weights_instead(models)
    for file in model_files(models):  # the shared VAE files once
        fetch(file, cache_dir, mirror, instead)
    return str(cache_dir / CACHE_SUBDIR)


def check_models(models: Sequence[str]) -> None:
    """ValueError (one sentence) unless `models` names known models, each once."""
    if not models:
        raise ValueError("Configure at least one model.")
    for model in models:
        if model not in MODEL_FILES:
            raise ValueError(f"Unknown model {model!r}; choose from {', '.join(MODEL_FILES)}.")
    if len(set(models)) != len(models):
        raise ValueError(f"A model is listed twice in {', '.join(models)}.")


def _files(model: str) -> dict[str, RemoteFile]:
    check_models([model])
    return MODEL_FILES[model]


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
