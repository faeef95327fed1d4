"""Model choice: /imagine's `model` option offers the models the bot runs (IMAGINE_MODELS),
a server's moderators set the default, and results say which model drew them."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.moderation import defaults
from bot.moderation.db import ModerationDb
from core.jobs import JobParams
from tests.fake_discord import DEFAULT_PERMISSIONS, FakeDiscord, FakeInteraction
from tests.support.bot_stack import Stack, full_stack

MANAGE_GUILD = 1 << 5
DEFERRED = 5
SD14 = {"name": "Stable Diffusion 1.4", "value": "sd14"}
SD21 = {"name": "Stable Diffusion 2.1", "value": "sd21"}


@pytest.fixture
async def two_models(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Stack]:
    async with full_stack(fake_discord, tmp_path, IMAGINE_MODELS="sd14,sd21") as running:
        yield running


def option(stack: Stack, command: str, name: str, sub: str | None = None) -> dict[str, Any]:
    """An option of a command as the bot registered it with Discord."""
    [found] = [c for c in stack.fake.guild_commands[stack.fake.guild.id] if c["name"] == command]
    options = found["options"]
    if sub is not None:
        options = next(o for o in options if o["name"] == sub)["options"]
    return dict(next(o for o in options if o["name"] == name))


async def queued(stack: Stack, interaction: FakeInteraction) -> JobParams:
    callback = await interaction.wait_callback()
    assert callback.type == DEFERRED, callback.data
    async with asyncio.timeout(10):
        while (job := await stack.store.get(interaction.id)) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return job.params


async def set_default_model(stack: Stack, model: str) -> str:
    """/imagine-admin defaults model:<model>, by a moderator; the private answer."""
    leaf = {
        "type": 1,
        "name": "defaults",
        "options": [{"name": "model", "type": 3, "value": model}],
    }
    interaction = await stack.fake.slash(
        "imagine-admin", [leaf], permissions=DEFAULT_PERMISSIONS | MANAGE_GUILD
    )
    callback = await interaction.wait_callback()
    assert callback.ephemeral
    return str(callback.data["content"])


async def test_the_model_option_offers_the_models_the_bot_runs(two_models: Stack) -> None:
    model = option(two_models, "imagine", "model")
    assert [{k: c[k] for k in ("name", "value")} for c in model["choices"]] == [SD14, SD21]
    admin = option(two_models, "imagine-admin", "model", sub="defaults")
    assert [c["value"] for c in admin["choices"]] == ["sd14", "sd21"]


async def test_the_chosen_model_reaches_the_job(two_models: Stack) -> None:
    chosen = await two_models.fake.slash("imagine", {"prompt": "a fox", "model": "sd21"})
    assert (await queued(two_models, chosen)).model == "sd21"
    left_out = await two_models.fake.slash("imagine", {"prompt": "a fox"})
    assert (await queued(two_models, left_out)).model == "sd14"  # the first of IMAGINE_MODELS


async def test_a_model_the_bot_does_not_run_is_refused_with_one_sentence(stack: Stack) -> None:
    assert option(stack, "imagine", "model")["choices"][0]["value"] == "sd14"
    assert len(option(stack, "imagine", "model")["choices"]) == 1
    interaction = await stack.fake.slash("imagine", {"prompt": "a fox", "model": "sd21"})
    callback = await interaction.wait_callback()
    assert callback.ephemeral
    assert callback.data["content"] == (
        "sd21 is not a model this bot runs; pick one of Stable Diffusion 1.4."
    )
    assert await stack.store.head() == 0  # nothing queued
    said = await set_default_model(stack, "sd21")
    assert said.startswith("sd21 is not a model this bot runs")


async def test_the_servers_default_model_applies_when_a_member_leaves_it_out(
    two_models: Stack,
) -> None:
    said = await set_default_model(two_models, "sd21")
    assert said.startswith("Saved.\n")
    assert "**Defaults for /imagine**: Stable Diffusion 2.1\n" in said
    member = two_models.fake.add_user("painter")
    left_out = await two_models.fake.slash("imagine", {"prompt": "a fox"}, user=member)
    assert (await queued(two_models, left_out)).model == "sd21"
    chosen = await two_models.fake.slash("imagine", {"prompt": "a fox", "model": "sd14"})
    assert (await queued(two_models, chosen)).model == "sd14"  # the member's choice wins


async def test_a_default_model_the_bot_no_longer_runs_gives_way_to_its_first(
    stack: Stack,
) -> None:
    guild_id = int(stack.fake.guild.id)
    saved = defaults.Defaults(model="sd21")  # set while the bot ran sd21 too
    await defaults.save(stack.bot.moderation.db, guild_id, saved, reset=False)
    interaction = await stack.fake.slash("imagine", {"prompt": "a fox"})
    assert (await queued(stack, interaction)).model == "sd14"


@pytest.mark.parametrize(
    ("locale", "field"), [("en-US", "Model"), ("ko", "모델"), ("zh-CN", "模型")]
)
async def test_the_result_says_which_model_drew_it(stack: Stack, locale: str, field: str) -> None:
    interaction = await stack.fake.slash("imagine", {"prompt": "a fox"}, locale=locale)
    final = await interaction.wait_original(lambda m: bool(m.attachments), 30)
    [embed] = final.embeds
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields[field] == "Stable Diffusion 1.4"


async def test_an_older_bot_database_gains_the_default_model(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    with sqlite3.connect(path) as old:  # mod_defaults as the first release made it
        old.execute(
            "CREATE TABLE mod_defaults (guild_id INTEGER PRIMARY KEY, count INTEGER,"
            " steps INTEGER, guidance REAL, size TEXT, sampler TEXT, negative_prompt TEXT)"
        )
        old.execute("INSERT INTO mod_defaults (guild_id, steps) VALUES (1, 9)")
    old.close()
    db = await ModerationDb.open(path)
    try:
        assert await defaults.load(db, 1) == defaults.Defaults(steps=9)
        await defaults.save(db, 1, defaults.Defaults(model="sd21"), reset=False)
        assert await defaults.load(db, 1) == defaults.Defaults(steps=9, model="sd21")
    finally:
        await db.close()
