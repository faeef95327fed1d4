"""One write transaction on an aiosqlite connection shared by coroutines."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiosqlite


@asynccontextmanager
async def immediate(
    db: aiosqlite.Connection, lock: asyncio.Lock
) -> AsyncIterator[aiosqlite.Connection]:
    """`BEGIN IMMEDIATE` takes the write lock up front, so a read-then-write never races
    another process; the asyncio lock keeps two coroutines of this process from
    interleaving statements on the one connection. Whatever fails inside, the commit
    itself included, rolls the whole transaction back: nothing half-written stays pending
    for a later commit to write. The connection must be in autocommit mode
    (core.sqlite_open.open_sqlite)."""
    async with lock:
        await db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            await db.execute("COMMIT")
        except BaseException:
            # A COMMIT cancelled while it waited still runs on the connection's thread,
            # and the ROLLBACK queued behind it then finds no transaction. That error
            # must not take the place of the cancellation: a task stopped mid-commit
            # would take it for a failed write, retry, and never stop.
            with contextlib.suppress(sqlite3.OperationalError):
                await db.execute("ROLLBACK")
            raise
