"""The audit channel: every delivered job and every refused prompt, posted where a
server's moderators chose, with buttons to delete the image and block the member.

Posting runs beside delivery, never in its way. Each post is first recorded in the bot's
SQLite file, then sent; one Discord could not take for now (it is down, a network error)
is sent again every RESEND_SECONDS and after a restart, for up to MAX_AGE. One Discord
refuses for good (the channel is gone, the bot may not post there) is dropped with a log
line: retrying would only pile up refused requests. A post can arrive twice if the bot
stops between Discord's answer and noting it.

Refused prompts are posted at most REFUSALS_PER_WINDOW times per member and server in
REFUSALS_WINDOW: a member typing banned words over and over cannot flood the channel.
The next post after a quiet spell says how many were left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiosqlite
import discord

from bot.errors import reply
from bot.i18n import t
from bot.ledger import Delivery
from bot.moderation import settings
from bot.moderation.audit_embeds import job_embed, refusal_embed, result_link
from bot.moderation.db import ModerationDb, row
from core.jobs import Job
from core.store import JobStore

if TYPE_CHECKING:
    from bot.moderation import Moderation

log = logging.getLogger(__name__)

_TEMPLATE = re.compile(r"mod:(?P<action>delete|block):(?P<target>\d{1,25})")
NO_PINGS = discord.AllowedMentions.none()  # name members in the audit log, never ping them
REFUSALS_PER_WINDOW = 3
REFUSALS_WINDOW = 600.0
RESEND_SECONDS = 30.0
MAX_AGE = 86_400.0  # a post Discord would not take for a day is dropped


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
    def __init__(
        self, db: ModerationDb, client: discord.Client, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self._client = client
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending: set[int] = set()  # posts being sent now: the resender leaves them
        self._resender: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sends what an earlier run left unsent, then retries every RESEND_SECONDS."""
        self._resender = asyncio.create_task(self._resend_forever(), name="audit-resend")

    async def job_delivered(self, delivery: Delivery, job: Job) -> None:
        """Records the job's post, if its server has an audit channel; sends it in the
        background."""
        if delivery.status_message_id is None or not await self._has_channel(job.guild_id):
            return
        body = {
            "locale": self._locale(job.guild_id),
            "user_id": job.user_id,
            "job_id": job.id,
            "prompt": job.params.prompt,
            "negative_prompt": job.params.negative_prompt,
            "link": result_link(job.guild_id, job.channel_id, delivery.status_message_id),
        }
        post_id = await self._record(job.guild_id, job.user_id, "job", body)
        self._spawn(post_id)

    async def prompt_refused(
        self, guild_id: int, user_id: int, prompt: str, found: list[str]
    ) -> None:
        """Records the refusal's post unless the member has had their share of the
        channel lately (then it is only counted); sends it in the background."""
        try:
            if not await self._has_channel(guild_id):
                return
            body = {"locale": self._locale(guild_id), "user_id": user_id, "prompt": prompt}
            post_id = await self._record_refusal(guild_id, user_id, {**body, "found": found})
        except Exception:  # the member is refused all the same
            log.exception("Could not record a refusal in guild %s for the audit channel", guild_id)
            return
        if post_id is not None:
            self._spawn(post_id)

    async def close(self, grace: float = 5.0) -> None:
        """The bot is closing: posts under way get `grace` seconds; what is not sent by
        then stays recorded for the next start."""
        if self._resender is not None:
            self._resender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resender
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- the outbox ------------------------------------------------------------------------

    async def _record(self, guild_id: int, user_id: int, kind: str, body: dict[str, Any]) -> int:
        async with self._db.transaction() as tx:
            return await _insert(tx, guild_id, user_id, kind, body, self._clock())

    async def _record_refusal(
        self, guild_id: int, user_id: int, body: dict[str, Any]
    ) -> int | None:
        now = self._clock()
        member = (guild_id, user_id)
        async with self._db.transaction() as tx:
            recent = await row(
                tx,
                "SELECT COUNT(*) FROM mod_audit_posts WHERE guild_id = ? AND user_id = ?"
                " AND kind = 'refused' AND created_at > ?",
                (*member, now - REFUSALS_WINDOW),
            )
            if recent is not None and recent[0] >= REFUSALS_PER_WINDOW:
                await tx.execute(
                    "INSERT INTO mod_audit_unposted (guild_id, user_id, refused) VALUES (?, ?, 1)"
                    " ON CONFLICT (guild_id, user_id) DO UPDATE SET refused = refused + 1",
                    member,
                )
                return None
            unposted = await row(
                tx,
                "DELETE FROM mod_audit_unposted WHERE guild_id = ? AND user_id = ?"
                " RETURNING refused",
                member,
            )
            body["unposted"] = 0 if unposted is None else unposted[0]
            return await _insert(tx, guild_id, user_id, "refused", body, now)

    def _spawn(self, post_id: int) -> None:
        task = asyncio.create_task(self._send_logged(post_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_logged(self, post_id: int) -> None:
        try:
            await self._send(post_id)
        except Exception:  # the database, say: the post stays recorded for a later round
            log.exception("Could not send audit post %s", post_id)

    async def _resend_forever(self) -> None:
        await self._client.wait_until_ready()
        while True:
            try:
                await self._resend()
            except Exception:
                log.exception("Could not resend the audit posts")
            await asyncio.sleep(RESEND_SECONDS)

    async def _resend(self) -> None:
        """Sends the unsent posts, oldest first, until Discord fails one for now (the
        others would fail the same way: they wait for the next round)."""
        now = self._clock()
        await self._db.write(
            "DELETE FROM mod_audit_posts WHERE sent_at < ? OR sent_at IS NULL AND created_at < ?",
            (now - REFUSALS_WINDOW, now - MAX_AGE),
        )
        found = await self._db.all(
            "SELECT id FROM mod_audit_posts WHERE sent_at IS NULL ORDER BY id"
        )
        for (post_id,) in found:
            if not await self._send(post_id):
                return

    async def _send(self, post_id: int) -> bool:
        """Sends one recorded post; False if Discord could not take it for now."""
        if post_id in self._sending:
            return True  # under way (the resender and a new post's task can meet)
        self._sending.add(post_id)
        try:
            return await self._send_now(post_id)
        finally:
            self._sending.discard(post_id)

    async def _send_now(self, post_id: int) -> bool:
        post = await self._db.one(
            "SELECT guild_id, kind, body FROM mod_audit_posts WHERE id = ? AND sent_at IS NULL",
            (post_id,),
        )
        if post is None:
            return True  # sent already
        guild_id = post["guild_id"]
        channel = await self._channel(guild_id)
        if channel is None:  # the audit log was turned off meanwhile
            await self._forget(post_id)
            return True
        embed, view = _render(post["kind"], json.loads(post["body"]))
        try:
            await channel.send(embed=embed, view=view, allowed_mentions=NO_PINGS)
        except Exception as error:
            if not _refused_for_good(error):  # Discord down, no connection: try again later
                log.warning("Could not post to the audit channel of guild %s (%s)", guild_id, error)
                return False
            log.warning("Dropped a post to the audit channel of guild %s: %s", guild_id, error)
            await self._forget(post_id)
            return True
        # The prompt is not kept once posted; the row stays a while to count refusals.
        await self._db.write(
            "UPDATE mod_audit_posts SET sent_at = ?, body = '' WHERE id = ?",
            (self._clock(), post_id),
        )
        return True

    async def _forget(self, post_id: int) -> None:
        await self._db.write("DELETE FROM mod_audit_posts WHERE id = ?", (post_id,))

    async def _has_channel(self, guild_id: int) -> bool:
        return (await settings.load(self._db, guild_id)).audit_channel_id is not None

    async def _channel(self, guild_id: int) -> discord.PartialMessageable | None:
        channel_id = (await settings.load(self._db, guild_id)).audit_channel_id
        return None if channel_id is None else self._client.get_partial_messageable(channel_id)

    def _locale(self, guild_id: int) -> str:
        guild = self._client.get_guild(guild_id)
        return str(guild.preferred_locale) if guild is not None else "en-US"

    # -- the buttons -----------------------------------------------------------------------

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


async def _insert(
    tx: aiosqlite.Connection,
    guild_id: int,
    user_id: int,
    kind: str,
    body: dict[str, Any],
    now: float,
) -> int:
    cursor = await tx.execute(
        "INSERT INTO mod_audit_posts (guild_id, user_id, kind, body, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (guild_id, user_id, kind, json.dumps(body), now),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _refused_for_good(error: Exception) -> bool:
    """A 4xx: the channel is gone, the bot may not post there, the post is invalid. The
    same post would be refused again (429s never get here: discord.py waits them out)."""
    return isinstance(error, discord.HTTPException) and 400 <= error.status < 500


def _render(kind: str, body: dict[str, Any]) -> tuple[discord.Embed, discord.ui.View]:
    if kind == "job":
        return job_embed(body), _view(
            body["locale"], job_id=body["job_id"], user_id=body["user_id"]
        )
    return refusal_embed(body), _view(body["locale"], job_id=None, user_id=body["user_id"])


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
