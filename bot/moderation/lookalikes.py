"""Letters of other alphabets that look like Latin ones: Cyrillic o, Greek nu for v.

Built from Unicode's confusables data (UTS #39), as the pinned `confusable-homoglyphs`
package ships it: there each character maps to its prototype, the one shape a whole
set of look-alikes stands for. A letter whose prototype is that of a Latin letter a-z
is read as that letter; so is one whose prototype is plain Latin letters ("ӕ" → "ae").

What is left out, and why:
- Plain ASCII never changes. UTS #39 also maps "m" to "rn", "l" to "I", "d" to "cl":
  a skeleton of plain words would make "click" read like "dick" and "burn" like "bum",
  and the model reads ASCII as it is written anyway.
- Digits and symbols ("|" for "l", "0" for "o") are spellings, not letters.
- Chinese, Japanese and Korean: the data pairs "ロ" with "口" and "ㅣ" with "丨", which
  would make kana and Hangul text match words in Chinese characters.
"""

from __future__ import annotations

import string
from functools import lru_cache

import regex
from confusable_homoglyphs import confusables

_SOURCE = regex.compile(
    r"[\p{L}--[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}\p{scx=Bopomofo}]]",
    regex.VERSION1,
)


@lru_cache(maxsize=1)
def table() -> dict[int, str]:
    """For `str.translate`: each look-alike letter to the Latin letters it reads as."""
    data: dict[str, list[dict[str, str]]] = confusables.confusables_data
    latin = {_prototype(data, letter): letter for letter in string.ascii_lowercase}
    found: dict[int, str] = {}
    for char, entries in data.items():
        if len(char) != 1 or char.isascii() or not _SOURCE.fullmatch(char) or len(entries) != 1:
            continue  # several entries: a prototype, listing the letters that look like it
        prototype = entries[0]["c"]
        reads = latin.get(prototype) or prototype.lower()
        if reads.isascii() and reads.isalpha():
            found[ord(char)] = reads
    return found


def _prototype(data: dict[str, list[dict[str, str]]], char: str) -> str:
    entries = data.get(char, [])
    mapped = len(entries) == 1 and entries[0]["c"].isascii()
    return entries[0]["c"] if mapped else char
