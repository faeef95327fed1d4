"""The bot's own SQLite file: where each job's messages live, how far its delivery got,
the usage log, and the cursor into the job store's events.

Kept apart from the job store on purpose: interaction tokens never reach the workers
(a GPU host, often rented, carries no Discord credentials of any kind).

Every write is one explicit `BEGIN IMMEDIATE` transaction under the connection's lock:
the coroutines sharing the connection never see, nor commit, each other's half-done
writes (closing a delivery and logging its usage land together or not at all).
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import aiosqlite

from core.jobs import Job
from core.sqlite_open import open_sqlite
from core.sqlite_tx import immediate

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
    created_at REAL NOT NULL,
    lost_at REAL,
    shown TEXT,
    notified_at REAL
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
CREATE TABLE IF NOT EXISTS send_intents (
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    nonce TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (job_id, kind)
);
"""
# Columns added to `deliveries` after the first release; opening an older file adds them.
ADDED_COLUMNS = {"lost_at": "REAL", "shown": "TEXT", "notified_at": "REAL"}
DELIVERY_COLUMNS = (
    "job_id, guild_id, channel_id, user_id, locale, application_id, interaction_token,"
    " token_expires, attachment_limit, status_message_id, delivered_at, created_at,"
    " lost_at, shown, notified_at"
)


class Shown(StrEnum):
    """What a job's message shows once its outcome is in it."""

    RESULT = "result"  # the pictures: their usage counts
    OUTCOME = "outcome"  # a failure, a cancellation, or a result no longer kept


class SendKind(StrEnum):
    """New messages the bot sends with its own token, each at most once per job."""

    POST = "post"  # the job's message, posted anew
    NOTIFY = "notify"  # the reply that tells the requester their result is ready


@dataclass(frozen=True)
class Delivery:
    """Where a job's answer goes and how far it got."""

    job_id: str
    guild_id: int
    channel_id: int
    user_id: int
    locale: str
    application_id: int
    interaction_token: str
    token_expires: float  # 0: the token is of no use any more (expired, or its message gone)
    attachment_limit: int
    status_message_id: int | None
    delivered_at: float | None
    created_at: float
    lost_at: float | None = None  # when the job's message was found deleted
    shown: Shown | None = None  # the outcome is in the message
    notified_at: float | None = None  # the requester was told (or could not be)


@dataclass(frozen=True)
class SendIntent:
    """A send about to be made: noted before it is made, so a send repeated after a crash
    carries the same nonce (Discord then answers with the first message instead of a
    second one) and can be looked for among the messages sent after `at`."""

    nonce: str
    at: float


