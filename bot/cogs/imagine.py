"""/imagine: check the request, queue it, show where it stands."""

# No `from __future__ import annotations`: discord.py reads these annotations at runtime.

import asyncio
import contextlib
import functools
import logging
import secrets
from collections.abc import Iterator

import discord
from discord import app_commands
from discord.ext import commands

from bot import queueing
from bot.client import ImagineBot
from bot.i18n import t
from bot.moderation.defaults import given, parse_size
from bot.options import OPTION_HELP, SAMPLER_CHOICES, model_names, offer_models
from core import canvas
from core.clip_tokens import CONTEXT_LENGTH
from core.jobs import (
    MAX_COUNT,
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_STEPS,
    MAX_STRENGTH,
    MIN_COUNT,
    MIN_GUIDANCE,
    MIN_STEPS,
    MIN_STRENGTH,
    InvalidRequest,
    JobParams,
)
from core.uploads import MAX_UPLOAD_BYTES, decode_upload

log = logging.getLogger(__name__)

DEFAULT_STRENGTH = 0.6  # img2img: keeps the picture's layout, redraws the rest
INPAINT_STRENGTH = 1.0  # with a mask: the white part is drawn anew, the rest kept as is
# A mask is read like an image; what is wrong with it is said of the mask.
_MASK_KEYS = {
    "image_too_big": "mask_too_big",
    "image_too_many_pixels": "mask_too_many_pixels",
    "image_unreadable": "mask_unreadable",
}
# Downloading and decoding an upload, waiting for a decode slot included: the answer is
# due within 3 s of the command, and admission and the defer need the rest.
FETCH_SECONDS = 2.5


class Imagine(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        offer_models(self.imagine, bot.settings.models)

    @app_commands.command(description="Make pictures from a description.")
    @app_commands.describe(**OPTION_HELP)
    @app_commands.choices(sampler=SAMPLER_CHOICES)
    @app_commands.guild_only()
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: str,
        negative_prompt: str | None = None,
        count: app_commands.Range[int, MIN_COUNT, MAX_COUNT] | None = None,
        steps: app_commands.Range[int, MIN_STEPS, MAX_STEPS] | None = None,
        guidance: app_commands.Range[float, MIN_GUIDANCE, MAX_GUIDANCE] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        size: str | None = None,
        sampler: str | None = None,
        model: str | None = None,
        image: discord.Attachment | None = None,
        mask: discord.Attachment | None = None,
        strength: app_commands.Range[float, MIN_STRENGTH, MAX_STRENGTH] | None = None,
    ) -> None:
        sizes, models = self.bot.settings.sizes, self.bot.settings.models
        try:
            if mask is not None and image is None:
                raise InvalidRequest("mask_needs_image")
            # Options left out: this server's defaults (moderators set them), else the bot's.
            base = await self.bot.moderation.defaults_for(interaction.guild_id, sizes, models)
            width, height = base.size if size is None else parse_size(str(size), sizes)
            params = JobParams(
                prompt=prompt,
                negative_prompt=given(negative_prompt, base.negative_prompt),
                count=given(count, base.count),
                steps=given(steps, base.steps),
                guidance=given(guidance, base.guidance),
                seed=secrets.randbelow(MAX_SEED + 1) if seed is None else seed,
                width=width,
                height=height,
                sampler=given(sampler, base.sampler),
                model=given(model, base.model),
                strength=_strength(image, mask, strength),
                masked=mask is not None,
            )
            self._check(params)
            fetch = _source(image, mask, (width, height))
            # Admission first: the upload is fetched only for a request this server takes.
            await queueing.submit(self.bot, interaction, params, fetch_source=fetch)
        except InvalidRequest as refused:
            locale = str(interaction.locale)
            await interaction.response.send_message(
                t(refused.key, locale, **refused.values), ephemeral=True
            )

    @imagine.autocomplete("size")
    async def _sizes(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        offered = [f"{w}x{h}" for w, h in self.bot.settings.sizes]
        return [app_commands.Choice(name=s, value=s) for s in offered if current in s][:25]

    def _check(self, params: JobParams) -> None:
        params.validate(self.bot.settings.sizes)
        if params.model not in self.bot.settings.models:  # a client may send any value
            offered = model_names(self.bot.settings.models)
            raise InvalidRequest("bad_model", model=params.model[:20], offered=offered)
        for text in (params.prompt, params.negative_prompt):
            tokens = self.bot.tokens.count(text)
            if tokens > CONTEXT_LENGTH:
                raise InvalidRequest("too_many_tokens", tokens=tokens, limit=CONTEXT_LENGTH)


def _strength(
    image: discord.Attachment | None, mask: discord.Attachment | None, strength: float | None
) -> float | None:
    if image is None:
        return None  # no picture to start from: the strength means nothing
    return given(strength, DEFAULT_STRENGTH if mask is None else INPAINT_STRENGTH)


def _source(
    image: discord.Attachment | None, mask: discord.Attachment | None, size: tuple[int, int]
) -> queueing.FetchSource | None:
    """What fetches the job's source once it is admitted: the image, or the image with
    the mask in its alpha. Their announced sizes are checked now."""
    if image is None:
        return None
    _check_declared_size(image)
    if mask is None:
        return functools.partial(_fetch, image)
    with _said_of_mask():
        _check_declared_size(mask)
    return functools.partial(_fetch_masked, image, mask, size)


def _check_declared_size(attachment: discord.Attachment) -> None:
    """The size Discord announces, checked before anything is fetched."""
    if attachment.size > MAX_UPLOAD_BYTES:
        raise InvalidRequest("image_too_big", limit=MAX_UPLOAD_BYTES // (1024 * 1024))


@contextlib.contextmanager
def _said_of_mask() -> Iterator[None]:
    try:
        yield
    except InvalidRequest as refused:
        key = _MASK_KEYS.get(refused.key, refused.key)
        raise InvalidRequest(key, **refused.values) from None


async def _fetch_masked(
    image: discord.Attachment, mask: discord.Attachment, size: tuple[int, int]
) -> bytes:
    """Inpainting's source: the image at the job's size, the mask (white = redraw) as its
    alpha. Both are read within one FETCH_SECONDS."""
    deadline = _deadline()
    image_png = await _fetch(image, deadline)
    with _said_of_mask():
        mask_png = await _fetch(mask, deadline)
    return await asyncio.to_thread(canvas.masked_png, image_png, mask_png, size)


def _deadline() -> float:
    return asyncio.get_running_loop().time() + FETCH_SECONDS


async def _fetch(attachment: discord.Attachment, deadline: float | None = None) -> bytes:
    """The attachment's bytes as a checked RGB PNG, by `deadline` (else within
    FETCH_SECONDS)."""
    deadline = _deadline() if deadline is None else deadline
    try:
        async with asyncio.timeout_at(deadline):
            data = await attachment.read()
    except (TimeoutError, discord.HTTPException):
        raise InvalidRequest("image_download") from None
    try:
        async with asyncio.timeout_at(deadline):
            return await decode_upload(data)
    except TimeoutError:  # every decode slot stayed busy (or this image is slow to read)
        raise InvalidRequest("image_busy") from None


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Imagine(bot))
