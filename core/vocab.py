"""The CLIP merges file: a local path, or KerasCV's own download checked by its hash."""

from __future__ import annotations

from pathlib import Path

from core.download import RemoteFile, download

# The same file, address and hash that keras_cv's SimpleTokenizer uses.
VOCAB_URL = "https://github.com/openai/CLIP/blob/main/clip/bpe_simple_vocab_16e6.txt.gz?raw=true"
VOCAB_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
VOCAB_NAME = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_FILE = RemoteFile(VOCAB_NAME, VOCAB_URL, VOCAB_SHA256, "CLIP's vocabulary")
_INSTEAD = (
    f"without internet, set IMAGINE_VOCAB to a copy of {VOCAB_NAME} "
    '(docs/self-hosting.md, "Weights without internet")'
)


def resolve_vocab(configured: Path | None, cache_dir: Path, mirror: str | None = None) -> Path:
    """The merges file to use: `configured` if set, else a verified copy in `cache_dir`
    (downloaded, from `mirror` if given: DownloadError when that fails)."""
    if configured is not None:
        return configured
    return download(VOCAB_FILE, cache_dir, mirror=mirror, instead=_INSTEAD)
