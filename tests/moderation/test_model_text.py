"""The banned-word filter and the token counter read a prompt as KerasCV's tokenizer does.

KerasCV's own tokenizer code (tests/moderation/kerascv_tokenizer.py) runs beside
`clip_clean`, the counter and the filter on text chosen to tell them apart.
"""

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.moderation import words
from core.clip_tokens import ClipTokenCounter, clip_clean
from tests.moderation import kerascv_tokenizer
from tests.support.vocab import write_test_vocab

SAMPLES = [
    "a lighthouse at dusk",
    "  A Lighthouse\tAT\n\nDusk  ",
    "light&#104;ouse",  # character references, once and twice escaped
    "&#x6c;ighthouse",
    "lighthous&amp;#101;",
    "lighthous&amp;amp;#101;",  # three times: the tokenizer stops after two
    "AT&amp;T &lt;3 caf&eacute; &copy &notaref; &#0; &#x110000;",
    "a\x1cb\x1dc\x1ed\x1fe",  # "whitespace" to str.split, not to the regex module's \s
    "a\x85b\xa0c\u2028d\u3000e\u200bf\u180eg\ufeffh",
    "\u0130STANBUL, STRASSE, \u1e9e, \u03a3\u039f\u03a3, \u0130",  # lower() is not casefold()
    "nu\u0301de, nu\u20d2de, \uff4e\uff55de, \U0001d427\U0001d42e\U0001d41d\U0001d41e, nud\u0435",
    "猫がこたつで眠っている\uff0c水彩画 누드베이지 🌸❤️ 2girls 4k",
    "'s 're <|startoftext|> <|endoftext|>",
]


@pytest.fixture(scope="module")
def kerascv() -> SimpleNamespace:
    return kerascv_tokenizer.load()


@pytest.fixture(scope="module")
def vocab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_vocab(tmp_path_factory.mktemp("vocab") / "merges.txt.gz")


def kerascv_clean(kerascv: SimpleNamespace, text: str) -> str:
    """What SimpleTokenizer.encode cleans text to, as its first line does."""
    cleaned: str = kerascv.whitespace_clean(kerascv.basic_clean(text)).lower()
    return cleaned


@pytest.mark.parametrize("text", SAMPLES)
def test_clip_clean_is_what_the_tokenizer_encodes(kerascv: SimpleNamespace, text: str) -> None:
    assert clip_clean(text) == kerascv_clean(kerascv, text)


def test_clip_clean_is_what_the_tokenizer_encodes_on_random_text(kerascv: SimpleNamespace) -> None:
    pool = ["&", "#", ";", "x", "X", "amp", "lt", "1", "0", "4", "a", "Z", " ", "\t", "\n"]
    pool += ["\x1c", "\x85", "\xa0", "\u2028", "\u3000", "\u200b", "\u0130", "\u03a3", "\u0301"]
    rng = random.Random(15)
    texts = ["".join(rng.choices(pool, k=rng.randint(0, 40))) for _ in range(2000)]
    assert [clip_clean(text) for text in texts] == [kerascv_clean(kerascv, t) for t in texts]


def test_the_counter_counts_as_the_tokenizer(kerascv: SimpleNamespace, vocab: Path) -> None:
    counter = ClipTokenCounter(vocab)
    tokenizer: Any = kerascv.SimpleTokenizer(str(vocab))
    assert [counter.count(text) for text in SAMPLES] == [
        len(tokenizer.encode(text)) for text in SAMPLES
    ]


@pytest.mark.parametrize("text", SAMPLES)
def test_the_filter_starts_from_what_the_tokenizer_encodes(
    kerascv: SimpleNamespace, text: str
) -> None:
    assert words.normalize(text) == words.fold(kerascv_clean(kerascv, text))


@pytest.mark.parametrize(
    "text", ["light&#104;ouse", "&#x6c;ighthouse", "lighthous&amp;#101;", "LIGHT&amp;#X48;OUSE"]
)
def test_what_the_model_reads_as_a_banned_word_is_refused(
    kerascv: SimpleNamespace, vocab: Path, text: str
) -> None:
    tokenizer: Any = kerascv.SimpleTokenizer(str(vocab))
    assert tokenizer.decode(tokenizer.encode(text)[1:-1]).strip() == "lighthouse"
    assert words.WordList(["lighthouse"]).find(text) == ["lighthouse"]
