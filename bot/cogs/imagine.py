"""/imagine: check the request, queue it, show where it stands."""

# No `from __future__ import annotations`: discord.py reads these annotations at runtime.

import logging
import secrets

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ImagineBot
from bot.i18n import t
from core.clip_tokens import CONTEXT_LENGTH
from core.jobs import (
    DEFAULT_GUIDANCE,
    DEFAULT_STEPS,
    MAX_SEED,
    InvalidRequest,
    JobParams,
    size_list,
)

log = logging.getLogger(__name__)


class Imagine(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(description="Make pictures from a description.")
    @app_commands.describe(
        prompt="What to draw",
        negative_prompt="What to keep out of the picture",
        count="How many images (1-4)",
        steps="Denoising steps: more is slower and finer",
        guidance="How closely to follow the prompt (7-8.5 is typical)",
        seed="Same seed + same settings = same picture",
        size="Width x height in pixels",
    )
    @app_commands.guild_only()
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: str,
        negative_prompt: str = "",
        count: app_commands.Range[int, 1, 4] = 1,
        steps: app_commands.Range[int, 1, 100] = DEFAULT_STEPS,
        guidance: app_commands.Range[float, 0.0, 30.0] = DEFAULT_GUIDANCE,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        size: str | None = None,
    ) -> None:
        locale = str(interaction.locale)
        try:
            params = self._params(prompt, negative_prompt, count, steps, guidance, seed, size)
        except InvalidRequest as refused:
            await interaction.response.send_message(
                t(refused.key, locale, **refused.values), ephemeral=True
            )
            return
        await interaction.response.defer(thinking=True)
        await self.bot.submit(interaction, params)

    @imagine.autocomplete("size")
    async def _sizes(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        offered = [f"{w}x{h}" for w, h in self.bot.settings.sizes]
        return [app_commands.Choice(name=s, value=s) for s in offered if current in s][:25]

    def _params(
        self,
        prompt: str,
        negative: str,
        count: int,
        steps: int,
        guidance: float,
        seed: int | None,
        size: str | None,
    ) -> JobParams:
        sizes = self.bot.settings.sizes
        width, height = sizes[0] if size is None else _parse_size(size, sizes)
        params = JobParams(
            prompt=prompt,
            negative_prompt=negative,
            count=count,
            steps=steps,
            guidance=guidance,
            seed=secrets.randbelow(MAX_SEED + 1) if seed is None else seed,
            width=width,
            height=height,
            sampler=self.bot.default_sampler,
        )
        params.validate(self.bot.settings.sizes)
        for text in (params.prompt, params.negative_prompt):
            tokens = self.bot.tokens.count(text)
            if tokens > CONTEXT_LENGTH:
                raise InvalidRequest("too_many_tokens", tokens=tokens, limit=CONTEXT_LENGTH)
        return params


def _parse_size(size: object, sizes: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    text = str(size)
    width, _, height = text.lower().partition("x")
    if len(text) > 11 or not (width.strip().isdecimal() and height.strip().isdecimal()):
        raise InvalidRequest("bad_size", size=text[:20], offered=size_list(sizes))
    return int(width), int(height)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Imagine(bot))
