"""Banned words: normalization, whole-word matching, and the moderators' commands."""

import random
import string
import time
from pathlib import Path

import pytest

from bot.moderation.words import WordList, canonical, parse
from tests.moderation.helpers import World, accepted, admin, answer, configure, imagine

REFUSED = "This prompt can't be used in this server. Please describe something else."
# A server's list as moderators write one: English, Chinese, Japanese and Korean words.
BANNED = [
    "nude", "naked", "nsfw", "porn", "sex", "hentai", "loli", "topless", "nipples",
    "genitals", "penis", "vagina", "ass", "dick", "cum", "rape", "anal", "cock", "gore",
    "blood bath", "beheading", "suicide", "swastika", "nazi",
    "血腥", "色情", "裸体", "ヌード", "누드", "섹스",
]  # fmt: skip
ORDINARY = Path(__file__).with_name("ordinary_prompts.txt")


def fullwidth(text: str) -> str:
    """ASCII letters as their full-width forms (U+FF01..U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def banned(*words: str) -> WordList:
    return WordList([canonical(word) for word in words])


def ordinary_prompts() -> list[str]:
    return [line for line in ORDINARY.read_text("utf-8").splitlines() if line[:1] not in "#"]


@pytest.mark.parametrize(
    "prompt",
    [
        "a nude statue",  # as written
        "a NUDE statue",  # case
        "a Nude statue",
        f"a {fullwidth('nude')} statue",  # full-width letters
        f"a {fullwidth('NUDE')} statue",
        "a nüde statue",  # an accent added
        "a nu\u0301de statue",  # a combining accent
        "a nu\u200bde statue",  # a zero-width space inside the word
        "a statue, nude.",  # punctuation around it
        "nude_statue",  # an underscore is no letter
        "\U0001d427\U0001d42e\U0001d41d\U0001d41e statue",  # mathematical bold letters
    ],
)
def test_variants_of_a_banned_word_are_found(prompt: str) -> None:
    assert banned("nude").find(prompt) == ["nude"]


# Each way of writing "lighthouse" or "nude" so that a plain comparison misses it while
# the model still reads the word (docs/moderation.md has the table).
BYPASSES = {
    "html references": [
        ("lighthouse", "a light&#104;ouse at dusk"),  # decimal
        ("lighthouse", "a &#x6c;ighthouse at dusk"),  # hexadecimal
        ("lighthouse", "a lighthous&amp;#101; at dusk"),  # escaped twice
        ("lighthouse", "a LIGHT&amp;#X48;OUSE at dusk"),  # escaped twice, upper case
        ("lighthouse", "a light&shy;house at dusk"),  # a named soft hyphen
        ("lighthouse", "a light&ZeroWidthSpace;house at dusk"),
    ],
    "combining marks": [
        ("nude", "a nu\ufe0fde statue"),  # variation selector 16
        ("nude", "a n\u20d2ude statue"),  # combining long vertical line overlay
        ("nude", "a nu\u1ab0de statue"),  # combining diacritical marks extended
        ("nude", "a nud\u1dc0e statue"),  # combining diacritical marks supplement
        ("nude", "a nude\ufe20 statue"),  # combining half marks
        ("nude", "a nu\u20ddde statue"),  # enclosing circle (Me)
        ("nude", "a nu\u0941de statue"),  # a Devanagari vowel sign on Latin letters
    ],
    "invisible characters": [
        ("nude", "a nu\u200dde statue"),  # zero-width joiner
        ("nude", "a n\u2060ude statue"),  # word joiner
        ("nude", "a nud\ufeffe statue"),  # zero-width no-break space
        ("nude", "a n\u00adude statue"),  # soft hyphen
        ("nude", "a nu\u3164de statue"),  # Hangul filler: a letter, but default-ignorable
        ("nude", "a nu\U000e0041de statue"),  # a tag character
    ],
    "look-alike letters": [
        ("nude", "a nud\u0435 statue"),  # Cyrillic ie
        ("nude", "a n\u03c5de statue"),  # Greek upsilon
        ("nude", "a \u0578\u057dde statue"),  # Armenian vo and seh
        ("nude", "a nu\u0501e statue"),  # Cyrillic komi de
        ("lighthouse", "a l\u0456ghth\u043eus\u0435 at dusk"),  # Cyrillic i, o and ie
        ("lighthouse", "a lighth\u03bf\u03c5se at dusk"),  # Greek omicron, upsilon
        ("lighthouse", "a \u01c0ighthouse at dusk"),  # Latin letter dental click
    ],
    "spaced-out letters": [
        ("lighthouse", "a l i g h t h o u s e at dusk"),
        ("lighthouse", "a l.i.g.h.t.h.o.u.s.e at dusk"),
        ("lighthouse", "a l-i-g-h-t-h-o-u-s-e at dusk"),
        ("lighthouse", "a L_I_G_H_T_H_O_U_S_E at dusk"),
        ("nude", "a n / u / d / e statue"),
        ("nude", "a n\u00b7u\u00b7d\u00b7e statue"),  # middle dots
        ("blood bath", "a b l o o d b a t h"),
    ],
    "digits joined on": [
        ("nude", "a nude2 statue"),
        ("nude", "a 2nude statue"),
        ("nude", "1nude1 statue"),
    ],
}


@pytest.mark.parametrize(
    ("word", "prompt"),
    [example for examples in BYPASSES.values() for example in examples],
)
def test_bypasses_of_a_banned_word_are_found(word: str, prompt: str) -> None:
    assert banned(word).find(prompt) == [word]


@pytest.mark.parametrize(
    "prompt", ["a nudes statue", "denuded hills", "a nu de statue", "nud", "n u d", "nu d e"]
)
def test_only_whole_words_match(prompt: str) -> None:
    assert banned("nude").find(prompt) == []


def test_numbers_match_whole() -> None:
    words = banned("69", "420")
    assert words.find("a 1969 poster, 4200 stars, 1420 ad") == []
    assert words.find("a 69th poster, sex420") == ["69", "420"]


def test_look_alikes_never_change_plain_letters() -> None:
    """Unicode's skeletons map "m" to "rn", "d" to "cl" and "l" to "I": applied to plain
    words they would make "burn" read "bum" and "click" read "dick"."""
    words = banned("bum", "dick", "modem", "lI")
    assert words.find("burn the click of a modern ll") == []


def test_look_alikes_leave_chinese_japanese_and_korean_alone() -> None:
    # The data pairs katakana "エ" "ロ" with Han "工" "口" (handmade lipstick below), and
    # Hangul "ㅣ" with Han "丨".
    assert banned("エロ").find("手工口红") == []
    assert banned("丨").find("ㅣ") == []
    assert banned("nude").find("ヌード") == []


def test_spelled_out_letters_are_matched_in_order_of_appearance() -> None:
    words = banned("gore", "nude", "blood bath")
    assert words.find("g o r e, then nude and b.l.o.o.d b.a.t.h") == ["gore", "nude", "blood bath"]
    assert words.find("n u d e then gore") == ["nude", "gore"]


def test_ordinary_prompts_are_not_refused() -> None:
    """200 prompts (landscapes, portraits, artists, styles, CJK and Korean, emoji, numbers,
    HTML entities, letters on their own, banned words inside longer words) against a
    list of 30 banned words: not one false positive."""
    prompts = ordinary_prompts()
    words = banned(*BANNED)
    assert len(prompts) == 200
    assert {prompt: words.find(prompt) for prompt in prompts if words.find(prompt)} == {}
    for word in BANNED:  # while the list finds each of its words
        assert words.find(f"a photo, {word}, 4k") == [canonical(word)]


def test_a_banned_word_with_an_accent_matches_with_or_without_it() -> None:
    words = banned("Café")
    assert words.find("CAFÉ au lait") == ["cafe"]
    assert words.find("cafe\u0301") == ["cafe"]
    assert words.find("cafe") == ["cafe"]


def test_phrases_match_as_a_whole() -> None:
    words = banned("blood bath")
    assert words.find("a Blood  Bath at dawn") == ["blood bath"]
    assert words.find("blood on a bath") == []


def test_chinese_and_japanese_match_inside_text_without_spaces() -> None:
    words = banned("血腥", "ヌード")
    assert words.find("一张血腥的图片") == ["血腥"]
    assert words.find("ヌード写真") == ["ヌード"]
    assert words.find("血") == []
    assert banned("が").find("か") == []  # sound marks are not accents


def test_matching_stays_linear_on_hostile_input() -> None:
    words = banned(*(f"word{i}" for i in range(500)), "a a a a a a a a b")
    hostile = "a " * 5000 + fullwidth("a") * 5000
    started = time.perf_counter()
    assert words.find(hostile) == []
    assert time.perf_counter() - started < 1.0


def test_a_thousand_prompts_against_a_hundred_words() -> None:
    """The load the filter is sized for: prompts of 100 to 1000 characters made of the
    ordinary ones (every script in them), a list of 100 words. About 0.3 s on a shared
    2-core machine (docs/moderation.md); the bound leaves room for a slow CI."""
    rng = random.Random(15)
    ordinary = ordinary_prompts()
    cut = (", ".join(rng.sample(ordinary, 40))[: rng.randint(100, 1001)] for _ in range(1000))
    prompts = [text.rsplit(" ", 1)[0] for text in cut]  # no half word: "cock" of "cockpit"
    letters = string.ascii_lowercase
    made_up = ("".join(rng.choices(letters, k=rng.randint(4, 10))) for _ in range(70))
    words = banned(*BANNED, *made_up)
    started = time.perf_counter()
    found = [words.find(prompt) for prompt in prompts]
    assert time.perf_counter() - started < 5.0
    assert not any(found)


def test_spelled_out_letters_stay_fast_against_a_full_list() -> None:
    """Every banned word is looked for in a run of spelled-out letters: 500 words of up
    to 100 letters in 10,000 characters of them, marks and look-alikes included."""
    words = banned(*("ab" * (i % 50) + "c" * (1 + i // 50) for i in range(500)))
    for hostile in ("a b " * 2500, "a\u0301 b\u200b " * 2000, "\u0430 b " * 2500):
        started = time.perf_counter()
        assert words.find(hostile) == []
        assert time.perf_counter() - started < 1.0


def test_moderators_type_words_separated_by_commas() -> None:
    typed = f"Nude, gore\n{fullwidth('GORE')}\uff0c血腥\u3001  , "  # full-width, ideographic commas
    assert parse(typed) == ["nude", "gore", "血腥"]


async def test_banned_words_are_added_listed_removed_and_refuse_prompts(world: World) -> None:
    added = await answer(await admin(world, "words add", {"words": "Nude, blood bath"}))
    assert added == "Banned 2 new word(s): `nude`, `blood bath`"
    again = await answer(await admin(world, "words add", {"words": "NUDE"}))
    assert again == "Banned 0 new word(s): -"
    listed = await answer(await admin(world, "words list"))
    assert listed == "Banned words (2): `blood bath`, `nude`"
    bypasses = ("n&amp;#117;de", "n u d e", "nud\u0435", "nu\u20d2de", "n\u2060ude")
    for prompt in (f"a {fullwidth('nude')} figure", "A Blood Bath", "nüde", *bypasses):
        assert await answer(await imagine(world, prompt)) == REFUSED
    refused = await imagine(world, "a figure", negative_prompt="not nude")
    assert await answer(refused) == REFUSED
    assert await world.stack.store.head() == 0  # nothing was queued
    removed = await answer(await admin(world, "words remove", {"words": "nude"}))
    assert removed == "Allowed 1 word(s) again: `nude`"
    assert await accepted(await imagine(world, "a nude figure"))


async def test_a_new_server_bans_nothing_and_empty_input_is_refused(world: World) -> None:
    assert await answer(await admin(world, "words list")) == "This server bans no words."
    refused = await answer(await admin(world, "words add", {"words": " , ;"}))
    assert refused.startswith("No words given")


async def test_a_refused_prompt_is_logged_for_moderators(world: World) -> None:
    await configure(world, "audit", {"channel": world.a.audit})
    await configure(world, "words add", {"words": "gore"})
    offender = world.fake.add_user("offender")
    assert await answer(await imagine(world, "so much GORE", user=offender)) == REFUSED
    [post] = await world.fake.wait_for(lambda: world.fake.messages(world.a.audit))
    [embed] = post.embeds
    assert embed["title"] == "Prompt refused"
    assert embed["description"] == "||so much GORE||"
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert fields == {"Requester": f"<@{offender.id}>", "Banned words": "||gore||"}
    assert post.custom_ids == [f"mod:block:{offender.id}"]
