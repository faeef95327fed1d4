"""Three languages: every message in each, commands translated for Discord, and members
answered in their own Discord language."""

import string

import pytest
from discord import Locale, app_commands

from bot.i18n import COMMANDS, DEFAULT_LOCALE, MESSAGES, CommandTranslator
from tests.support.bot_stack import Stack

LANGUAGES = ("zh-CN", "ko")


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("locale", LANGUAGES)
def test_every_message_exists_in_every_language_with_the_same_placeholders(
    locale: str,
) -> None:
    english, other = MESSAGES[DEFAULT_LOCALE], MESSAGES[locale]
    assert sorted(other) == sorted(english)
    for key, template in english.items():
        assert placeholders(other[key]) == placeholders(template), key


def texts_of(command: app_commands.Command | app_commands.Group) -> set[str]:  # type: ignore[type-arg]
    """Every name and description Discord shows for a command or a group, choices included."""
    texts = {command.name, command.description}
    if isinstance(command, app_commands.Group):
        for child in command.commands:
            texts |= texts_of(child)
        return texts
    for parameter in command.parameters:
        texts |= {parameter.name, parameter.description}
        texts |= {choice.name for choice in parameter.choices}
    return texts


@pytest.mark.parametrize("locale", LANGUAGES)
async def test_every_command_text_is_translated(stack: Stack, locale: str) -> None:
    commands = stack.bot.tree.get_commands()
    assert {c.name for c in commands} >= {"imagine", "queue", "history", "quota", "imagine-admin"}
    for command in commands:
        assert isinstance(command, app_commands.Command | app_commands.Group)
        missing = texts_of(command) - set(COMMANDS[locale])
        assert missing == set(), f"{command.name}: {missing}"


async def test_discord_receives_the_localized_command(stack: Stack) -> None:
    [imagine] = [
        c for c in stack.fake.guild_commands[stack.fake.guild.id] if c["name"] == "imagine"
    ]
    assert imagine["name_localizations"] == {"zh-CN": "生成图片", "ko": "그림"}
    prompt = next(o for o in imagine["options"] if o["name"] == "prompt")
    assert prompt["description_localizations"]["ko"] == "무엇을 그릴지"


async def test_translator_leaves_other_languages_to_english() -> None:
    translator = CommandTranslator()
    text = app_commands.locale_str("imagine")
    context = app_commands.TranslationContext(
        app_commands.TranslationContextLocation.command_name, None
    )
    assert await translator.translate(text, Locale.french, context) is None


@pytest.mark.parametrize(
    ("locale", "refusal", "queued"),
    [
        ("zh-CN", "提示词是空的", "排队中"),
        ("ko", "프롬프트가 비어 있습니다", "대기 중"),
        ("en-GB", "Your prompt is empty", "Queued"),
    ],
)
async def test_members_are_answered_in_their_language(
    stack: Stack, locale: str, refusal: str, queued: str
) -> None:
    refused = await stack.fake.slash("imagine", {"prompt": " "}, locale=locale)
    assert (await refused.wait_callback()).data["content"].startswith(refusal)
    stack.engine.step_seconds = 0.1
    accepted = await stack.fake.slash("imagine", {"prompt": "a cat", "steps": 5}, locale=locale)
    final = await accepted.wait_original(lambda m: bool(m.attachments), 30)
    assert any(str(v.get("content", "")).startswith(queued) for v in final.versions)
