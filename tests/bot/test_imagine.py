"""/imagine through the fake Discord: the real bot, the real store, the real worker loop."""

import io
import sqlite3

import pytest
from PIL import Image

from tests.fake_discord import EPHEMERAL, Option
from tests.support.bot_stack import Stack

DEFERRED = 5
MESSAGE = 4


async def test_imagine_delivers_a_grid_into_the_status_message(stack: Stack) -> None:
    fake = stack.fake
    interaction = await fake.slash(
        "imagine", {"prompt": "a red fox", "count": 2, "steps": 3, "seed": 42, "size": "128x128"}
    )
    assert (await interaction.wait_callback()).type == DEFERRED
    final = await interaction.wait_original(lambda m: bool(m.attachments), 30)
    grid = Image.open(io.BytesIO(final.attachment_bytes(0)))
    assert grid.size == (256, 128)
    assert grid.format == "PNG"
    [embed] = final.embeds
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert embed["description"] == "a red fox"
    assert (fields["Seed"], fields["Size"], fields["Steps"]) == (
        "42",
        "128x128",
        "3 (DPM-Solver++ 2M)",
    )
    contents = [version.get("content") for version in final.versions]
    assert any(c and c.startswith("Queued") for c in contents), contents
    assert interaction.followups == []  # one message, edited: never a second one
    [request] = stack.engine.batches[0]
    assert (request.prompt, request.seed, request.count, request.steps) == ("a red fox", 42, 2, 3)


async def test_usage_row_is_written_once_on_delivery(stack: Stack) -> None:
    interaction = await stack.fake.slash("imagine", {"prompt": "a boat", "count": 3})
    await interaction.wait_original(lambda m: bool(m.attachments), 30)
    await stack.fake.wait_for(lambda: _usage(stack), 10)
    [(guild, user, images, width, height)] = _usage(stack)
    assert (str(guild), str(user), images, width, height) == (
        stack.fake.guild.id,
        stack.fake.user.id,
        3,
        128,
        128,
    )


def _usage(stack: Stack) -> list[tuple[int, int, int, int, int]]:
    with sqlite3.connect(stack.bot_db) as db:
        return db.execute("SELECT guild_id, user_id, images, width, height FROM usage").fetchall()


async def test_progress_is_shown_while_running(stack: Stack) -> None:
    stack.engine.step_seconds = 0.2
    interaction = await stack.fake.slash("imagine", {"prompt": "slow", "steps": 20})
    running = await interaction.wait_original(lambda m: m.content.startswith("Drawing: step"), 30)
    assert "of 20" in running.content
    final = await interaction.wait_original(lambda m: bool(m.attachments), 30)
    assert final.max_edits_within(5.0) <= 5  # Discord's edit rate limit


@pytest.mark.parametrize(
    ("options", "reply"),
    [
        ({"prompt": "   "}, "Your prompt is empty"),
        ({"prompt": "x", "count": 0}, "count must be between 1 and 4"),
        ({"prompt": "x", "steps": 10**9}, "steps must be between 1 and 100"),
        ({"prompt": "x", "guidance": Option(float("nan"), 10)}, "guidance must be between"),
        ({"prompt": "x", "size": "640x640"}, "640x640 is not offered here"),
        ({"prompt": "a " * 80}, "Your prompt is 82 tokens long"),
    ],
)
async def test_bad_input_gets_one_ephemeral_sentence_and_queues_nothing(
    stack: Stack, options: dict[str, object], reply: str
) -> None:
    interaction = await stack.fake.slash("imagine", options)
    callback = await interaction.wait_callback()
    assert callback.type == MESSAGE
    assert callback.data["flags"] & EPHEMERAL
    assert callback.data["content"].startswith(reply), callback.data["content"]
    assert await stack.store.head() == 0  # no job was ever queued
