"""One write transaction on an aiosqlite connection shared by coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiosqlite


@asynccontextmanager
async def immediate(
    db: aiosqlite.Connection, lock: asyncio.Lock
) -> AsyncIterator[aiosqlite.Connection]:
    """`BEGIN IMMEDIATE` takes the write lock up front, so a read-then-write never races
    another process; the asyncio lock keeps two coroutines of this process from
    interleaving statements on the one connection."""
    async with lock:
        await db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")
