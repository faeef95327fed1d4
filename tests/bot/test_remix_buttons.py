"""Upscale (U1-U4), zoom out and pan, clicked through the fake Discord: what each queues,
checked on the job and the source image the store keeps, and when each is refused."""

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from bot.buttons import PAN_ACTIONS
from bot.moderation import settings
from bot.remix import UPSCALE_STRENGTH
from core.jobs import Job
from tests.fake_discord import FakeDiscord, FakeInteraction, FakeMessage
from tests.support.bot_stack import Stack, full_stack

Pixels = npt.NDArray[np.uint8]
DEFERRED = 5


@pytest.fixture
async def no_upscale(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Stack]:
    async with full_stack(fake_discord, tmp_path, IMAGINE_UPSCALE=False) as running:
        yield running


async def finished(stack: Stack, **options: object) -> tuple[FakeInteraction, FakeMessage]:
    interaction = await stack.fake.slash("imagine", {"prompt": "a lighthouse", **options})
    return interaction, await interaction.wait_original(lambda m: bool(m.attachments), 30)


async def click(stack: Stack, message: FakeMessage, custom_id: str) -> FakeInteraction:
    """Clicks `custom_id` on `message`, putting it on the message's first button if the
    message lacks it (a modified client can send any id)."""
    if custom_id not in message.custom_ids:
        message.data["components"][0]["components"][0]["custom_id"] = custom_id
    return await stack.fake.click(message, custom_id)


async def queued(stack: Stack, interaction: FakeInteraction) -> tuple[Job, bytes]:
    """The job a click queued and the source image kept for it."""
    assert (await interaction.wait_callback()).type == DEFERRED
    async with asyncio.timeout(10):
        while (job := await stack.store.get(interaction.id)) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    source = await stack.store.source(interaction.id)
    assert source is not None
    return job, source


async def refused(stack: Stack, interaction: FakeInteraction) -> str:
    callback = await interaction.wait_callback()
    assert callback.ephemeral
    assert await stack.store.get(interaction.id) is None  # nothing queued
    return str(callback.data["content"])


async def image_of(stack: Stack, job: FakeInteraction, index: int) -> bytes:
    result = await stack.store.result(job.id)
    assert result is not None
    return result.image_pngs[index]


def pixels(png: bytes, mode: str) -> Pixels:
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == mode
        return np.asarray(image)


async def test_u2_upscales_the_second_image_into_a_new_result(stack: Stack) -> None:
    options = {"count": 2, "seed": 40, "steps": 3, "sampler": "ddim", "negative_prompt": "fog"}
    interaction, final = await finished(stack, **options)
    upscale = await click(stack, final, f"img:upscale:{interaction.id}:1")
    job, source = await queued(stack, upscale)
    p = job.params
    assert (p.prompt, p.negative_prompt, p.steps, p.sampler, p.model) == (
        "a lighthouse",
        "fog",
        3,
        "ddim",
        "sd14",
    )
    assert (p.count, p.seed, p.width, p.height, p.masked) == (1, 41, 256, 256, False)
    assert p.strength == UPSCALE_STRENGTH < 0.5  # keeps the picture, redraws its detail
    assert source == await image_of(stack, interaction, 1)
    assert job.user_id == int(stack.fake.user.id)
    # A new result of its own, 2x, with its own buttons: 512x512 is not made here, so
    # no U; zoom out and pan, as on any single image.
    result = await upscale.wait_original(lambda m: bool(m.attachments), 30)
    assert result.id != final.id
    assert Image.open(io.BytesIO(result.attachment_bytes(0))).size == (256, 256)
    assert [b for b in result.custom_ids if b.startswith("img:upscale")] == []
    assert f"img:zoom:{upscale.id}" in result.custom_ids
    again = await click(stack, result, f"img:upscale:{upscale.id}:0")
    said = await refused(stack, again)
    assert (
        said
        == "This bot does not make pictures as large as 512x512, so this one cannot be upscaled."
    )


