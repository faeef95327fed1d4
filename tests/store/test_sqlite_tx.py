"""core.sqlite_tx.immediate: a write transaction shared by coroutines on one connection."""

import asyncio
from pathlib import Path

import pytest

from core.sqlite_open import open_sqlite
from core.sqlite_tx import immediate

# About a second of work on the connection's thread, which runs statements in order.
SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000)"
    " SELECT count(*) FROM c"
)


async def test_a_task_cancelled_during_its_commit_ends_cancelled(tmp_path: Path) -> None:
    """The COMMIT goes on in the connection's thread after the task is cancelled, so the
    ROLLBACK behind it finds no transaction. The task must still end in its cancellation
    (a bot closing its delivery task waits for exactly that), not in that error."""
    db = await open_sqlite(tmp_path / "tx.db")
    await db.execute("CREATE TABLE t (x INTEGER)")
    queued_ahead: list[asyncio.Task[object]] = []

    async def write() -> None:
        async with immediate(db, asyncio.Lock()):
            await db.execute("INSERT INTO t VALUES (1)")
            # Queued on the thread ahead of the COMMIT: the COMMIT waits behind it.
            queued_ahead.append(asyncio.create_task(db.execute_fetchall(SLOW)))
            await asyncio.sleep(0)

    task = asyncio.create_task(write())
    await asyncio.sleep(0.1)  # the task now waits for its COMMIT
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await queued_ahead[0]
    try:
        rows = await db.execute_fetchall("SELECT count(*) FROM t")
        assert list(rows[0]) == [1]  # the COMMIT ran whole; nothing was undone after it
        assert not db.in_transaction
    finally:
        await db.close()
