"""The audit channel: every delivered job and every refused prompt, posted where a
server's moderators chose, with buttons to delete the image and block the member.

Posting runs beside delivery, never in its way: a post that fails (channel gone, no
permission, Discord down) is logged and dropped; the member's result is already out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import reply
from bot.i18n import t
from bot.ledger import Delivery
from bot.moderation import settings
from bot.moderation.db import ModerationDb
from core.jobs import Job
from core.store import JobStore

if TYPE_CHECKING:
    from bot.moderation import Moderation

log = logging.getLogger(__name__)

_TEMPLATE = re.compile(r"mod:(?P<action>delete|block):(?P<target>\d{1,25})")
NO_PINGS = discord.AllowedMentions.none()  # name members in the audit log, never ping them


def result_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


class AuditButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    """`mod:delete:<job id>` deletes that job's result; `mod:block:<user id>` blocks the
    member in the server the button is clicked in. Both for Manage Server only."""

    def __init__(self, action: str, target: int | str, **style: Any) -> None:
        super().__init__(discord.ui.Button(custom_id=f"mod:{action}:{target}", **style))
        self.action, self.target = action, str(target)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> AuditButton:
        return cls(match["action"], match["target"])

    async def callback(self, interaction: discord.Interaction) -> None:
        locale = str(interaction.locale)
        # What Discord computed for this member here: a forged click without it is refused.
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            await reply(interaction, t("not_allowed", locale))
            return
        moderation: Moderation = interaction.client.moderation  # type: ignore[attr-defined]
        if self.action == "delete":
            await moderation.audit.delete_result(interaction, self.target)
        else:
            await moderation.audit.block_from_button(interaction, int(self.target))


class Auditor:
    def __init__(self, db: ModerationDb, client: discord.Client) -> None:
        self._db = db
        self._client = client
        self._tasks: set[asyncio.Task[None]] = set()

    def job_delivered(self, delivery: Delivery, job: Job) -> None:
        """Posts the job to its server's audit channel, if it has one, in the background."""
        self._spawn(self._post_job(delivery, job), job.guild_id)

    def prompt_refused(self, guild_id: int, user_id: int, prompt: str, found: list[str]) -> None:
        self._spawn(self._post_refusal(guild_id, user_id, prompt, found), guild_id)

    async def close(self, grace: float = 5.0) -> None:
        """The bot is closing: posts under way get `grace` seconds, then are dropped."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, post: Coroutine[Any, Any, None], guild_id: int) -> None:
        task = asyncio.create_task(self._safely(post, guild_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _safely(self, post: Coroutine[Any, Any, None], guild_id: int) -> None:
        try:
            await post
        except Exception:
            log.warning("Could not post to the audit channel of guild %s", guild_id, exc_info=True)

    async def _channel(self, guild_id: int) -> discord.PartialMessageable | None:
        channel_id = (await settings.load(self._db, guild_id)).audit_channel_id
        return None if channel_id is None else self._client.get_partial_messageable(channel_id)

    def _locale(self, guild_id: int) -> str:
        guild = self._client.get_guild(guild_id)
        return str(guild.preferred_locale) if guild is not None else "en-US"

    async def _post_job(self, delivery: Delivery, job: Job) -> None:
        channel = await self._channel(job.guild_id)
        if channel is None or delivery.status_message_id is None:
            return
        locale = self._locale(job.guild_id)
        link = result_link(job.guild_id, job.channel_id, delivery.status_message_id)
        embed = discord.Embed(title=t("audit_job_title", locale), description=job.params.prompt)
        embed.add_field(name=t("audit_requester", locale), value=f"<@{job.user_id}>")
        embed.add_field(name=t("audit_result", locale), value=link)
        if job.params.negative_prompt:
            embed.add_field(
                name=t("field_negative", locale), value=job.params.negative_prompt, inline=False
            )
        view = _view(locale, job_id=job.id, user_id=job.user_id)
        await channel.send(embed=embed, view=view, allowed_mentions=NO_PINGS)

    async def _post_refusal(
        self, guild_id: int, user_id: int, prompt: str, found: list[str]
    ) -> None:
        channel = await self._channel(guild_id)
        if channel is None:
            return
        locale = self._locale(guild_id)
        # Spoilers: moderators choose whether to read what was refused.
        embed = discord.Embed(title=t("audit_refused_title", locale), description=f"||{prompt}||")
        embed.add_field(name=t("audit_requester", locale), value=f"<@{user_id}>")
        embed.add_field(name=t("audit_words", locale), value=f"||{', '.join(found)}||")
        view = _view(locale, job_id=None, user_id=user_id)
        await channel.send(embed=embed, view=view, allowed_mentions=NO_PINGS)

    async def delete_result(self, interaction: discord.Interaction, job_id: str) -> None:
        locale = str(interaction.locale)
        found = await self._db.one(
            "SELECT channel_id, status_message_id FROM deliveries"
            " WHERE job_id = ? AND guild_id = ?",  # a job of this server only
            (job_id, interaction.guild_id),
        )
        if found is None or found["status_message_id"] is None:
            await reply(interaction, t("job_gone", locale))
            return
        store: JobStore = self._client.store  # type: ignore[attr-defined]
        await store.purge_images(job_id)  # no stored copy outlives the message
        channel = self._client.get_partial_messageable(found["channel_id"])
        with contextlib.suppress(discord.NotFound):  # gone already: what the moderator wants
            await channel.get_partial_message(found["status_message_id"]).delete()
        log.info("Job %s's result deleted from the audit log by %s", job_id, interaction.user.id)
        await _note(interaction, t("audit_deleted", locale, moderator=interaction.user.mention))

    async def block_from_button(self, interaction: discord.Interaction, user_id: int) -> None:
        assert interaction.guild_id is not None
        at = interaction.created_at.timestamp()
        await settings.block(self._db, interaction.guild_id, user_id, interaction.user.id, at)
        log.info(
            "User %s blocked in guild %s by %s", user_id, interaction.guild_id, interaction.user.id
        )
        note = t(
            "audit_blocked",
            str(interaction.locale),
            user=f"<@{user_id}>",
            moderator=interaction.user.mention,
        )
        await _note(interaction, note)


def _view(locale: str, *, job_id: str | None, user_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if job_id is not None:
        label = t("audit_delete_button", locale)
        view.add_item(AuditButton("delete", job_id, label=label, style=discord.ButtonStyle.danger))
    label = t("audit_block_button", locale)
    view.add_item(AuditButton("block", user_id, label=label, style=discord.ButtonStyle.secondary))
    return view


async def _note(interaction: discord.Interaction, note: str) -> None:
    """Adds what a moderator did to the audit message, for the other moderators."""
    before = interaction.message.content if interaction.message is not None else ""
    content = f"{before}\n{note}".strip()[:2000]
    await interaction.response.edit_message(content=content, allowed_mentions=NO_PINGS)
