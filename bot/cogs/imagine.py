"""/imagine: check the request, queue it, show where it stands."""

# No `from __future__ import annotations`: discord.py reads these annotations at runtime.

import asyncio
import functools
import logging
import secrets

import discord
from discord import app_commands
from discord.ext import commands

from bot import queueing
from bot.client import ImagineBot
from bot.i18n import t
from bot.moderation.defaults import given, parse_size
from bot.options import OPTION_HELP, SAMPLER_CHOICES
from core.clip_tokens import CONTEXT_LENGTH
from core.jobs import MAX_SEED, InvalidRequest, JobParams
from core.uploads import MAX_UPLOAD_BYTES, decode_upload

log = logging.getLogger(__name__)

DEFAULT_STRENGTH = 0.6
# Downloading and decoding an upload, waiting for a decode slot included: the answer is
# due within 3 s of the command, and admission and the defer need the rest.
FETCH_SECONDS = 2.5


class Imagine(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(description="Make pictures from a description.")
    @app_commands.describe(**OPTION_HELP)
    @app_commands.choices(sampler=SAMPLER_CHOICES)
    @app_commands.guild_only()
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: str,
        negative_prompt: str | None = None,
        count: app_commands.Range[int, 1, 4] | None = None,
        steps: app_commands.Range[int, 1, 100] | None = None,
        guidance: app_commands.Range[float, 0.0, 30.0] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        size: str | None = None,
        sampler: str | None = None,
        image: discord.Attachment | None = None,
        strength: app_commands.Range[float, 0.05, 1.0] = DEFAULT_STRENGTH,
    ) -> None:
        sizes = self.bot.settings.sizes
        try:
            # Options left out: this server's defaults (moderators set them), else the bot's.
            base = await self.bot.moderation.defaults_for(interaction.guild_id, sizes)
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
                strength=None if image is None else strength,
            )
            self._check(params)
            fetch = None
            if image is not None:
                _check_declared_size(image)
                fetch = functools.partial(_fetch, image)
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
        for text in (params.prompt, params.negative_prompt):
            tokens = self.bot.tokens.count(text)
            if tokens > CONTEXT_LENGTH:
                raise InvalidRequest("too_many_tokens", tokens=tokens, limit=CONTEXT_LENGTH)


def _check_declared_size(attachment: discord.Attachment) -> None:
    """The size Discord announces, checked before anything is fetched."""
    if attachment.size > MAX_UPLOAD_BYTES:
        raise InvalidRequest("image_too_big", limit=MAX_UPLOAD_BYTES // (1024 * 1024))


async def _fetch(attachment: discord.Attachment) -> bytes:
    """The attachment's bytes as a checked RGB PNG, within FETCH_SECONDS."""
    deadline = asyncio.get_running_loop().time() + FETCH_SECONDS
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
