"""The embedded job store: one SQLite file shared by the bot and the workers of one host.

Every write is one `BEGIN IMMEDIATE` transaction, so two processes never interleave a
read-then-write; WAL lets readers go on meanwhile, and `busy_timeout` makes a writer
wait for the lock instead of failing with "database is locked".
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict
from pathlib import Path

import aiosqlite

from core.jobs import GAVE_UP, EventKind, Job, JobEvent, JobParams, JobResult, JobState, NewJob
from core.sqlite_open import open_sqlite
from core.sqlite_tx import immediate
from core.store import sqlite_fair
from core.store.base import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_RETENTION_SECONDS,
    PURGE_BATCH,
    SPEED_SAMPLE,
    WORKER_TIMEOUT_SECONDS,
    Clock,
    Lease,
    Preview,
    QueueStats,
    wall_clock,
)
from core.store.sqlite_schema import MIGRATIONS, statements

EVENT_POLL_SECONDS = 0.05
EVENT_RETENTION_SECONDS = 86_400.0
VACUUM_PAGES = 512  # pages (4 KiB, so 2 MiB) handed back to the file system per purge
FINISHED = tuple(state.value for state in JobState if state.finished)


def batch_key(params: JobParams) -> str:
    """Jobs with the same key can share one batch on the GPU (img2img rows included: each
    row starts from its own noise level): one model, size, step count and sampler. The
    model comes first, so a key names its model."""
    return f"{params.model}:{params.width}x{params.height}:{params.steps}:{params.sampler}"


class SqliteJobStore:
    """JobStore on one SQLite file. Open with `await SqliteJobStore.open(path)`."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        clock: Clock,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self._db = db
        self._clock = clock
        self._retention = retention_seconds  # finished jobs older than this are purged
        self._write_lock = asyncio.Lock()  # one transaction at a time on this connection

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        clock: Clock = wall_clock,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> SqliteJobStore:
        # Purged pages go back to the file system in a new file (`_vacuum`); an older
        # file reuses them for new jobs (docs/design.md, "Retention").
        db = await open_sqlite(path, incremental_vacuum=True)
        store = cls(db, clock, retention_seconds)
        await store._migrate()
        return store

    async def close(self) -> None:
        await self._db.close()

    def _transaction(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        return immediate(self._db, self._write_lock)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """One snapshot for a read of several statements (a position must not count a
        queue that a claim changed halfway through): a deferred transaction, which takes
        no write lock, under the connection's lock so no write of this process lands
        inside it."""
        async with self._write_lock:
            await self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _migrate(self) -> None:
        async with self._transaction() as db:
            row = await _one(db, "PRAGMA user_version")
            version = int(row[0]) if row else 0
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in statements(script):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {number}")

    async def enqueue(self, job: NewJob) -> Job:
        now = self._clock()
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO jobs (id, guild_id, channel_id, user_id, locale, params,"
                " batch_key, images, state, max_attempts, created_at, queued_at, model)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.guild_id,
                    job.channel_id,
                    job.user_id,
                    job.locale,
                    json.dumps(asdict(job.params)),
                    batch_key(job.params),
                    job.params.count,
                    JobState.QUEUED,
                    job.max_attempts,
                    now,
                    now,
                    job.params.model,
                ),
            )
            if cursor.rowcount:
                if job.source_png is not None:
                    await db.execute(
                        "INSERT INTO sources (job_id, png) VALUES (?, ?)", (job.id, job.source_png)
                    )
                await _event(db, job.id, EventKind.QUEUED, now)
            stored = await _job(db, job.id)
        assert stored is not None  # inserted or already there, inside this transaction
        return stored

    async def claim(
        self,
        worker_id: str,
        *,
        max_images: int = 1,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        models: Sequence[str] | None = None,
    ) -> list[Job]:
        now = self._clock()
        async with self._transaction() as db:
            await self._expire_leases(db, now)
            ids = await sqlite_fair.claim_order(db, max_images, models)
            if not ids:
                return []
            # Few statements: the write lock is held, other processes wait meanwhile.
            await db.executemany(
                "UPDATE jobs SET state = ?, lease_owner = ?, lease_expires = ?,"
                " attempts = attempts + 1, started_at = ?, step = 0 WHERE id = ?",
                [(JobState.RUNNING, worker_id, now + lease_seconds, now, i) for i in ids],
            )
            await db.executemany(
                "INSERT INTO events (job_id, kind, at) VALUES (?, ?, ?)",
                [(job_id, EventKind.STARTED, now) for job_id in ids],
            )
            marks = ", ".join("?" for _ in ids)
            rows = await _all(db, f"SELECT * FROM jobs WHERE id IN ({marks})", ids)
            claimed = {row["id"]: _to_job(row) for row in rows}
            return [claimed[job_id] for job_id in ids]

    async def _expire_leases(self, db: aiosqlite.Connection, now: float) -> None:
        rows = await _all(
            db,
            "SELECT id, attempts, max_attempts, cancel_requested FROM jobs"
            " WHERE state = ? AND lease_expires < ?",
            (JobState.RUNNING, now),
        )
        for row in rows:
            if row["cancel_requested"]:
                await _finish(db, row["id"], JobState.CANCELED, now, None)
            elif row["attempts"] >= row["max_attempts"]:
                await _finish(db, row["id"], JobState.FAILED, now, GAVE_UP)
            else:
                await _requeue(db, row["id"], now, to_back=True)
        await db.execute("DELETE FROM events WHERE at < ?", (now - EVENT_RETENTION_SECONDS,))

    async def heartbeat(
        self, job_id: str, worker_id: str, step: int, total: int, lease_seconds: float
    ) -> Lease:
        now = self._clock()
        async with self._transaction() as db:
            row = await _owned(db, job_id, worker_id)
            if row is None:
                return Lease.LOST
            await db.execute(
                "UPDATE jobs SET lease_expires = ?, step = ?, total_steps = ? WHERE id = ?",
                (now + lease_seconds, step, total, job_id),
            )
            if (step, total) != (row["step"], row["total_steps"]):
                await _event(db, job_id, EventKind.PROGRESS, now, step, total)
            return Lease.CANCEL if row["cancel_requested"] else Lease.HELD

    async def complete(self, job_id: str, worker_id: str, result: JobResult) -> bool:
        now = self._clock()
        async with self._transaction() as db:
            if await _owned(db, job_id, worker_id) is None:
                return False
            pngs = (result.grid_png, *result.image_pngs)
            await db.executemany(
                "INSERT OR REPLACE INTO results (job_id, idx, png) VALUES (?, ?, ?)",
                [(job_id, idx, png) for idx, png in enumerate(pngs)],
            )
            await db.execute(
                "UPDATE jobs SET gpu_seconds = ? WHERE id = ?", (result.gpu_seconds, job_id)
            )
            await _finish(db, job_id, JobState.DONE, now, None)
            return True

    async def fail(self, job_id: str, worker_id: str, error: str, *, retry: bool) -> bool:
        now = self._clock()
        async with self._transaction() as db:
            row = await _owned(db, job_id, worker_id)
            if row is None:
                return False
            if row["cancel_requested"]:
                await _finish(db, job_id, JobState.CANCELED, now, None)
            elif retry and row["attempts"] < row["max_attempts"]:
                await _requeue(db, job_id, now, error, to_back=True)
            else:
                await _finish(db, job_id, JobState.FAILED, now, error)
            return True

    async def release(self, job_id: str, worker_id: str) -> bool:
        now = self._clock()
        async with self._transaction() as db:
            if await _owned(db, job_id, worker_id) is None:
                return False
            await db.execute("UPDATE jobs SET attempts = attempts - 1 WHERE id = ?", (job_id,))
            await _requeue(db, job_id, now, to_back=False)
            return True

    async def cancel(self, job_id: str) -> Job | None:
        now = self._clock()
        async with self._transaction() as db:
            job = await _job(db, job_id)
            if job is None or job.state.finished:
                return job
            if job.state is JobState.QUEUED:
                await _finish(db, job_id, JobState.CANCELED, now, None)
            else:
                await db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            return await _job(db, job_id)

    async def get(self, job_id: str) -> Job | None:
        return await _job(self._db, job_id)

    async def result(self, job_id: str) -> JobResult | None:
        job = await _job(self._db, job_id)
        rows = await _all(
            self._db, "SELECT png FROM results WHERE job_id = ? ORDER BY idx", (job_id,)
        )
        if job is None or not rows:
            return None
        pngs = [bytes(row["png"]) for row in rows]
        return JobResult(pngs[0], tuple(pngs[1:]), job.gpu_seconds)

    async def source(self, job_id: str) -> bytes | None:
        row = await _one(self._db, "SELECT png FROM sources WHERE job_id = ?", (job_id,))
        return None if row is None else bytes(row["png"])

    async def set_preview(self, job_id: str, worker_id: str, step: int, image: bytes) -> bool:
        async with self._transaction() as db:
            if await _owned(db, job_id, worker_id) is None:
                return False
            await db.execute(
                "INSERT OR REPLACE INTO previews (job_id, step, image) VALUES (?, ?, ?)",
                (job_id, step, image),
            )
            return True

    async def preview(self, job_id: str) -> Preview | None:
        row = await _one(
            self._db,
            "SELECT previews.step, image FROM previews JOIN jobs ON jobs.id = job_id"
            " WHERE job_id = ? AND state = ?",
            (job_id, JobState.RUNNING),
        )
        return None if row is None else Preview(row["step"], bytes(row["image"]))

    async def purge(self, *, limit: int = PURGE_BATCH) -> int:
        cutoff = self._clock() - self._retention
        marks = ", ".join("?" for _ in FINISHED)
        async with self._transaction() as db:
            # Results, sources and previews go with their job (ON DELETE CASCADE).
            cursor = await db.execute(
                "DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs"
                f" WHERE finished_at < ? AND state IN ({marks}) ORDER BY finished_at LIMIT ?)",
                (cutoff, *FINISHED, limit),
            )
            purged = cursor.rowcount
        await self._vacuum()  # a step at a time, also for pages freed by earlier purges
        return purged

    async def _vacuum(self) -> None:
        """Hands up to VACUUM_PAGES free pages back to the file system, moving pages from
        the end of the file into the holes (a no-op in files made before auto_vacuum was
        set: they reuse free pages for new jobs instead). `executescript`: a plain execute
        would free one page only. Under the lock: it commits what it finds open."""
        async with self._write_lock:
            await self._db.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES})")

    async def purge_images(self, job_id: str) -> bool:
        async with self._transaction() as db:
            job = await _job(db, job_id)
            if job is None or not job.state.finished:
                return False
            for table in ("results", "sources", "previews"):
                await db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))
            return True

    async def put_asset(self, name: str, data: bytes) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO assets (name, data) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET data = excluded.data",
                (name, data),
            )

    async def asset(self, name: str) -> bytes | None:
        row = await _one(self._db, "SELECT data FROM assets WHERE name = ?", (name,))
        return None if row is None else bytes(row["data"])

    async def position(self, job_id: str) -> int:
        async with self._read() as db:
            return await sqlite_fair.position(db, job_id)

    async def work_ahead(self, job_id: str) -> int:
        async with self._read() as db:
            return await sqlite_fair.work_ahead(db, job_id)

    async def stats(self, guild_id: int | None = None) -> QueueStats:
        now = self._clock()
        where, args = ("", ()) if guild_id is None else (" AND guild_id = ?", (guild_id,))
        counts = await _one(
            self._db,
            "SELECT SUM(state = ?), SUM(state = ?) FROM jobs WHERE state IN (?, ?)" + where,
            (JobState.QUEUED, JobState.RUNNING, JobState.QUEUED, JobState.RUNNING, *args),
        )
        workers = await _one(
            self._db,
            "SELECT COUNT(*) FROM workers WHERE seen_at > ?",
            (now - WORKER_TIMEOUT_SECONDS,),
        )
        speed = await _one(
            self._db,
            "SELECT AVG(gpu_seconds / (images * json_extract(params, '$.steps'))) FROM"
            " (SELECT * FROM jobs WHERE state = ? AND gpu_seconds > 0"
            "  ORDER BY finished_at DESC LIMIT ?)",
            (JobState.DONE, SPEED_SAMPLE),
        )
        queued, running = (counts[0] or 0, counts[1] or 0) if counts else (0, 0)
        return QueueStats(
            queued=int(queued),
            running=int(running),
            workers=int(workers[0]) if workers else 0,
            seconds_per_step=None if speed is None or speed[0] is None else float(speed[0]),
        )

    async def jobs(
        self,
        *,
        guild_id: int,
        user_id: int | None = None,
        states: tuple[JobState, ...],
        limit: int = 10,
    ) -> list[Job]:
        marks = ", ".join("?" for _ in states)
        user_clause, args = ("", ()) if user_id is None else (" AND user_id = ?", (user_id,))
        rows = await _all(
            self._db,
            f"SELECT * FROM jobs WHERE guild_id = ? AND state IN ({marks}){user_clause}"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (guild_id, *states, *args, limit),
        )
        return [_to_job(row) for row in rows]

    async def worker_seen(self, worker_id: str, models: Sequence[str] = ()) -> None:
        now = self._clock()
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO workers (id, seen_at, models) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at,"
                " models = excluded.models",
                (worker_id, now, ",".join(models)),
            )
            await db.execute(
                "DELETE FROM workers WHERE seen_at < ?", (now - EVENT_RETENTION_SECONDS,)
            )

    async def models_online(self) -> tuple[str, ...]:
        rows = await _all(
            self._db,
            "SELECT models FROM workers WHERE seen_at > ?",
            (self._clock() - WORKER_TIMEOUT_SECONDS,),
        )
        return tuple(sorted({model for row in rows for model in row[0].split(",") if model}))

    async def head(self) -> int:
        row = await _one(self._db, "SELECT COALESCE(MAX(seq), 0) FROM events")
        return int(row[0]) if row else 0

    async def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state (states with none are left out); for metrics."""
        rows = await _all(self._db, "SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {JobState(row[0]): int(row[1]) for row in rows}

    async def events(self, after: int, *, limit: int = 500, wait: float = 0.0) -> list[JobEvent]:
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            rows = await _all(
                self._db,
                "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            )
            if rows or asyncio.get_running_loop().time() >= deadline:
                return [_to_event(row) for row in rows]
            await asyncio.sleep(EVENT_POLL_SECONDS)


async def _one(
    db: aiosqlite.Connection, sql: str, args: Iterable[object] = ()
) -> sqlite3.Row | None:
    rows = await _all(db, sql, args)
    return rows[0] if rows else None


async def _all(
    db: aiosqlite.Connection, sql: str, args: Iterable[object] = ()
) -> list[sqlite3.Row]:
    # One call on the connection's thread: a statement left open between execute and
    # fetch holds a read snapshot, and another coroutine's BEGIN IMMEDIATE on the same
    # connection then fails at once with "database is locked" once another process wrote.
    return list(await db.execute_fetchall(sql, tuple(args)))


async def _job(db: aiosqlite.Connection, job_id: str) -> Job | None:
    row = await _one(db, "SELECT * FROM jobs WHERE id = ?", (job_id,))
    return None if row is None else _to_job(row)


async def _owned(db: aiosqlite.Connection, job_id: str, worker_id: str) -> sqlite3.Row | None:
    """The job's row if `worker_id` holds its lease right now, else None."""
    return await _one(
        db,
        "SELECT * FROM jobs WHERE id = ? AND state = ? AND lease_owner = ?",
        (job_id, JobState.RUNNING, worker_id),
    )


