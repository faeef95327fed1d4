"""A server's moderation settings: quotas, caps, role tiers and exemptions, blocked
members, the audit channel. Every function takes the guild it reads or changes."""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass
from datetime import UTC, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.moderation.db import ModerationDb


class Reset(StrEnum):
    ROLLING = "rolling"  # the last 24 hours
    CALENDAR = "calendar"  # since midnight in the server's time zone


@dataclass(frozen=True)
class GuildSettings:
    """None means no limit. A new server starts with no limits at all."""

    user_daily: int | None = None  # images per member per day
    guild_daily: int | None = None  # images per server per day
    cooldown: float | None = None  # seconds between one member's jobs
    max_waiting: int | None = None  # one member's jobs not finished yet
    max_steps: int | None = None
    max_count: int | None = None
    max_size: str | None = None  # "WxH": no image with more pixels than this
    reset: Reset = Reset.ROLLING
    timezone: str = "UTC"
    audit_channel_id: int | None = None

    @property
    def max_pixels(self) -> int | None:
        if self.max_size is None:
            return None
        width, _, height = self.max_size.partition("x")
        return int(width) * int(height)


@dataclass(frozen=True)
class Tier:
    """Limits for members with a role. None: as the server's; 0: no limit."""

    role_id: int
    user_daily: int | None = None
    cooldown: float | None = None
    max_waiting: int | None = None


_FIELDS = [field.name for field in dataclasses.fields(GuildSettings)]


def zone(name: str) -> tzinfo:
    """The time zone called `name`. UTC needs no time zone database (a slim container
    may lack one: then other zones raise ZoneInfoNotFoundError)."""
    return UTC if name == "UTC" else ZoneInfo(name)


async def load(db: ModerationDb, guild_id: int) -> GuildSettings:
    found = await db.one("SELECT * FROM mod_settings WHERE guild_id = ?", (guild_id,))
    if found is None:
        return GuildSettings()
    values = {name: found[name] for name in _FIELDS}
    return GuildSettings(**{**values, "reset": Reset(values["reset"])})


async def update(db: ModerationDb, guild_id: int, **changes: object) -> GuildSettings:
    """Changes the named settings (the rest stay) and returns them all."""
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    async with db.transaction() as tx:
        await tx.execute("INSERT OR IGNORE INTO mod_settings (guild_id) VALUES (?)", (guild_id,))
        for name, value in changes.items():  # names checked above: never user text
            await tx.execute(
                f"UPDATE mod_settings SET {name} = ? WHERE guild_id = ?", (value, guild_id)
            )
    return await load(db, guild_id)


async def tiers(db: ModerationDb, guild_id: int) -> list[Tier]:
    found = await db.all(
        "SELECT role_id, user_daily, cooldown, max_waiting FROM mod_tiers WHERE guild_id = ?"
        " ORDER BY role_id",
        (guild_id,),
    )
    return [Tier(*row) for row in found]


async def set_tier(db: ModerationDb, guild_id: int, tier: Tier) -> None:
    await db.write(
        "INSERT OR REPLACE INTO mod_tiers (guild_id, role_id, user_daily, cooldown, max_waiting)"
        " VALUES (?, ?, ?, ?, ?)",
        (guild_id, tier.role_id, tier.user_daily, tier.cooldown, tier.max_waiting),
    )


async def remove_tier(db: ModerationDb, guild_id: int, role_id: int) -> bool:
    return bool(
        await db.write(
            "DELETE FROM mod_tiers WHERE guild_id = ? AND role_id = ?", (guild_id, role_id)
        )
    )


async def exempt_roles(db: ModerationDb, guild_id: int) -> list[int]:
    found = await db.all(
        "SELECT role_id FROM mod_exempt_roles WHERE guild_id = ? ORDER BY role_id", (guild_id,)
    )
    return [row[0] for row in found]


async def set_exempt(db: ModerationDb, guild_id: int, role_id: int, exempt: bool) -> bool:
    """Returns whether anything changed."""
    sql = (
        "INSERT OR IGNORE INTO mod_exempt_roles (guild_id, role_id) VALUES (?, ?)"
        if exempt
        else "DELETE FROM mod_exempt_roles WHERE guild_id = ? AND role_id = ?"
    )
    return bool(await db.write(sql, (guild_id, role_id)))


async def block(db: ModerationDb, guild_id: int, user_id: int, by: int, at: float) -> bool:
    sql = (
        "INSERT OR IGNORE INTO mod_blocked (guild_id, user_id, blocked_by, at) VALUES (?, ?, ?, ?)"
    )
    return bool(await db.write(sql, (guild_id, user_id, by, at)))


async def unblock(db: ModerationDb, guild_id: int, user_id: int) -> bool:
    sql = "DELETE FROM mod_blocked WHERE guild_id = ? AND user_id = ?"
    return bool(await db.write(sql, (guild_id, user_id)))


async def is_blocked(db: ModerationDb, guild_id: int, user_id: int) -> bool:
    sql = "SELECT 1 FROM mod_blocked WHERE guild_id = ? AND user_id = ?"
    return await db.one(sql, (guild_id, user_id)) is not None


async def blocked(db: ModerationDb, guild_id: int) -> list[sqlite3.Row]:
    """Blocked members, most recent first: user_id, blocked_by, at."""
    return await db.all(
        "SELECT user_id, blocked_by, at FROM mod_blocked WHERE guild_id = ? ORDER BY at DESC",
        (guild_id,),
    )
