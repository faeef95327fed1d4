"""Counts CLIP tokens the way KerasCV's SimpleTokenizer does, without importing Keras.

The bot must tell a member at once that a prompt is over the 77-token window, and the
bot never loads TensorFlow. `clip_clean` is the text the tokenizer (so the model) reads;
the banned-word filter starts from it too. tests/moderation/test_model_text.py runs
KerasCV's own tokenizer code beside both and checks they read and count the same.
"""

from __future__ import annotations

import gzip
import html
import itertools
from functools import lru_cache
from pathlib import Path

import regex

CONTEXT_LENGTH = 77  # CLIP's window, start and end tokens included
_MERGE_COUNT = 49152 - 256 - 2
_WHITESPACE = regex.compile(r"\s+")
_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


def clip_clean(text: str) -> str:
    """What the tokenizer encodes: HTML character references resolved twice (so
    "&amp;#101;" reads "e"), whitespace runs as one space, trimmed, lower case. Step for
    step KerasCV's `whitespace_clean(basic_clean(text)).lower()`: `str.strip` and the
    `regex` module's `\\s` disagree on a few control characters (U+001C..U+001F), so both
    are used where KerasCV uses them."""
    unescaped = html.unescape(html.unescape(text)).strip()
    return _WHITESPACE.sub(" ", unescaped).strip().lower()


@lru_cache
def _byte_to_unicode() -> dict[int, str]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class ClipTokenCounter:
    """Byte-pair encoding with the CLIP merges file; counts, never embeds."""

    def __init__(self, merges_path: Path) -> None:
        lines = gzip.decompress(merges_path.read_bytes()).decode("utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1 : _MERGE_COUNT + 1]]
        self._ranks = {(m[0], m[1]): rank for rank, m in enumerate(merges) if len(m) == 2}
        self._cache: dict[str, int] = {}

    def count(self, text: str) -> int:
        """Tokens `text` takes in the window, start and end tokens included."""
        table = _byte_to_unicode()
        pieces = _PATTERN.findall(clip_clean(text))
        return 2 + sum(self._bpe_length("".join(table[b] for b in p.encode())) for p in pieces)

    def _bpe_length(self, token: str) -> int:
        if token in ("<|startoftext|>", "<|endoftext|>"):
            return 1
        if token not in self._cache:
            self._cache[token] = len(self._merge(token))
        return self._cache[token]

    def _merge(self, token: str) -> list[str]:
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = set(itertools.pairwise(word))
            best = min(pairs, key=lambda pair: self._ranks.get(pair, _MERGE_COUNT))
            if best not in self._ranks:
                break
            word = _join_pair(word, best)
        return word


def _join_pair(word: list[str], pair: tuple[str, str]) -> list[str]:
    merged: list[str] = []
    i = 0
    while i < len(word):
        if i < len(word) - 1 and (word[i], word[i + 1]) == pair:
            merged.append(word[i] + word[i + 1])
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return merged