async def test_upscale_is_refused_when_it_is_off(no_upscale: Stack) -> None:
    interaction, final = await finished(no_upscale)
    assert [b for b in final.custom_ids if b.startswith("img:upscale")] == []
    upscale = await click(no_upscale, final, f"img:upscale:{interaction.id}:0")
    assert await refused(no_upscale, upscale) == "Upscaling is turned off on this bot."


async def test_upscale_zoom_and_pan_meet_the_servers_quota_like_any_request(stack: Stack) -> None:
    interaction, final = await finished(stack)
    guild_id = int(stack.fake.guild.id)
    await settings.update(stack.bot.moderation.db, guild_id, user_daily=1)
    for action in ("upscale", "zoom", "pan_left"):
        index = ":0" if action == "upscale" else ""
        again = await click(stack, final, f"img:{action}:{interaction.id}{index}")
        said = await refused(stack, again)
        assert said.startswith("You have 0 of your 1 images for today left"), action


async def test_zoom_out_queues_a_masked_job_with_a_transparent_border(stack: Stack) -> None:
    interaction, final = await finished(stack, seed=7, steps=2)
    zoom = await click(stack, final, f"img:zoom:{interaction.id}")
    job, source = await queued(stack, zoom)
    p = job.params
    assert (p.masked, p.strength, p.count, p.size, p.seed) == (True, 1.0, 1, "128x128", 7)
    alpha = pixels(source, "RGBA")[..., 3]
    # 1.5x: the picture keeps the middle 2/3 (about 85 px), a border of about 21 px is new.
    border = np.ones(alpha.shape, dtype=bool)
    border[16:-16, 16:-16] = False
    assert (alpha[border] == 0).all()
    assert (alpha[32:-32, 32:-32] == 255).all()
    rgb = pixels(source, "RGBA")[32:-32, 32:-32, :3]
    assert rgb.std() > 20  # the picture itself (noise), not an empty canvas
    await zoom.wait_original(lambda m: bool(m.attachments), 30)  # a new result


def as_if_left(array: Pixels, side: str) -> Pixels:
    """The array turned so that `side` is on the left."""
    turned = {
        "left": array,
        "right": array[:, ::-1],
        "up": array.swapaxes(0, 1),
        "down": array[::-1].swapaxes(0, 1),
    }
    return turned[side]


@pytest.mark.parametrize("action", list(PAN_ACTIONS))
async def test_pan_queues_a_masked_job_with_a_transparent_strip_on_that_side(
    stack: Stack, action: str
) -> None:
    interaction, final = await finished(stack, size="256x128", seed=3)
    pan = await click(stack, final, f"img:{action}:{interaction.id}")
    job, source = await queued(stack, pan)
    p = job.params
    assert (p.masked, p.strength, p.count, p.size, p.seed) == (True, 1.0, 1, "256x128", 3)
    side = PAN_ACTIONS[action]
    canvas = as_if_left(pixels(source, "RGBA"), side)
    original = as_if_left(pixels(await image_of(stack, interaction, 0), "RGB"), side)
    third = canvas.shape[1] // 3
    alpha = canvas[..., 3]
    # The new third is drawn, the picture slid away from the side is kept; the seam
    # between them may be soft.
    assert (alpha[:, : third - 16] == 0).all()
    assert (alpha[:, third + 24 :] == 255).all()
    # What is kept is the picture itself, shifted by about a third.
    kept = canvas[:, third + 24 :, :3]
    assert any(
        np.array_equal(kept, original[:, third + 24 - shift : canvas.shape[1] - shift])
        for shift in range(third - 8, third + 9)
    )


async def test_an_upscale_meets_the_servers_size_cap(stack: Stack) -> None:
    interaction, final = await finished(stack)
    guild_id = int(stack.fake.guild.id)
    await settings.update(stack.bot.moderation.db, guild_id, max_size="256x128")
    upscale = await click(stack, final, f"img:upscale:{interaction.id}:0")
    assert await refused(stack, upscale) == "This server allows images up to 256x128."
