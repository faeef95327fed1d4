"""Discord misbehaving, through the fake: rate limits, server errors, an expired
interaction token, uploads too large, a dropped gateway. Every result still arrives,
exactly once, in its status message."""

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.fake_discord import FakeDiscord, FakeInteraction, FakeMessage
from tests.support.bot_stack import Stack, full_stack

pytestmark = pytest.mark.timeout(120)
BOT_EDITS = r"/webhooks/\d+/[^/]+/messages/\d+$"  # the bot's edits of a status message


async def imagine(stack: Stack, prompt: str = "a fox", **options: object) -> FakeInteraction:
    return await stack.fake.slash("imagine", {"prompt": prompt, **options})


async def delivered_once(interaction: FakeInteraction) -> FakeMessage:
    final = await interaction.wait_original(lambda m: bool(m.attachments), 60)
    assert sum(1 for v in final.versions if v.get("attachments")) == 1
    assert interaction.followups == []
    return final


async def test_rate_limited_edits_are_retried(stack: Stack) -> None:
    rule = stack.fake.fail_next("PATCH", BOT_EDITS, 429, times=2, retry_after=0.2)
    await delivered_once(await imagine(stack))
    assert rule.hits == 2


@pytest.mark.parametrize(("status", "times"), [(502, 2), (500, 5)])
async def test_server_errors_are_retried_until_delivered(
    stack: Stack, status: int, times: int
) -> None:
    # Five 500s outlast discord.py's own retries: the bot's retry loop delivers it later.
    rule = stack.fake.fail_next("PATCH", BOT_EDITS, status, times=times)
    await delivered_once(await imagine(stack))
    assert rule.hits == times


async def test_an_expired_token_falls_back_to_the_bot_token(stack: Stack) -> None:
    stack.engine.step_seconds = 0.05
    interaction = await imagine(stack, steps=100, size="256x128")
    await interaction.wait_original(lambda m: m.content.startswith("Drawing"))
    interaction.expire()  # 401 with code 50027 from now on
    final = await delivered_once(interaction)
    channel_edits = [
        r
        for r in stack.fake.requests
        if r.method == "PATCH" and r.path.endswith(f"/messages/{final.id}") and r.auth == "bot"
    ]
    assert channel_edits
    assert all(r.path.startswith("/channels/") for r in channel_edits)
    # The bytes that came through the bot's route are the whole grid, not an empty file.
    with Image.open(io.BytesIO(final.attachment_bytes(0))) as grid:
        assert (grid.format, grid.size) == ("PNG", (256, 128))


async def test_uploads_retried_through_the_bot_token_are_whole(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """The token dies between two previews: the edit that finds it dead is sent again
    through the channel route, previews and grid with their full bytes."""
    async with full_stack(fake_discord, tmp_path, preview_seconds=0.2) as stack:
        stack.engine.step_seconds = 0.1
        interaction = await imagine(stack, steps=40)
        await interaction.wait_original(lambda m: bool(m.attachments))  # a first preview
        interaction.expire()
        final = await interaction.wait_original(
            lambda m: any(a["filename"].startswith("imagine-") for a in m.attachments), 60
        )
    fallbacks = [
        r for r in stack.fake.requests if r.path.startswith("/channels/") and r.method == "PATCH"
    ]
    assert any(r.files for r in fallbacks)  # uploads went through the bot's route
    assert all(size > 0 for r in fallbacks for _, size in r.files)
    shown = {a["id"]: a for v in final.versions for a in v.get("attachments") or []}
    for attachment in shown.values():
        with Image.open(io.BytesIO(stack.fake.blob(attachment["id"]))) as image:
            image.load()  # decodes: not an empty or cut file
            assert image.size == (
                (64, 64) if attachment["filename"].startswith("preview-") else (128, 128)
            )


async def test_a_result_too_large_for_the_server_is_encoded_smaller(stack: Stack) -> None:
    stack.engine.step_seconds = 0.1
    interaction = await imagine(stack, steps=10, count=4)
    await interaction.wait_callback()
    interaction.attachment_size_limit = 40_000  # the server lost its boost meanwhile
    final = await delivered_once(interaction)
    data = final.attachment_bytes(0)
    assert len(data) <= 40_000
    assert Image.open(io.BytesIO(data)).format in ("WEBP", "JPEG")
    assert any(r.status == 413 for r in stack.fake.requests)


async def test_the_upload_limit_given_in_the_interaction_is_respected(stack: Stack) -> None:
    interaction = await stack.fake.slash(
        "imagine", {"prompt": "a fox", "count": 4}, attachment_size_limit=50_000
    )
    final = await delivered_once(interaction)
    assert len(final.attachment_bytes(0)) <= 50_000
    assert not any(r.status == 413 for r in stack.fake.requests)


async def test_a_dropped_gateway_loses_nothing(stack: Stack) -> None:
    stack.engine.step_seconds = 0.05
    before = await imagine(stack, "before", steps=20)
    await before.wait_callback()
    await stack.fake.drop_gateway()
    after = await imagine(stack, "after")
    await delivered_once(before)
    await delivered_once(after)
