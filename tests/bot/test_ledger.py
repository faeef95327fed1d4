"""The ledger's writes are whole transactions: closing a delivery and logging its usage
land together or not at all, and a failed write leaves nothing pending that a later,
unrelated commit on the same connection would write. Real SQLite files."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.ledger import Delivery, Ledger, SendKind, Shown
from core.jobs import Job, JobParams, JobState

NOW = 1_800_000_000.0
REFUSE_USAGE = (
    "CREATE TRIGGER refuse_usage BEFORE INSERT ON usage"
    " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
)


def delivery(job_id: str) -> Delivery:
    return Delivery(job_id, 1, 100, 10, "en-US", 1, "token", NOW + 900, 8 << 20, 5, None, NOW)


def done_job(job_id: str) -> Job:
    return Job(
        job_id, 1, 100, 10, JobParams(prompt="p", count=2), "en-US", JobState.DONE, 1, 3, NOW
    )


def on_disk(path: Path, job_id: str) -> tuple[object, int, object]:
    """What another connection reads: delivered_at, usage rows, the saved cursor."""
    with sqlite3.connect(path) as db:
        (delivered_at,) = db.execute(
            "SELECT delivered_at FROM deliveries WHERE job_id = ?", (job_id,)
        ).fetchone()
        (usage,) = db.execute("SELECT COUNT(*) FROM usage WHERE job_id = ?", (job_id,)).fetchone()
        cursor = db.execute("SELECT seq FROM cursor").fetchone()
    return delivered_at, usage, cursor[0] if cursor else None


async def test_a_failed_usage_row_leaves_the_delivery_open_even_after_a_later_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    ledger = await Ledger.open(path)
    try:
        await ledger.add(delivery("job"))
        with sqlite3.connect(path) as db:
            db.execute(REFUSE_USAGE)
        with pytest.raises(sqlite3.DatabaseError, match="injected failure"):
            await ledger.mark_delivered("job", NOW + 5, usage=done_job("job"))
        await ledger.save_cursor(7)  # an unrelated write commits on the same connection
        assert on_disk(path, "job") == (None, 0, 7)  # nothing of the failed write landed
        with sqlite3.connect(path) as db:
            db.execute("DROP TRIGGER refuse_usage")
        await ledger.mark_delivered("job", NOW + 6, usage=done_job("job"))
        assert on_disk(path, "job") == (NOW + 6, 1, 7)  # retried: both together
    finally:
        await ledger.close()


async def test_coroutines_sharing_the_connection_never_commit_each_others_halves(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    ledger = await Ledger.open(path)
    try:
        for n in range(20):
            await ledger.add(delivery(f"job-{n}"))
        with sqlite3.connect(path) as db:
            db.execute(REFUSE_USAGE)
        outcomes = await asyncio.gather(
            *(
                ledger.mark_delivered(f"job-{n}", NOW, usage=done_job(f"job-{n}"))
                for n in range(20)
            ),
            *(ledger.save_cursor(n) for n in range(20)),
            return_exceptions=True,
        )
        assert all(isinstance(o, sqlite3.DatabaseError) for o in outcomes[:20])
        assert outcomes[20:] == [None] * 20
        assert [on_disk(path, f"job-{n}")[:2] for n in range(20)] == [(None, 0)] * 20
        assert len(await ledger.pending()) == 20
    finally:
        await ledger.close()


async def test_an_older_ledger_file_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    with sqlite3.connect(path) as db:  # the deliveries table as the first release made it
        db.execute(
            "CREATE TABLE deliveries (job_id TEXT PRIMARY KEY, guild_id INTEGER NOT NULL,"
            " channel_id INTEGER NOT NULL, user_id INTEGER NOT NULL, locale TEXT NOT NULL,"
            " application_id INTEGER NOT NULL, interaction_token TEXT NOT NULL,"
            " token_expires REAL NOT NULL, attachment_limit INTEGER NOT NULL,"
            " status_message_id INTEGER, delivered_at REAL, created_at REAL NOT NULL)"
        )
        db.execute(
            "INSERT INTO deliveries VALUES ('old', 1, 100, 10, 'ko', 1, 't', 0, 1024, 5, NULL, 1)"
        )
    ledger = await Ledger.open(path)
    try:
        old = await ledger.get("old")
        assert old is not None
        assert (old.locale, old.status_message_id, old.shown, old.notified_at) == (
            "ko",
            5,
            None,
            None,
        )
        await ledger.mark_shown("old", Shown.RESULT)
        intent = await ledger.new_intent("old", SendKind.NOTIFY, NOW)
        assert await ledger.intent("old", SendKind.NOTIFY) == intent
        await ledger.mark_notified("old", NOW)
        again = await ledger.get("old")
        assert again is not None
        assert (again.shown, again.notified_at) == (Shown.RESULT, NOW)
        assert await ledger.intent("old", SendKind.NOTIFY) is None
    finally:
        await ledger.close()
