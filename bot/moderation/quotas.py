"""Quotas: who may queue how many images, and the atomic reservation that enforces it.

One source of truth for images used: the ledger's `usage` rows (written when a result
is delivered, in the same commit that closes the delivery). A job in flight holds a
reservation; it counts while its delivery is open, so the moment the ledger closes the
delivery the reservation stops counting and, for a delivered job, its usage row starts:
an image is never counted twice nor missed. A failed or canceled job closes its delivery
without usage, which releases its images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import aiosqlite

from bot.moderation.db import ModerationDb, row, rows
from bot.moderation.settings import GuildSettings, Reset, Tier, zone
from core.jobs import InvalidRequest, JobParams

_N = TypeVar("_N", int, float)
DAY = 86_400.0
ORPHAN_SECONDS = 3600.0  # a reservation whose job never got a delivery row (bot stopped)

# A reservation still counts while its job's delivery is open, or for a while if the
# bot stopped before noting the delivery at all.
_IN_FLIGHT = "(d.job_id IS NOT NULL AND d.delivered_at IS NULL OR d.job_id IS NULL AND r.at > ?)"


@dataclass(frozen=True)
class Limits:
    """One member's limits in one server; None: no limit."""

    user_daily: int | None
    cooldown: float | None
    max_waiting: int | None


@dataclass(frozen=True)
class Request:
    job_id: str
    guild_id: int
    user_id: int
    images: int


@dataclass(frozen=True)
class Standing:
    """How much of a daily quota is used, and when some of it frees up."""

    used: int
    limit: int | None
    frees_at: float | None  # None: nothing to free

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


def limits_for(settings: GuildSettings, tiers: list[Tier], role_ids: set[int]) -> Limits:
    """The server's limits, raised by every tier the member's roles give: the most
    generous value of each wins."""
    base = Limits(settings.user_daily, settings.cooldown, settings.max_waiting)
    mine = [tier for tier in tiers if tier.role_id in role_ids]
    return Limits(
        _most(base.user_daily, [t.user_daily for t in mine], highest=True),
        _most(base.cooldown, [t.cooldown for t in mine], highest=False),
        _most(base.max_waiting, [t.max_waiting for t in mine], highest=True),
    )


def _most(base: _N | None, tiered: list[_N | None], *, highest: bool) -> _N | None:
    """A tier's None leaves the server's value, its 0 means no limit; a tier only ever
    raises a limit, so the server's own value is a candidate too."""
    values: list[_N | None] = [base]
    values += [value or None for value in tiered if value is not None]
    known: list[_N] = [value for value in values if value is not None]
    if len(known) < len(values):
        return None  # the server or some tier sets no limit
    return max(known) if highest else min(known)


def check_caps(settings: GuildSettings, params: JobParams) -> None:
    """The server's caps on one request's steps, count and size."""
    if settings.max_steps is not None and params.steps > settings.max_steps:
        raise InvalidRequest("mod_cap_steps", limit=settings.max_steps)
    if settings.max_count is not None and params.count > settings.max_count:
        raise InvalidRequest("mod_cap_count", limit=settings.max_count)
    pixels = settings.max_pixels
    if pixels is not None and params.width * params.height > pixels:
        raise InvalidRequest("mod_cap_size", size=settings.max_size)


