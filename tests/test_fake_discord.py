"""The fake Discord works with a real discord.py 2.7 client: slash commands, buttons, faults."""

from __future__ import annotations

import asyncio
import io
import math
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from PIL import Image

from tests.fake_discord import FakeDiscord, Option, Upload, run_client

pytestmark = pytest.mark.timeout(60)


def png_bytes(size: tuple[int, int] = (8, 6), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


class Reroll(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"reroll:(?P<job>\d+)"):
    def __init__(self, job: int) -> None:
        super().__init__(discord.ui.Button(label="Reroll", custom_id=f"reroll:{job}"))
        self.job = job

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Reroll:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message(f"rerolling {self.job}", ephemeral=True)


class Cancel(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"cancel:(?P<job>\d+)"):
    def __init__(self, job: int) -> None:
        super().__init__(discord.ui.Button(label="Cancel", custom_id=f"cancel:{job}"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Cancel:
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.edit_message(content="cancelled", view=None)


class ImagineBot(commands.Bot):
    """A small bot shaped like the real one: a guild-synced /imagine, buttons, a few probes."""

    def __init__(self, guild_id: str) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.1,
        )
        self.guild = discord.Object(int(guild_id))
        self.seen: asyncio.Queue[Any] = asyncio.Queue()  # what handlers saw or caught
        self.gate = asyncio.Event()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(Reroll, Cancel)
        self.tree.add_command(imagine, guild=self.guild)
        self.tree.add_command(probe, guild=self.guild)
        self.tree.add_command(gallery, guild=self.guild)
        self.tree.add_command(late)  # a global command
        await self.tree.sync(guild=self.guild)
        await self.tree.sync()


@app_commands.command(name="imagine", description="Draw a picture")
async def imagine(
    interaction: discord.Interaction[ImagineBot],
    prompt: str,
    steps: int = 20,
    guidance: float = 7.5,
    image: discord.Attachment | None = None,
) -> None:
    await interaction.response.defer(thinking=True)
    view = discord.ui.View()
    view.add_item(Reroll(42))
    view.add_item(Cancel(42))
    if image is not None:
        interaction.client.seen.put_nowait(await image.read())
    try:
        await interaction.followup.send(
            f"{prompt} ({steps} steps, cfg {guidance})",
            file=discord.File(io.BytesIO(png_bytes()), "out.png"),
            view=view,
            wait=True,
        )
    except discord.HTTPException as exc:
        interaction.client.seen.put_nowait(exc)
        return
    await interaction.edit_original_response(content=f"done: {prompt}")
    interaction.client.seen.put_nowait("done")


@app_commands.command(name="probe", description="Report raw option values")
async def probe(interaction: discord.Interaction[ImagineBot], count: int, guidance: float) -> None:
    interaction.client.seen.put_nowait((count, guidance, interaction.is_expired()))
    try:
        await interaction.response.send_message(f"{count} {guidance}")
    except discord.HTTPException as exc:
        interaction.client.seen.put_nowait(exc)


@app_commands.command(name="late", description="Answers when the test says so")
async def late(interaction: discord.Interaction[ImagineBot]) -> None:
    await interaction.response.defer()
    await interaction.client.gate.wait()
    try:
        await interaction.edit_original_response(content="finally")
    except discord.HTTPException as exc:
        interaction.client.seen.put_nowait(exc)


@app_commands.command(name="gallery", description="Swap attachments around")
async def gallery(interaction: discord.Interaction[ImagineBot]) -> None:
    def file(name: str, side: int) -> discord.File:
        return discord.File(io.BytesIO(png_bytes((side, side))), name)

    await interaction.response.send_message("one", file=file("a.png", 1))
    first = (await interaction.original_response()).attachments[0]
    message = await interaction.edit_original_response(
        content="two", attachments=[first, file("b.png", 2)]
    )
    await interaction.edit_original_response(content="three", attachments=[message.attachments[1]])
    interaction.client.seen.put_nowait("done")


@pytest.fixture
async def bot(fake_discord: FakeDiscord) -> AsyncIterator[ImagineBot]:
    async with run_client(ImagineBot(fake_discord.guild.id), fake_discord.token) as client:
        assert isinstance(client, ImagineBot)
        yield client


async def next_seen(bot: ImagineBot) -> Any:
    return await asyncio.wait_for(bot.seen.get(), timeout=10)


async def test_slash_command_defer_followup_png_and_edit(
    fake_discord: FakeDiscord, bot: ImagineBot
) -> None:
    fake = fake_discord
    assert [c["name"] for c in fake.guild_commands[fake.guild.id]] == [
        "imagine",
        "probe",
        "gallery",
    ]
    assert [c["name"] for c in fake.global_commands] == ["late"]
    assert fake.gateway.identifies[0]["intents"] == discord.Intents.default().value

    interaction = await fake.slash("imagine", {"prompt": "a cat", "steps": 30, "guidance": 5.5})
    assert await next_seen(bot) == "done"
    callback = await interaction.wait_callback()
    assert (callback.type, callback.ephemeral) == (5, False)

    [message] = fake.messages()
    assert message is interaction.original
    assert [v["content"] for v in message.versions] == [
        "",
        "a cat (30 steps, cfg 5.5)",
        "done: a cat",
    ]
    assert message.history[0]["flags"] & 128  # the loading state
    assert message.flags == 0
    assert message.data["type"] == 20
    assert message.custom_ids == ["reroll:42", "cancel:42"]
    [attachment] = message.attachments
    assert (attachment["filename"], attachment["width"], attachment["height"]) == ("out.png", 8, 6)
    with Image.open(io.BytesIO(message.attachment_bytes())) as img:
        assert img.size == (8, 6)
    assert not fake.unknown_requests
    assert {r.auth for r in fake.requests if r.path.startswith("/applications")} == {"bot"}


async def test_buttons_are_dynamic_items(fake_discord: FakeDiscord, bot: ImagineBot) -> None:
    fake = fake_discord
    await fake.slash("imagine", {"prompt": "a dog"})
    assert await next_seen(bot) == "done"
    [message] = fake.messages()

    reroll = await fake.click(message, "reroll:42")
    reply = await reroll.wait_original()
    assert (reply.content, reply.ephemeral, reroll.callback and reroll.callback.type) == (
        "rerolling 42",
        True,
        4,
    )

    cancel = await fake.click(message, "cancel:42")
    assert (await cancel.wait_callback()).type == 7
    assert message.content == "cancelled"
    assert message.components == []
    assert fake.messages() == [message, reply]


async def test_rate_limits_are_retried(fake_discord: FakeDiscord, bot: ImagineBot) -> None:
    fake = fake_discord
    channel_rule = fake.fail_next("POST", r"^/channels/\d+/messages$", 429, retry_after=0.05)
    hook_rule = fake.fail_next("PATCH", r"/messages/@original$", 429, retry_after=0.05)
    channel = bot.get_channel(int(fake.channel.id))
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("hello")
    await fake.slash("imagine", {"prompt": "a fox"})
    assert await next_seen(bot) == "done"

    assert (channel_rule.hits, hook_rule.hits) == (1, 1)
    posts = [r.status for r in fake.requests if r.method == "POST" and "/channels/" in r.path]
    assert posts == [429, 200]
    assert [m.content for m in fake.messages()] == ["hello", "done: a fox"]
    assert fake.messages()[0].id == str(sent.id)


async def test_multipart_edits_keep_and_drop_attachments_after_a_500(
    fake_discord: FakeDiscord, bot: ImagineBot
) -> None:
    fake = fake_discord
    fake.fail_next("POST", r"/callback$", 500)
    interaction = await fake.slash("gallery")
    assert await next_seen(bot) == "done"
    assert [r.status for r in fake.requests if r.path.endswith("/callback")] == [500, 200]
    message = await interaction.wait_original()
    names = [[a["filename"] for a in v["attachments"]] for v in message.versions]
    assert names == [["a.png"], ["a.png", "b.png"], ["b.png"]]
    assert message.versions[0]["attachments"][0] == message.versions[1]["attachments"][0]
    with Image.open(io.BytesIO(message.attachment_bytes())) as img:
        assert img.size == (2, 2)
    assert message.max_edits_within(5.0) == 2


async def test_expired_token_is_invalid_webhook_token(
    fake_discord: FakeDiscord, bot: ImagineBot
) -> None:
    interaction = await fake_discord.slash("late")
    await interaction.wait_callback()
    interaction.expire()
    bot.gate.set()
    exc = await next_seen(bot)
    assert isinstance(exc, discord.HTTPException)
    assert (exc.status, exc.code) == (401, 50027)


async def test_injected_401_and_413(fake_discord: FakeDiscord, bot: ImagineBot) -> None:
    fake = fake_discord
    fake.fail_next("POST", r"^/webhooks/", 401)
    await fake.slash("imagine", {"prompt": "x"})
    exc = await next_seen(bot)
    assert isinstance(exc, discord.HTTPException)
    assert (exc.status, exc.code) == (401, 50027)

    await fake.slash("imagine", {"prompt": "y"}, attachment_size_limit=10)
    exc = await next_seen(bot)
    assert isinstance(exc, discord.HTTPException)
    assert (exc.status, exc.code) == (413, 40005)


async def test_interaction_sixteen_minutes_old(fake_discord: FakeDiscord, bot: ImagineBot) -> None:
    old = datetime.now(UTC) - timedelta(minutes=16)
    await fake_discord.slash("probe", {"count": 1, "guidance": 2.0}, created_at=old)
    assert await next_seen(bot) == (1, 2.0, True)
    exc = await next_seen(bot)
    assert isinstance(exc, discord.NotFound)
    assert exc.code == 10062


async def test_raw_option_values_and_attachment_download(
    fake_discord: FakeDiscord, bot: ImagineBot
) -> None:
    fake = fake_discord
    await fake.slash("probe", {"count": 2**70, "guidance": Option(math.nan, 10)})
    count, guidance, expired = await next_seen(bot)
    assert count == 2**70
    assert math.isnan(guidance)
    assert not expired

    picture = png_bytes((3, 2), "blue")
    interaction = await fake.slash("imagine", {"prompt": "p", "image": Upload("in.png", picture)})
    assert interaction.payload["data"]["options"][1]["type"] == 11
    assert await next_seen(bot) == picture
    assert await next_seen(bot) == "done"


@pytest.mark.parametrize(("code", "resumable"), [(None, True), (4000, False)])
async def test_dropped_gateway_recovers(
    fake_discord: FakeDiscord, bot: ImagineBot, code: int | None, resumable: bool
) -> None:
    fake = fake_discord
    await fake.drop_gateway(code=code, resumable=resumable)
    interaction = await fake.slash("probe", {"count": 3, "guidance": 1.0})
    assert await next_seen(bot) == (3, 1.0, False)
    assert (await interaction.wait_original()).content == "3 1.0"
    # Not resumable: the RESUME is answered with op 9, so a third connection re-identifies.
    assert (fake.gateway.connections, fake.gateway.resumes, len(fake.gateway.identifies)) == (
        (2, 1, 1) if resumable else (3, 0, 2)
    )


async def test_wrong_token_is_refused(fake_discord: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.default())
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
    finally:
        await client.close()
    [request] = fake_discord.requests
    assert (request.path, request.status, request.auth) == ("/users/@me", 401, "bad")


async def test_raw_http_contract(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{fake.api_base}/users/@me") as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["id"] == fake.bot_user.id
        async with session.get(f"{fake.api_base}/guilds/1/members") as resp:
            assert resp.status == 404
            assert await resp.json() == {"message": "Unknown", "code": 0}
    assert [r.path for r in fake.unknown_requests] == ["/guilds/1/members"]
