"""The CLIP merges file: a local path, or KerasCV's own download checked by its hash."""

from __future__ import annotations

import hashlib
import logging
import shutil
import urllib.request
from pathlib import Path

# The same file, address and hash that keras_cv's SimpleTokenizer uses.
VOCAB_URL = "https://github.com/openai/CLIP/blob/main/clip/bpe_simple_vocab_16e6.txt.gz?raw=true"
VOCAB_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
VOCAB_NAME = "bpe_simple_vocab_16e6.txt.gz"

log = logging.getLogger(__name__)


def resolve_vocab(configured: Path | None, cache_dir: Path) -> Path:
    """The merges file to use: `configured` if set, else a verified copy in `cache_dir`."""
    if configured is not None:
        return configured
    cached = cache_dir / VOCAB_NAME
    if cached.exists() and _sha256(cached) == VOCAB_SHA256:
        return cached
    log.info("Downloading the CLIP vocabulary to %s", cached)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".part")
    with urllib.request.urlopen(VOCAB_URL, timeout=60) as response, partial.open("wb") as out:
        shutil.copyfileobj(response, out)
    if _sha256(partial) != VOCAB_SHA256:
        partial.unlink()
        raise OSError(f"The CLIP vocabulary from {VOCAB_URL} did not match its hash.")
    partial.replace(cached)
    return cached


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
