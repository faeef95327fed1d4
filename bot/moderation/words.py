"""Banned words: plain words and phrases a server's moderators list, never patterns.

Text is compared as the model will read it. First exactly what CLIP's tokenizer does
(`clip_clean`: HTML character references resolved twice, whitespace, lower case), so
"light&#104;ouse" and "lighthous&amp;#101;" are "lighthouse" here as they are there.
Then what could hide a word from a plain comparison but not from a reader: Unicode
compatibility forms (full-width, mathematical letters) become plain letters (NFKC);
combining marks are dropped (accents, overlays, variation selectors), except those a
script writes with, on its own letters (Hindi vowel signs, the Japanese sound marks);
invisible characters are removed (format characters and the rest of Unicode's default
ignorables: a zero-width space cannot split a word); case is folded. Banned words are
read the same way, so "Café" is stored as "cafe".

Matching compares word tokens: a word matches only whole tokens, so "ass" does not
refuse "class". There letters from other alphabets that look like Latin ones read as
those (Cyrillic o U+043E, see `lookalikes`), and letters and digits are tokens apart,
as the tokenizer splits them, so "nude2" holds "nude". Chinese and Japanese are written
without spaces: each of their characters is a token of its own, so a banned word in
those scripts matches wherever its characters appear together. Latin, Greek or
Cyrillic letters spelled out one at a time ("n u d e", "n.u.d.e") are read joined up,
and a banned word is found anywhere in them, since spacing hides where words end.

Matching is a scan over tokens with a set lookup per phrase start, plus a substring
search in the rare runs of spelled-out letters: no regular expression is built from
anyone's input.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

import regex

from bot.moderation import lookalikes
from bot.moderation.db import ModerationDb
from core.clip_tokens import clip_clean

MAX_WORDS = 500  # per server
MAX_WORD_CHARS = 100
DEFAULT_WORDS: tuple[str, ...] = ()  # servers decide for themselves; none until they do

_INVISIBLE = regex.compile(r"[\p{Cf}\p{Default_Ignorable_Code_Point}]+")
# A base character and the marks on it. Marks a script writes with stay on that
# script's letters; on Latin, Greek and Cyrillic letters, and everywhere for the marks
# of no script in particular (accents, U+20D2 overlays, U+FE0F), a mark is decoration.
_MARKS = regex.compile(r"\p{M}+")
_WRITES_WITH_MARKS = regex.compile(
    r"[\p{L}--[\p{sc=Latin}\p{sc=Greek}\p{sc=Cyrillic}\p{sc=Common}]]", regex.VERSION1
)
_OWN_MARKS = regex.compile(r"[\p{M}--[\p{sc=Inherited}\p{sc=Common}]]+", regex.VERSION1)
_KANA = regex.compile(r"[\p{scx=Hiragana}\p{scx=Katakana}]")
_SOUND_MARKS = regex.compile(r"[\u3099\u309a]+")  # "か" + U+3099 is "が", not an accent
# One token per Han or kana letter (by script extension, so the long-vowel mark "ー"
# counts); a run of other letters, digits and marks.
_SPACELESS = r"[[\p{L}\p{M}\p{N}]&&[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}]]"
_TOKEN = regex.compile(rf"{_SPACELESS}|[[\p{{L}}\p{{M}}\p{{N}}]--{_SPACELESS}]+", regex.VERSION1)
_ONE_SPACELESS = regex.compile(_SPACELESS, regex.VERSION1)
# What matching compares: as `_TOKEN`, but letters and digits apart, as the tokenizer
# splits them ("nude2" holds "nude"); a number stays whole, so "69" does not match "1969".
_KEY = regex.compile(rf"{_SPACELESS}|[[\p{{L}}\p{{M}}]--{_SPACELESS}]+|\p{{N}}+", regex.VERSION1)
_SPELLABLE = regex.compile(r"[\p{sc=Latin}\p{sc=Greek}\p{sc=Cyrillic}]", regex.VERSION1)


def normalize(text: str) -> str:
    """`text` as the filter reads it, before look-alike letters (for showing words)."""
    return fold(clip_clean(text))


def fold(model_text: str) -> str:
    """What the filter adds to the tokenizer's own cleaning (see the module's doc)."""
    if model_text.isascii():  # none of it applies, and most prompts are
        return model_text
    decomposed = _INVISIBLE.sub("", unicodedata.normalize("NFKD", model_text))
    plain = _MARKS.sub(_keep_own_marks, decomposed)
    return unicodedata.normalize("NFKC", plain).casefold()


def _keep_own_marks(found: regex.Match[str]) -> str:
    """The marks of a run that stay: those on the character before it that its script
    writes with."""
    base = found.string[found.start() - 1] if found.start() else ""
    if _KANA.fullmatch(base):
        return "".join(_SOUND_MARKS.findall(found.group()))
    if _WRITES_WITH_MARKS.fullmatch(base):
        return "".join(_OWN_MARKS.findall(found.group()))
    return ""


def tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(normalize(text)))


def keys(text: str) -> tuple[str, ...]:
    """The tokens matching compares: look-alike letters read as Latin, numbers apart."""
    text = normalize(text)
    return tuple(_KEY.findall(text if text.isascii() else text.translate(lookalikes.table())))


def canonical(word: str) -> str:
    """The stored (and shown) form of a banned word: its tokens, a single space between
    two unless both are Chinese or Japanese characters ("" without letters or digits)."""
    text = ""
    for token in tokens(word):
        joined = _ONE_SPACELESS.fullmatch(token) and _ONE_SPACELESS.fullmatch(text[-1:])
        text += token if not text or joined else " " + token
    return text


class _Spelled(NamedTuple):
    start: int  # index of its first letter among the keys
    letters: str


class WordList:
    """A server's banned words, ready to match."""

    def __init__(self, words: list[str]) -> None:
        # By first token: each place in a text is compared with the few phrases that
        # start with the token found there.
        self._phrases: dict[str, dict[tuple[str, ...], str]] = {}
        # Joined up, for letters spelled out one at a time ("blood bath": "bloodbath").
        self._spellings: dict[str, str] = {}
        for word in words:
            phrase = keys(word)
            if phrase:
                self._phrases.setdefault(phrase[0], {})[phrase] = word
            letters = "".join(phrase)
            if len(letters) > 1 and all(_SPELLABLE.fullmatch(c) for c in letters):
                self._spellings.setdefault(letters, word)

    def find(self, text: str) -> list[str]:
        """The banned words in `text`, in order of appearance."""
        if not self._phrases:
            return []  # most servers ban nothing
        words = keys(text)
        found: dict[str, int] = {}  # word: where it first appears
        for start, token in enumerate(words):
            for phrase, word in self._phrases.get(token, {}).items():
                if words[start : start + len(phrase)] == phrase:
                    found.setdefault(word, start)
        for run in _spelled_out(words) if self._spellings else ():
            for letters, word in self._spellings.items():
                at = run.letters.find(letters)
                if at >= 0:
                    found[word] = min(found.get(word, at + run.start), at + run.start)
        return sorted(found, key=found.__getitem__)