class Ledger:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()  # one transaction or read at a time on the connection

    @classmethod
    async def open(cls, path: Path) -> Ledger:
        ledger = cls(await open_sqlite(path))
        async with ledger._write() as tx:
            for statement in filter(str.strip, SCHEMA.split(";")):
                await tx.execute(statement)
            have = {row["name"] for row in await tx.execute_fetchall(_TABLE_INFO)}
            for name, kind in ADDED_COLUMNS.items():
                if name not in have:
                    await tx.execute(f"ALTER TABLE deliveries ADD COLUMN {name} {kind}")
        return ledger

    async def close(self) -> None:
        await self._db.close()

    async def add(self, delivery: Delivery) -> None:
        marks = ", ".join("?" * len(DELIVERY_COLUMNS.split(",")))
        async with self._write() as tx:
            await tx.execute(
                f"INSERT OR IGNORE INTO deliveries ({DELIVERY_COLUMNS}) VALUES ({marks})",
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
                    delivery.lost_at,
                    delivery.shown,
                    delivery.notified_at,
                ),
            )

    async def get(self, job_id: str) -> Delivery | None:
        rows = await self._read(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE job_id = ?", (job_id,)
        )
        return _delivery(rows[0]) if rows else None

    async def pending(self) -> list[Delivery]:
        """Deliveries not made yet, oldest first."""
        rows = await self._read(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE delivered_at IS NULL"
            " ORDER BY created_at"
        )
        return [_delivery(row) for row in rows]

    async def set_status_message(
        self, job_id: str, message_id: int, *, notified_at: float | None = None
    ) -> None:
        """Notes the job's message (the first one, or one posted anew after it was lost;
        `notified_at` when that post mentioned the requester)."""
        async with self._write() as tx:
            await tx.execute(
                "UPDATE deliveries SET status_message_id = ?, lost_at = NULL,"
                " notified_at = COALESCE(notified_at, ?) WHERE job_id = ?",
                (message_id, notified_at, job_id),
            )
            await _drop_intent(tx, job_id, SendKind.POST)

    async def set_attachment_limit(self, job_id: str, limit: int) -> None:
        await self._update(job_id, "attachment_limit = ?", limit)

    async def drop_token(self, job_id: str) -> None:
        """The interaction token is of no use any more (Discord says it expired)."""
        await self._update(job_id, "token_expires = ?", 0.0)

    async def message_lost(self, job_id: str, now: float) -> None:
        """The job's message was deleted: its token (good only for that message) is of no
        use either; the outcome will be posted anew."""
        await self._update(job_id, "status_message_id = NULL, token_expires = 0, lost_at = ?", now)

    async def mark_shown(self, job_id: str, shown: Shown) -> None:
        await self._update(job_id, "shown = ?", shown.value)

    async def mark_notified(self, job_id: str, now: float) -> None:
        async with self._write() as tx:
            await tx.execute(
                "UPDATE deliveries SET notified_at = ? WHERE job_id = ?", (now, job_id)
            )
            await _drop_intent(tx, job_id, SendKind.NOTIFY)

    async def intent(self, job_id: str, kind: SendKind) -> SendIntent | None:
        """The send of this kind noted for the job and not confirmed yet, if any."""
        rows = await self._read(
            "SELECT nonce, at FROM send_intents WHERE job_id = ? AND kind = ?", (job_id, kind)
        )
        return SendIntent(str(rows[0]["nonce"]), float(rows[0]["at"])) if rows else None

    async def new_intent(self, job_id: str, kind: SendKind, now: float) -> SendIntent:
        # Discord takes a nonce of up to 25 characters; 63 random bits are 19 digits.
        intent = SendIntent(str(secrets.randbits(63)), now)
        async with self._write() as tx:
            await tx.execute(
                "INSERT INTO send_intents (job_id, kind, nonce, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (job_id, kind)"
                " DO UPDATE SET nonce = excluded.nonce, at = excluded.at",
                (job_id, kind, intent.nonce, intent.at),
            )
        return intent

    async def mark_delivered(self, job_id: str, now: float, *, usage: Job | None = None) -> None:
        """Closes the delivery and, for a job whose pictures were delivered, logs their
        usage in the same transaction: both land, or neither."""
        async with self._write() as tx:
            await tx.execute(
                "UPDATE deliveries SET delivered_at = ? WHERE job_id = ?", (now, job_id)
            )
            await tx.execute("DELETE FROM send_intents WHERE job_id = ?", (job_id,))
            if usage is not None:
                p = usage.params
                await tx.execute(
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

    async def cursor(self) -> int | None:
        rows = await self._read("SELECT seq FROM cursor WHERE name = 'events'")
        return int(rows[0][0]) if rows else None

    async def save_cursor(self, seq: int) -> None:
        async with self._write() as tx:
            await tx.execute(
                "INSERT INTO cursor (name, seq) VALUES ('events', ?)"
                " ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
                (seq,),
            )

    def _write(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        return immediate(self._db, self._lock)

    async def _update(self, job_id: str, assignments: str, value: object) -> None:
        async with self._write() as tx:
            await tx.execute(
                f"UPDATE deliveries SET {assignments} WHERE job_id = ?", (value, job_id)
            )

    async def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        # Under the lock, so a read never sees another coroutine's transaction half done;
        # in one call on the connection's thread, so no cursor holds a read snapshot.
        async with self._lock:
            return list(await self._db.execute_fetchall(sql, args))


_TABLE_INFO = "SELECT name FROM pragma_table_info('deliveries')"


async def _drop_intent(tx: aiosqlite.Connection, job_id: str, kind: SendKind) -> None:
    await tx.execute("DELETE FROM send_intents WHERE job_id = ? AND kind = ?", (job_id, kind))


def _delivery(row: sqlite3.Row) -> Delivery:
    values = dict(row)
    shown = values.pop("shown")
    return Delivery(**values, shown=None if shown is None else Shown(shown))
