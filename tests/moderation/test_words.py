"""Banned words: normalization, whole-word matching, and the moderators' commands."""

import time

import pytest

from bot.moderation.words import WordList, canonical, parse
from tests.moderation.helpers import World, accepted, admin, answer, configure, imagine

REFUSED = "This prompt can't be used in this server. Please describe something else."


def fullwidth(text: str) -> str:
    """ASCII letters as their full-width forms (U+FF01..U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def banned(*words: str) -> WordList:
    return WordList([canonical(word) for word in words])


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


@pytest.mark.parametrize("prompt", ["a nudes statue", "denuded hills", "a nu de statue", "nud"])
def test_only_whole_words_match(prompt: str) -> None:
    assert banned("nude").find(prompt) == []


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
    for prompt in (f"a {fullwidth('nude')} figure", "A Blood Bath", "nüde"):
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
