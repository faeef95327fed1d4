"""A synthetic CLIP BPE merges file, so tests never download OpenAI's.

It has exactly as many merges as the real file, so the special tokens get the
same ids as in real CLIP (<|startoftext|> = 49406, <|endoftext|> = 49407) and
KerasCV's hard-coded unconditional tokens stay valid.
"""

import gzip
import itertools
import string
from pathlib import Path

MERGE_COUNT = 49152 - 256 - 2  # what SimpleTokenizer reads from the real file


def _merges() -> list[str]:
    letters = string.ascii_lowercase
    pairs = [f"{a} {b}" for a, b in itertools.product(letters, repeat=2)]
    ends = [f"{a} {b}</w>" for a, b in itertools.product(letters, repeat=2)]
    triples = [f"{a}{b} {c}" for a, b, c in itertools.product(letters, repeat=3)]
    merges = pairs + ends + triples
    filler = (f"q{n} z" for n in itertools.count())
    merges.extend(itertools.islice(filler, MERGE_COUNT - len(merges)))
    return merges


def write_test_vocab(path: Path) -> Path:
    """Writes the merges file (gzip, with the real file's header line) to `path`."""
    text = "#version: 0.2\n" + "\n".join(_merges()) + "\n"
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    return path