async def _requeue(
    db: aiosqlite.Connection, job_id: str, now: float, error: str | None = None, *, to_back: bool
) -> None:
    """Queues the job again: at the back after a failed attempt, so the jobs behind a job
    that keeps failing are served meanwhile; in its old place when a stopping worker gave
    it back through no fault of its own."""
    await db.execute(
        "UPDATE jobs SET state = ?, lease_owner = NULL, lease_expires = NULL, step = 0,"
        " error = ?, queued_at = CASE WHEN ? THEN ? ELSE queued_at END WHERE id = ?",
        (JobState.QUEUED, error, to_back, now, job_id),
    )
    await db.execute("DELETE FROM previews WHERE job_id = ?", (job_id,))
    await _event(db, job_id, EventKind.REQUEUED, now)


async def _finish(
    db: aiosqlite.Connection, job_id: str, state: JobState, now: float, error: str | None
) -> None:
    await db.execute(
        "UPDATE jobs SET state = ?, lease_owner = NULL, lease_expires = NULL,"
        " finished_at = ?, error = ? WHERE id = ?",
        (state, now, error, job_id),
    )
    await db.execute("DELETE FROM previews WHERE job_id = ?", (job_id,))
    await _event(db, job_id, EventKind(state.value), now)


async def _event(
    db: aiosqlite.Connection,
    job_id: str,
    kind: EventKind,
    now: float,
    step: int = 0,
    total: int = 0,
) -> None:
    await db.execute(
        "INSERT INTO events (job_id, kind, at, step, total_steps) VALUES (?, ?, ?, ?, ?)",
        (job_id, kind, now, step, total),
    )


def _to_job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        params=JobParams(**json.loads(row["params"])),
        locale=row["locale"],
        state=JobState(row["state"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        created_at=row["created_at"],
        lease_owner=row["lease_owner"],
        lease_expires=row["lease_expires"],
        step=row["step"],
        total_steps=row["total_steps"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        gpu_seconds=row["gpu_seconds"],
        error=row["error"],
        cancel_requested=bool(row["cancel_requested"]),
    )


def _to_event(row: sqlite3.Row) -> JobEvent:
    return JobEvent(
        seq=row["seq"],
        job_id=row["job_id"],
        kind=EventKind(row["kind"]),
        at=row["at"],
        step=row["step"],
        total_steps=row["total_steps"],
    )
