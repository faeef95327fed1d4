"""Moderation a server's staff run from inside Discord: quotas and caps, role tiers and
exemptions, banned words, blocked members, the audit channel, usage reports.

One object, `Moderation` (the bot's `bot.moderation`), is all the rest of the bot calls:
the staff's commands (bot/moderation/commands.py) and `/quota` read and change a server's
settings through it, and it meets the job's path three times:
- `admit` before a job is queued: refuses it (InvalidRequest, a sentence for the member)
  or reserves its images, atomically, under the job's id;
- `release` when an admitted job could not be queued after all, or its delivery was
  closed without its pictures shown (nothing could be posted, or they were not kept);
- `settle` once the job's outcome is delivered: the reservation is dropped (the ledger's
  usage row now counts a delivered job's images) and the job is posted to the audit log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import discord

from bot.ledger import Delivery
from bot.moderation import defaults, quotas, reports, settings, words
from bot.moderation.audit import AuditButton, Auditor
from bot.moderation.db import ModerationDb
from core.clip_tokens import ClipTokenCounter
from core.jobs import MODELS, InvalidRequest, Job, JobParams, JobState
from core.store.base import Clock

__all__ = ["AuditButton", "Moderation", "Overview", "QuotaReport"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuotaReport:
    """What `/quota` tells a member about themselves."""

    settings: settings.GuildSettings
    limits: quotas.Limits | None  # None: exempt
    mine: quotas.Standing
    server: quotas.Standing
    waiting: int
    ready_at: float | None  # when the cooldown lets them ask again


@dataclass(frozen=True)
class Overview:
    """What `/imagine-admin settings` shows of a server."""

    server: settings.GuildSettings
    tiers: list[settings.Tier]
    exempt: list[int]  # role ids
    saved: defaults.Defaults  # the defaults as the moderators set them
    used: defaults.Resolved  # as /imagine uses them, lowered to the caps
    words: int  # banned words of its own (0: the bot's list applies)
    blocked: int


class Moderation:
    def __init__(self, db: ModerationDb, client: discord.Client, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.audit = Auditor(db, client, lambda: self.clock())  # the clock tests move

    @classmethod
    async def open(
        cls, path: Path, client: discord.Client, *, clock: Clock = time.time
    ) -> Moderation:
        """Opens moderation's tables in the bot's SQLite file (the ledger's)."""
        moderation = cls(await ModerationDb.open(path), client, clock)
        await moderation._prune()
        moderation.audit.start()  # posts an earlier run could not send
        return moderation

    async def close(self) -> None:
        await self.db.close()

    async def admit(self, interaction: discord.Interaction, params: JobParams) -> None:
        """Raises InvalidRequest if this server does not take this request from this
        member now; else reserves its images for the job `interaction.id`."""
        guild_id, user_id = _guild(interaction), interaction.user.id
        if await settings.is_blocked(self.db, guild_id, user_id):
            raise InvalidRequest("mod_blocked")
        await self._check_words(guild_id, user_id, params)
        server = await settings.load(self.db, guild_id)
        limits = await self._limits(guild_id, server, role_ids(interaction.user))
        if limits is not None:
            quotas.check_caps(server, params)
        request = quotas.Request(str(interaction.id), guild_id, user_id, params.count)
        await quotas.reserve(self.db, request, server, limits, self.clock())

    async def defaults_for(
        self,
        guild_id: int | None,
        sizes: tuple[defaults.Size, ...],
        models: tuple[str, ...] = MODELS[:1],
    ) -> defaults.Resolved:
        """/imagine's defaults in this server (outside servers: the bot's own), among the
        sizes and models the bot offers."""
        if guild_id is None:
            return defaults.resolve(defaults.Defaults(), settings.GuildSettings(), sizes, models)
        saved = await defaults.load(self.db, guild_id)
        server = await settings.load(self.db, guild_id)
        return defaults.resolve(saved, server, sizes, models)

    async def release(self, job_id: str) -> None:
        await quotas.forget(self.db, job_id)

    async def settle(self, delivery: Delivery, job: Job) -> None:
        """After the job's outcome was delivered (and its delivery closed); never raises."""
        try:
            await quotas.forget(self.db, job.id)
            if job.state is JobState.DONE:
                await self.audit.job_delivered(delivery, job)
        except Exception:
            log.exception("Could not settle job %s with moderation", job.id)

    async def report(self, interaction: discord.Interaction) -> QuotaReport:
        guild_id, user_id, now = _guild(interaction), interaction.user.id, self.clock()
        server = await settings.load(self.db, guild_id)
        limits = await self._limits(guild_id, server, role_ids(interaction.user))
        request = quotas.Request("", guild_id, user_id, 1)
        user_daily = None if limits is None else limits.user_daily
        async with self.db.reading() as db:
            mine = await quotas.standing(db, server, user_daily, now, request, by_user=True)
            whole = await quotas.standing(
                db, server, server.guild_daily, now, request, by_user=False
            )
            waiting = await quotas.waiting(db, guild_id, user_id, now)
            ready = None
            if limits is not None and limits.cooldown is not None:
                ready = await quotas.cooldown_until(db, guild_id, user_id, limits.cooldown)
        return QuotaReport(server, limits, mine, whole, waiting, ready)

    # --- a server's settings, for its staff's commands ---------------------------------

    async def server_settings(self, guild_id: int) -> settings.GuildSettings:
        return await settings.load(self.db, guild_id)

    async def change_settings(self, guild_id: int, **changes: object) -> None:
        """Changes the named fields of GuildSettings; the others stay."""
        await settings.update(self.db, guild_id, **changes)

    async def overview(
        self, guild_id: int, sizes: tuple[defaults.Size, ...], models: tuple[str, ...]
    ) -> Overview:
        return Overview(
            await settings.load(self.db, guild_id),
            await settings.tiers(self.db, guild_id),
            await settings.exempt_roles(self.db, guild_id),
            await defaults.load(self.db, guild_id),
            await self.defaults_for(guild_id, sizes, models),
            words=await words.count(self.db, guild_id),
            blocked=len(await settings.blocked(self.db, guild_id)),
        )

    async def set_tier(self, guild_id: int, tier: settings.Tier) -> None:
        await settings.set_tier(self.db, guild_id, tier)

    async def remove_tier(self, guild_id: int, role_id: int) -> bool:
        """Returns whether the role had a tier."""
        return await settings.remove_tier(self.db, guild_id, role_id)

    async def set_exempt(self, guild_id: int, role_id: int, exempt: bool) -> bool:
        """Returns whether anything changed."""
        return await settings.set_exempt(self.db, guild_id, role_id, exempt)

    async def set_defaults(
        self,
        guild_id: int,
        wanted: defaults.Defaults,
        sizes: tuple[defaults.Size, ...],
        tokens: Callable[[], ClipTokenCounter],
        *,
        reset: bool,
    ) -> bool:
        """Raises InvalidRequest if /imagine would refuse `wanted` or it is over a cap;
        else saves it (over the others, or alone if `reset`). False: nothing to save."""
        defaults.check(wanted, await settings.load(self.db, guild_id), sizes, tokens)
        if wanted == defaults.Defaults() and not reset:
            return False
        await defaults.save(self.db, guild_id, wanted, reset=reset)
        return True

    async def ban_words(self, guild_id: int, wanted: list[str]) -> list[str]:
        """Raises InvalidRequest if a word is too long or the list would grow past its
        limit; else returns the words that were not banned yet."""
        if any(len(word) > words.MAX_WORD_CHARS for word in wanted):
            raise InvalidRequest("admin_word_too_long", limit=words.MAX_WORD_CHARS)
        if await words.count(self.db, guild_id) + len(wanted) > words.MAX_WORDS:
            raise InvalidRequest("admin_words_too_many", limit=words.MAX_WORDS)
        return await words.add(self.db, guild_id, wanted)

    async def allow_words(self, guild_id: int, wanted: list[str]) -> list[str]:
        """Returns the words that were banned."""
        return await words.remove(self.db, guild_id, wanted)

    async def banned_words(self, guild_id: int) -> list[str]:
        """The server's own list, or the bot's while it has none."""
        return await words.load(self.db, guild_id)

    async def block(self, guild_id: int, user_id: int, by: int, at: float) -> bool:
        """Returns False if the member was blocked already."""
        return await settings.block(self.db, guild_id, user_id, by, at)

    async def unblock(self, guild_id: int, user_id: int) -> bool:
        """Returns False if the member was not blocked."""
        return await settings.unblock(self.db, guild_id, user_id)

    async def blocked(self, guild_id: int) -> list[int]:
        """Blocked members' ids, most recently blocked first."""
        return [row["user_id"] for row in await settings.blocked(self.db, guild_id)]

    async def usage(self, guild_id: int, days: int) -> tuple[reports.Usage, str]:
        """The server's last `days` days (today included), and the time zone they are in."""
        timezone = (await settings.load(self.db, guild_id)).timezone
        return await reports.usage(self.db, guild_id, days, self.clock(), timezone), timezone

    async def export(self, guild_id: int, days: int) -> bytes:
        """The server's jobs of the last `days` days, as CSV."""
        return await reports.export_csv(self.db, guild_id, self.clock() - days * quotas.DAY)

    # --- inside ------------------------------------------------------------------------

    async def _limits(
        self, guild_id: int, server: settings.GuildSettings, roles: set[int]
    ) -> quotas.Limits | None:
        if roles & set(await settings.exempt_roles(self.db, guild_id)):
            return None
        return quotas.limits_for(server, await settings.tiers(self.db, guild_id), roles)

    async def _check_words(self, guild_id: int, user_id: int, params: JobParams) -> None:
        banned = words.WordList(await words.load(self.db, guild_id))
        negative = params.negative_prompt
        if negative and negative == (await defaults.load(self.db, guild_id)).negative_prompt:
            negative = ""  # the moderators' own default negative prompt, not the member's
        found = banned.find(params.prompt) + banned.find(negative)
        if not found:
            return
        log.info("Refused a prompt in guild %s from user %s: banned words", guild_id, user_id)
        await self.audit.prompt_refused(
            guild_id, user_id, params.prompt, list(dict.fromkeys(found))
        )
        raise InvalidRequest("mod_refused")

    async def _prune(self) -> None:
        """Drops reservations that stopped counting (their delivery closed, or the bot
        stopped before noting one) while the bot was away from settling them."""
        await self.db.write(
            "DELETE FROM mod_reservations WHERE job_id IN"
            " (SELECT job_id FROM deliveries WHERE delivered_at IS NOT NULL)"
            " OR (at < ? AND job_id NOT IN (SELECT job_id FROM deliveries))",
            (self.clock() - quotas.ORPHAN_SECONDS,),
        )


def role_ids(user: discord.User | discord.Member) -> set[int]:
    return {role.id for role in user.roles} if isinstance(user, discord.Member) else set()


def _guild(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise InvalidRequest("guild_only")
    return interaction.guild_id
