"""Banned words: plain words and phrases a server's moderators list, never patterns.

Text and words are compared as sequences of word tokens after the same normalization:
Unicode NFKC (full-width and other compatibility forms become plain letters), accents
on Latin, Greek and Cyrillic letters dropped ("Café" reads as "cafe"), invisible
format characters removed (a zero-width space cannot split a word), case folded. A
word matches only whole tokens, so "ass" does not refuse "class". Chinese and Japanese
are written without spaces: each of their characters is a token of its own, so a
banned word in those scripts matches wherever its characters appear together.

Matching is a scan over tokens with a set lookup per phrase start: linear in the text,
whatever the list holds (no regular expression is built from anyone's input).
"""

from __future__ import annotations

import unicodedata

import regex

from bot.moderation.db import ModerationDb

MAX_WORDS = 500  # per server
MAX_WORD_CHARS = 100
DEFAULT_WORDS: tuple[str, ...] = ()  # servers decide for themselves; none until they do

# Combining Diacritical Marks only: the Japanese sound marks (U+3099, U+309A) and the
# like stay, so folding accents never changes a kana.
_ACCENTS = range(0x0300, 0x0370)
# One token per Han or kana letter (by script extension, so the long-vowel mark "ー"
# counts); a run of other letters, digits and marks.
_SPACELESS = r"[[\p{L}\p{M}\p{N}]&&[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}]]"
_TOKEN = regex.compile(rf"{_SPACELESS}|[[\p{{L}}\p{{M}}\p{{N}}]--{_SPACELESS}]+", regex.VERSION1)
_ONE_SPACELESS = regex.compile(_SPACELESS, regex.VERSION1)


def normalize(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = (c for c in decomposed if ord(c) not in _ACCENTS and unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", "".join(kept)).casefold()


def tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(normalize(text)))


def canonical(word: str) -> str:
    """The stored (and shown) form of a banned word: its tokens, a single space between
    two unless both are Chinese or Japanese characters ("" without letters or digits)."""
    text = ""
    for token in tokens(word):
        joined = _ONE_SPACELESS.fullmatch(token) and _ONE_SPACELESS.fullmatch(text[-1:])
        text += token if not text or joined else " " + token
    return text


class WordList:
    """A server's banned words, ready to match."""

    def __init__(self, words: list[str]) -> None:
        # By first token: each place in a text is compared with the few phrases that
        # start with the token found there.
        self._phrases: dict[str, dict[tuple[str, ...], str]] = {}
        for word in words:
            phrase = tokens(word)
            if phrase:
                self._phrases.setdefault(phrase[0], {})[phrase] = word

    def find(self, text: str) -> list[str]:
        """The banned words in `text`, in order of appearance."""
        found: list[str] = []
        words = tokens(text)
        for start, token in enumerate(words):
            for phrase, word in self._phrases.get(token, {}).items():
                if words[start : start + len(phrase)] == phrase and word not in found:
                    found.append(word)
        return found


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
