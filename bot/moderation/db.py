"""Moderation's tables in the bot's own SQLite file (IMAGINE_BOT_DB), beside the ledger's.

Its own connection, in autocommit mode with explicit `BEGIN IMMEDIATE` transactions: a
quota check and the reservation it allows are one transaction that holds the write lock,
so two requests (on any connection, in any process) can never both take the last image.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import aiosqlite

from bot.ledger import SCHEMA as LEDGER_SCHEMA
from core.sqlite_open import open_sqlite
from core.sqlite_tx import immediate

# Every row carries its guild_id and every query filters on it: nothing of one server is
# visible from another.
SCHEMA = """
CREATE TABLE IF NOT EXISTS mod_settings (
    guild_id INTEGER PRIMARY KEY,
    user_daily INTEGER,
    guild_daily INTEGER,
    cooldown REAL,
    max_waiting INTEGER,
    max_steps INTEGER,
    max_count INTEGER,
    max_size TEXT,
    reset TEXT NOT NULL DEFAULT 'rolling',
    timezone TEXT NOT NULL DEFAULT 'UTC',
    audit_channel_id INTEGER
);
CREATE TABLE IF NOT EXISTS mod_tiers (
    guild_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL,
    user_daily INTEGER,
    cooldown REAL,
    max_waiting INTEGER,
    PRIMARY KEY (guild_id, role_id)
);
CREATE TABLE IF NOT EXISTS mod_exempt_roles (
    guild_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL,
    PRIMARY KEY (guild_id, role_id)
);
CREATE TABLE IF NOT EXISTS mod_blocked (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    blocked_by INTEGER NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE TABLE IF NOT EXISTS mod_words (
    guild_id INTEGER NOT NULL,
    word TEXT NOT NULL,
    PRIMARY KEY (guild_id, word)
);
CREATE TABLE IF NOT EXISTS mod_reservations (
    job_id TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    images INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS mod_reservations_by_user ON mod_reservations (guild_id, user_id, at);
CREATE TABLE IF NOT EXISTS mod_last_job (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX IF NOT EXISTS usage_by_requester ON usage (guild_id, user_id, requested_at);
CREATE INDEX IF NOT EXISTS usage_by_request_time ON usage (guild_id, requested_at);
-- Added after the first release: new tables only, so opening an older file adds them.
CREATE TABLE IF NOT EXISTS mod_defaults (
    guild_id INTEGER PRIMARY KEY,
    count INTEGER,
    steps INTEGER,
    guidance REAL,
    size TEXT,
    sampler TEXT,
    negative_prompt TEXT,
    model TEXT
);
-- Audit posts, recorded before they are sent (kind 'job' or 'refused', body: what the
-- post shows, as JSON). A sent post keeps its row, emptied, for a while: refused
-- prompts posted lately are counted from these.
CREATE TABLE IF NOT EXISTS mod_audit_posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS mod_audit_posts_by_member
    ON mod_audit_posts (guild_id, user_id, kind, created_at);
CREATE INDEX IF NOT EXISTS mod_audit_posts_by_sent ON mod_audit_posts (sent_at);
-- Refused prompts of a member not posted (over their share), told in their next post.
CREATE TABLE IF NOT EXISTS mod_audit_unposted (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    refused INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
"""


# Columns added after the first release, to tables an older file already has.
ADDED_COLUMNS = (("mod_defaults", "model", "TEXT"),)


class ModerationDb:
    """One connection; an asyncio.Lock keeps two coroutines' transactions apart."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> ModerationDb:
        moderation = cls(await open_sqlite(path))
        async with moderation.transaction() as tx:
            # The ledger's tables too: the quotas read its deliveries and usage.
            for statement in filter(str.strip, (LEDGER_SCHEMA + SCHEMA).split(";")):
                await tx.execute(statement)
            for table, column, kind in ADDED_COLUMNS:  # our own names: never user text
                have = {row["name"] for row in await rows(tx, f"PRAGMA table_info({table})")}
                if column not in have:
                    await tx.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        return moderation

    async def close(self) -> None:
        await self._db.close()

    def transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        return immediate(self._db, self._lock)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection for several reads in a row (each sees the latest commits)."""
        async with self._lock:
            yield self._db

    async def all(self, sql: str, args: Iterable[object] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return await rows(self._db, sql, args)

    async def one(self, sql: str, args: Iterable[object] = ()) -> sqlite3.Row | None:
        found = await self.all(sql, args)
        return found[0] if found else None

    async def write(self, sql: str, args: Iterable[object] = ()) -> int:
        """Runs one statement in its own transaction; returns how many rows it changed."""
        async with self.transaction() as tx:
            cursor = await tx.execute(sql, tuple(args))
            return cursor.rowcount


async def rows(
    db: aiosqlite.Connection, sql: str, args: Iterable[object] = ()
) -> list[sqlite3.Row]:
    # One call on the connection's thread: no cursor stays open holding a read snapshot.
    return list(await db.execute_fetchall(sql, tuple(args)))


async def row(
    db: aiosqlite.Connection, sql: str, args: Iterable[object] = ()
) -> sqlite3.Row | None:
    found = await rows(db, sql, args)
    return found[0] if found else None
