"""The bot's own SQLite file: where each job's messages live, whether it was delivered,
the usage log, and the cursor into the job store's events.

Kept apart from the job store on purpose: interaction tokens never reach the workers
(a GPU host, often rented, carries no Discord credentials of any kind).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from core.jobs import Job

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    job_id TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    locale TEXT NOT NULL,
    application_id INTEGER NOT NULL,
    interaction_token TEXT NOT NULL,
    token_expires REAL NOT NULL,
    attachment_limit INTEGER NOT NULL,
    status_message_id INTEGER,
    delivered_at REAL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (delivered_at);
CREATE TABLE IF NOT EXISTS usage (
    job_id TEXT PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    images INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    gpu_seconds REAL NOT NULL,
    requested_at REAL NOT NULL,
    delivered_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_by_guild ON usage (guild_id, delivered_at);
CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Delivery:
    """Where a job's answer goes and how to reach it."""

    job_id: str
    guild_id: int
    channel_id: int
    user_id: int
    locale: str
    application_id: int
    interaction_token: str
    token_expires: float
    attachment_limit: int
    status_message_id: int | None
    delivered_at: float | None
    created_at: float


class Ledger:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path) -> Ledger:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        db.row_factory = sqlite3.Row
        await db.execute("PRAGMA journal_mode = WAL")
        await db.executescript(SCHEMA)
        await db.commit()
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    async def add(self, delivery: Delivery) -> None:
        await self._db.execute(
            "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                delivery.job_id,
                delivery.guild_id,
                delivery.channel_id,
                delivery.user_id,
                delivery.locale,
                delivery.application_id,
                delivery.interaction_token,
                delivery.token_expires,
                delivery.attachment_limit,
                delivery.status_message_id,
                delivery.delivered_at,
                delivery.created_at,
            ),
        )
        await self._db.commit()

    async def get(self, job_id: str) -> Delivery | None:
        rows = await self._read("SELECT * FROM deliveries WHERE job_id = ?", (job_id,))
        return Delivery(**dict(rows[0])) if rows else None

    async def pending(self) -> list[Delivery]:
        """Deliveries not made yet, oldest first."""
        rows = await self._read(
            "SELECT * FROM deliveries WHERE delivered_at IS NULL ORDER BY created_at"
        )
        return [Delivery(**dict(row)) for row in rows]

    async def set_status_message(self, job_id: str, message_id: int) -> None:
        await self._db.execute(
            "UPDATE deliveries SET status_message_id = ? WHERE job_id = ?", (message_id, job_id)
        )
        await self._db.commit()

    async def set_attachment_limit(self, job_id: str, limit: int) -> None:
        await self._db.execute(
            "UPDATE deliveries SET attachment_limit = ? WHERE job_id = ?", (limit, job_id)
        )
        await self._db.commit()

    async def mark_delivered(self, job_id: str, now: float, *, usage: Job | None = None) -> None:
        """Closes the delivery and, for a job that made images, logs their usage with it."""
        await self._db.execute(
            "UPDATE deliveries SET delivered_at = ? WHERE job_id = ?", (now, job_id)
        )
        if usage is not None:
            p = usage.params
            await self._db.execute(
                "INSERT OR IGNORE INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    usage.id,
                    usage.guild_id,
                    usage.channel_id,
                    usage.user_id,
                    p.count,
                    p.steps,
                    p.width,
                    p.height,
                    usage.gpu_seconds,
                    usage.created_at,
                    now,
                ),
            )
        await self._db.commit()

    async def cursor(self) -> int | None:
        rows = await self._read("SELECT seq FROM cursor WHERE name = 'events'")
        return int(rows[0][0]) if rows else None

    async def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        # One call on the connection's thread: a cursor left open across an await holds a
        # read snapshot, and a write from another coroutine on this connection then fails
        # at once ("database is locked") if moderation's connection wrote in between.
        return list(await self._db.execute_fetchall(sql, args))

    async def save_cursor(self, seq: int) -> None:
        await self._db.execute(
            "INSERT INTO cursor (name, seq) VALUES ('events', ?)"
            " ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
            (seq,),
        )
        await self._db.commit()
