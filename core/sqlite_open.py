"""The one way this project opens a SQLite file (the job store, the bot's ledger and
moderation's tables): every connection gets the same settings, set in one place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite

BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another's lock before failing


async def open_sqlite(path: Path, *, incremental_vacuum: bool = False) -> aiosqlite.Connection:
    """A connection in autocommit mode: nothing is ever written by an implicit transaction
    that some later, unrelated commit would finish; every multi-statement write is an
    explicit `BEGIN IMMEDIATE` (core.sqlite_tx.immediate).

    WAL lets readers go on while one writer writes; `synchronous = NORMAL` with WAL loses
    at most the last commits on a power cut, never consistency; `busy_timeout` makes a
    writer wait for the lock instead of failing with "database is locked".

    `incremental_vacuum` (the job store, which purges pictures) makes a NEW file able to
    give purged pages back to the file system; SQLite takes it only in a new file and
    only before WAL writes its header, hence first. An older file keeps its pages and
    reuses them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        db.row_factory = sqlite3.Row
        if incremental_vacuum:
            await db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        await db.close()
        raise
    return db