def _spelled_out(words: tuple[str, ...]) -> list[_Spelled]:
    """Runs of two or more single Latin, Greek or Cyrillic letters, joined up."""
    runs: list[_Spelled] = []
    start = 0
    for end in range(len(words) + 1):
        if end < len(words) and len(words[end]) == 1 and _SPELLABLE.match(words[end]):
            continue
        if end - start > 1:
            runs.append(_Spelled(start, "".join(words[start:end])))
        start = end + 1
    return runs


async def load(db: ModerationDb, guild_id: int) -> list[str]:
    found = await db.all("SELECT word FROM mod_words WHERE guild_id = ? ORDER BY word", (guild_id,))
    return [row[0] for row in found] or list(DEFAULT_WORDS)


async def add(db: ModerationDb, guild_id: int, words: list[str]) -> list[str]:
    """Adds words (stored in their normalized form); returns those that were new."""
    added: list[str] = []
    async with db.transaction() as tx:
        for word in words:
            cursor = await tx.execute(
                "INSERT OR IGNORE INTO mod_words (guild_id, word) VALUES (?, ?)", (guild_id, word)
            )
            if cursor.rowcount:
                added.append(word)
    return added


async def remove(db: ModerationDb, guild_id: int, words: list[str]) -> list[str]:
    removed: list[str] = []
    async with db.transaction() as tx:
        for word in words:
            cursor = await tx.execute(
                "DELETE FROM mod_words WHERE guild_id = ? AND word = ?", (guild_id, word)
            )
            if cursor.rowcount:
                removed.append(word)
    return removed


async def count(db: ModerationDb, guild_id: int) -> int:
    found = await db.one("SELECT COUNT(*) FROM mod_words WHERE guild_id = ?", (guild_id,))
    return int(found[0]) if found else 0


def parse(text: str) -> list[str]:
    """Words as a moderator types them: separated by commas (Latin, full-width or
    ideographic) or new lines."""
    found = (canonical(part) for part in regex.split(r"[,\n\uff0c\u3001]", text))
    return list(dict.fromkeys(word for word in found if word))