def window(settings: GuildSettings, now: float) -> tuple[float, float | None]:
    """Where today's count starts, and (calendar days) when it starts again."""
    if settings.reset is Reset.ROLLING:
        return now - DAY, None
    midnight = datetime.fromtimestamp(now, zone(settings.timezone)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    # Adding a day to an aware datetime keeps the wall clock: the next midnight, DST or not.
    return midnight.timestamp(), (midnight + timedelta(days=1)).timestamp()


async def reserve(
    db: ModerationDb, request: Request, settings: GuildSettings, limits: Limits | None, now: float
) -> None:
    """Checks the request against the limits (None: exempt) and reserves its images, in
    one write transaction; raises InvalidRequest and reserves nothing if it is over."""
    async with db.transaction() as tx:
        if await row(tx, "SELECT 1 FROM mod_reservations WHERE job_id = ?", (request.job_id,)):
            return  # reserved already: the same interaction again
        if limits is not None:
            await _check_member(tx, request, settings, limits, now)
        await _check_guild(tx, request, settings, now)
        await tx.execute(
            "INSERT INTO mod_reservations (job_id, guild_id, user_id, images, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (request.job_id, request.guild_id, request.user_id, request.images, now),
        )
        await tx.execute(
            "INSERT INTO mod_last_job (guild_id, user_id, at) VALUES (?, ?, ?)"
            " ON CONFLICT (guild_id, user_id) DO UPDATE SET at = excluded.at",
            (request.guild_id, request.user_id, now),
        )


async def _check_member(
    tx: aiosqlite.Connection, request: Request, settings: GuildSettings, limits: Limits, now: float
) -> None:
    if limits.cooldown is not None:
        ready = await cooldown_until(tx, request.guild_id, request.user_id, limits.cooldown)
        if ready is not None and ready > now:
            raise InvalidRequest("mod_cooldown", when=relative_time(ready))
    if limits.max_waiting is not None:
        count = await waiting(tx, request.guild_id, request.user_id, now)
        if count >= limits.max_waiting:
            raise InvalidRequest("mod_waiting", count=count, limit=limits.max_waiting)
    if limits.user_daily is not None:
        mine = await standing(tx, settings, limits.user_daily, now, request, by_user=True)
        _check_fits(mine, request.images, "mod_quota_user")


async def _check_guild(
    tx: aiosqlite.Connection, request: Request, settings: GuildSettings, now: float
) -> None:
    if settings.guild_daily is not None:
        server = await standing(tx, settings, settings.guild_daily, now, request, by_user=False)
        _check_fits(server, request.images, "mod_quota_guild")


def _check_fits(standing: Standing, images: int, key: str) -> None:
    assert standing.limit is not None
    assert standing.left is not None
    if images > standing.limit:  # more than a whole day's worth: no wait would help
        raise InvalidRequest("mod_cap_count", limit=standing.limit)
    if images > standing.left:
        assert standing.frees_at is not None  # some images are used, so some free up
        when = relative_time(standing.frees_at)
        raise InvalidRequest(key, left=standing.left, limit=standing.limit, count=images, when=when)


async def standing(
    tx: aiosqlite.Connection,
    settings: GuildSettings,
    limit: int | None,
    now: float,
    request: Request,
    *,
    by_user: bool,
) -> Standing:
    """Images used today by the member (or the whole server), delivered or in flight."""
    start, next_day = window(settings, now)
    charges = await _charges(tx, request, start, now, by_user=by_user)
    used = sum(images for _, images in charges)
    if next_day is not None:
        return Standing(used, limit, next_day if charges else None)
    # Rolling: images free up as their charges turn 24 hours old; for a request that
    # does not fit, name the moment enough of them have.
    needed = used + request.images - (limit or 0)
    freed, frees_at = 0, None
    for at, images in charges:
        frees_at = at + DAY
        freed += images
        if freed >= needed:
            break
    return Standing(used, limit, frees_at)


async def _charges(
    tx: aiosqlite.Connection, request: Request, start: float, now: float, *, by_user: bool
) -> list[tuple[float, int]]:
    used, reserved = "", ""
    args: tuple[int, ...] = ()
    if by_user:
        used, reserved, args = "AND user_id = ?", "AND r.user_id = ?", (request.user_id,)
    found = await rows(
        tx,
        f"SELECT requested_at, images FROM usage WHERE guild_id = ? {used} AND requested_at >= ?"
        " UNION ALL SELECT r.at, r.images FROM mod_reservations AS r"
        " LEFT JOIN deliveries AS d ON d.job_id = r.job_id"
        f" WHERE r.guild_id = ? {reserved} AND r.at >= ? AND {_IN_FLIGHT} ORDER BY 1",
        (request.guild_id, *args, start, request.guild_id, *args, start, now - ORPHAN_SECONDS),
    )
    return [(float(at), int(images)) for at, images in found]


async def waiting(tx: aiosqlite.Connection, guild_id: int, user_id: int, now: float) -> int:
    """The member's jobs in flight: queued, running, or done and not delivered yet."""
    found = await row(
        tx,
        "SELECT COUNT(*) FROM mod_reservations AS r LEFT JOIN deliveries AS d"
        f" ON d.job_id = r.job_id WHERE r.guild_id = ? AND r.user_id = ? AND {_IN_FLIGHT}",
        (guild_id, user_id, now - ORPHAN_SECONDS),
    )
    return int(found[0]) if found else 0


async def cooldown_until(
    tx: aiosqlite.Connection, guild_id: int, user_id: int, cooldown: float
) -> float | None:
    found = await row(
        tx, "SELECT at FROM mod_last_job WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
    )
    return None if found is None else float(found[0]) + cooldown


async def forget(db: ModerationDb, job_id: str) -> None:
    """Drops a reservation: its job was never queued, or it is settled (its delivery is
    closed, so it stopped counting already)."""
    await db.write("DELETE FROM mod_reservations WHERE job_id = ?", (job_id,))


def relative_time(at: float) -> str:
    """A moment Discord shows in each reader's own language and time zone ("in 3 hours")."""
    return f"<t:{math.ceil(at)}:R>"
