"""What a member asks about themselves: /queue, where my jobs are and how busy the bot is;
/history, my last pictures; /quota, how many images I have left (from moderation)."""

# No `from __future__ import annotations`: discord.py reads these annotations at runtime.

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ImagineBot
from bot.delivery import duration, progress_bar, seconds_left
from bot.i18n import t
from bot.moderation import texts
from bot.moderation.audit import NO_PINGS
from bot.moderation.quotas import relative_time
from core.jobs import Job, JobState

HISTORY_LENGTH = 10
WAITING = (JobState.QUEUED, JobState.RUNNING)
FINISHED = (JobState.DONE, JobState.FAILED, JobState.CANCELED)


class Queue(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(description="Where your jobs are, and how busy the bot is")
    @app_commands.guild_only()
    async def queue(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        locale = str(interaction.locale)
        store = self.bot.store
        mine = await store.jobs(
            guild_id=interaction.guild_id, user_id=interaction.user.id, states=WAITING
        )
        stats, here = await store.stats(), await store.stats(guild_id=interaction.guild_id)
        embed = discord.Embed(title=t("queue_title", locale))
        lines = [await self._line(job, locale) for job in mine]
        embed.add_field(
            name=t("queue_mine", locale),
            value="\n".join(lines) or t("queue_none", locale),
            inline=False,
        )
        embed.add_field(name=t("queue_here", locale), value=str(here.queued + here.running))
        embed.add_field(name=t("queue_workers", locale), value=str(stats.workers))
        if stats.seconds_per_step is not None:
            speed = t("queue_speed_value", locale, seconds=f"{stats.seconds_per_step:.2f}")
            embed.add_field(name=t("queue_speed", locale), value=speed)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def _line(self, job: Job, locale: str) -> str:
        prompt = _short(job.params.prompt)
        if job.state is JobState.RUNNING:
            bar = progress_bar(job.step, job.total_steps)
            return t("queue_running", locale, prompt=prompt, bar=bar)
        ahead = await self.bot.store.position(job.id)
        seconds = await seconds_left(self.bot.store, job)
        eta = "?" if seconds is None or seconds == float("inf") else duration(seconds, locale)
        return t("queue_waiting", locale, prompt=prompt, ahead=max(ahead, 0), eta=eta)

    @app_commands.command(description="Your last pictures")
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        locale = str(interaction.locale)
        jobs = await self.bot.store.jobs(
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            states=FINISHED,
            limit=HISTORY_LENGTH,
        )
        lines = [await self._history_line(job, locale) for job in jobs]
        embed = discord.Embed(
            title=t("history_title", locale),
            description="\n".join(lines) or t("history_none", locale),
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def _history_line(self, job: Job, locale: str) -> str:
        delivery = await self.bot.ledger.get(job.id)
        prompt = _short(job.params.prompt)
        state = t(f"state_{job.state.value}", locale)
        if delivery is None or delivery.status_message_id is None:
            return f"{state} · {prompt}"
        link = (
            f"https://discord.com/channels/{job.guild_id}/{job.channel_id}"
            f"/{delivery.status_message_id}"
        )
        return f"{state} · [{prompt}]({link})"

    @app_commands.command(description="How many images you have left today, and when more come")
    @app_commands.guild_only()
    async def quota(self, interaction: discord.Interaction) -> None:
        locale = str(interaction.locale)
        report = await self.bot.moderation.report(interaction)
        if report.limits is None:
            await _say(interaction, t("quota_exempt", locale))
            return
        lines = [
            texts.standing_text("quota_mine", report.mine, locale),
            texts.standing_text("quota_server", report.server, locale),
            t("quota_day", locale, day=texts.day_text(report.settings, locale)),
        ]
        if report.limits.max_waiting is not None:
            lines.append(
                t("quota_waiting", locale, count=report.waiting, limit=report.limits.max_waiting)
            )
        if report.ready_at is not None and report.ready_at > self.bot.moderation.clock():
            lines.append(t("mod_cooldown", locale, when=relative_time(report.ready_at)))
        await _say(interaction, "\n".join(lines))


async def _say(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)


def _short(prompt: str, limit: int = 60) -> str:
    flat = " ".join(prompt.split()).replace("[", "(").replace("]", ")")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Queue(bot))
