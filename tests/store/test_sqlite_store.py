"""What the SQLite store keeps beyond the contract: the table of members with queued
jobs that claims read (kept by triggers, filled when an older file is upgraded), a
claim whose cost does not grow with the depth of the queue, and purges that leave no
rows behind and hand the pages back."""

import dataclasses
import json
import os
import random
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from core.jobs import JobResult, NewJob
from core.retention import purge_due
from core.store.base import DEFAULT_RETENTION_SECONDS
from core.store.sqlite import SqliteJobStore, batch_key
from core.store.sqlite_schema import MIGRATIONS, statements
from tests.support.clock import FakeClock
from tests.support.jobs import new_job

RESULT = JobResult(b"grid", (b"one",), 1.0)


def queued_members(path: Path) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """The table the claims read, and what it should say (counted from the jobs)."""
    with sqlite3.connect(path) as db:
        table = db.execute("SELECT guild_id, user_id, waiting FROM queued_members").fetchall()
        counted = db.execute(
            "SELECT guild_id, user_id, COUNT(*) FROM jobs WHERE state = 'queued'"
            " GROUP BY guild_id, user_id"
        ).fetchall()
    db.close()
    return {(g, u): n for g, u, n in table}, {(g, u): n for g, u, n in counted}


def test_migrations_split_into_statements_keeping_trigger_bodies() -> None:
    found = statements(MIGRATIONS[2])
    triggers = [statement for statement in found if statement.startswith("CREATE TRIGGER")]
    assert len(triggers) == 4
    assert all(trigger.endswith("END;") for trigger in triggers)
    with pytest.raises(ValueError, match="incomplete"):
        statements("CREATE TRIGGER t AFTER INSERT ON jobs BEGIN SELECT 1;")


def states(path: Path) -> tuple[list[str], list[str]]:
    """The queued jobs and the running ones."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, state FROM jobs ORDER BY rowid").fetchall()
    db.close()
    return [i for i, state in rows if state == "queued"], [i for i, s in rows if s == "running"]


async def test_queued_members_follow_every_change(tmp_path: Path, clock: FakeClock) -> None:
    """Enqueues, claims (some leases run out and are requeued or failed), completes,
    retries, give-backs and cancels, at random: after each, the table says exactly how
    many jobs each member has queued."""
    path = tmp_path / "jobs.db"
    store = await SqliteJobStore.open(path, clock=clock)
    rng = random.Random(7)
    for _ in range(400):
        clock.advance(1)
        queued, running = states(path)
        action = rng.random()
        if action < 0.4 or not queued + running:
            await store.enqueue(new_job(guild=rng.randint(1, 3), user=rng.randint(10, 12)))
        elif action < 0.6:
            lease = rng.choice((3.0, 1e6))  # the short ones run out a few steps later
            await store.claim("w", max_images=rng.randint(1, 3), lease_seconds=lease)
        elif action < 0.7 and queued:
            await store.cancel(rng.choice(queued))
        elif running:
            job_id = rng.choice(running)
            outcome = rng.choice(("complete", "retry", "release", "cancel"))
            if outcome == "complete":
                await store.complete(job_id, "w", RESULT)
            elif outcome == "retry":
                await store.fail(job_id, "w", "engine broke", retry=True)
            elif outcome == "release":
                await store.release(job_id, "w")
            else:
                await store.cancel(job_id)  # stops at its next heartbeat, or lease end
        table, counted = queued_members(path)
        assert table == counted
    await store.close()


def old_batch_key(job: NewJob) -> str:
    """The batch key before there were models."""
    p = job.params
    return f"{p.width}x{p.height}:{p.steps}:{p.sampler}"


def write_version_2(
    path: Path, jobs: list[tuple[NewJob, str, float]], version: int = 2, legacy: bool = False
) -> None:
    """A job file as the store before fair-claim indexes (or the migrations after
    `version`) left it: (job, state, time). `legacy`: params without a model, as they
    were written before there were models."""
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:version]:
            for statement in statements(script):
                db.execute(statement)
        for job, state, at in jobs:
            db.execute(
                "INSERT INTO jobs (id, guild_id, channel_id, user_id, locale, params,"
                " batch_key, images, state, max_attempts, created_at, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.guild_id,
                    job.channel_id,
                    job.user_id,
                    job.locale,
                    json.dumps(params(job, legacy)),
                    old_batch_key(job),
                    job.params.count,
                    state,
                    job.max_attempts,
                    at,
                    at,
                ),
            )
        db.execute("INSERT INTO served_guilds (guild_id, seq) VALUES (1, 1)")
        db.execute("INSERT INTO served_users (guild_id, user_id, seq) VALUES (1, 10, 1)")
        db.execute(f"PRAGMA user_version = {version}")
    db.close()


def params(job: NewJob, legacy: bool) -> dict[str, object]:
    fields = dataclasses.asdict(job.params)
    if legacy:
        del fields["model"]
    return fields


async def test_jobs_from_before_models_are_sd14_s_and_batch_with_new_ones(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "jobs.db"
    old = new_job()
    write_version_2(path, [(old, "queued", clock.now)], version=5, legacy=True)
    store = await SqliteJobStore.open(path, clock=clock)
    new, other = new_job(model="sd14"), new_job(model="sd21")
    await store.enqueue(new)
    await store.enqueue(other)
    assert await store.claim("new", max_images=4, models=["sd21"]) != []
    claimed = await store.claim("old", max_images=4, models=["sd14"])
    assert [job.id for job in claimed] == [old.id, new.id]
    assert claimed[0].params.model == "sd14"
    with sqlite3.connect(path) as db:
        keys = dict(db.execute("SELECT id, batch_key FROM jobs").fetchall())
    db.close()
    assert keys[old.id] == keys[new.id] == batch_key(new.params)
    await store.close()


async def test_an_older_file_is_upgraded_with_its_queue(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "jobs.db"
    jobs = [new_job(guild=1) for _ in range(3)] + [new_job(guild=2, user=11)]
    kinds = ["running", "queued", "queued", "queued"]
    times = [clock.now + n for n in range(4)]
    write_version_2(path, list(zip(jobs, kinds, times, strict=True)))
    store = await SqliteJobStore.open(path, clock=clock)
    table, counted = queued_members(path)
    assert table == counted == {(1, 10): 2, (2, 11): 1}
    assert [await store.position(job.id) for job in jobs] == [-1, 1, 2, 0]
    claimed = await store.claim("w", max_images=4)
    assert [job.id for job in claimed] == [jobs[3].id, jobs[1].id, jobs[2].id]
    await store.close()


async def vm_steps(store: SqliteJobStore, action: Callable[[], Awaitable[object]]) -> int:
    """How many SQLite virtual machine instructions (in hundreds) `action` runs."""
    hundreds = 0

    def count() -> int:
        nonlocal hundreds
        hundreds += 1
        return 0  # go on

    db = store._db
    await db.set_progress_handler(count, 100)
    try:
        await action()
    finally:
        await db.set_progress_handler(None, 100)  # type: ignore[arg-type]
    return hundreds


async def test_a_claim_costs_the_same_with_a_deep_queue(tmp_path: Path, clock: FakeClock) -> None:
    """A claim looks at the oldest job of each member waiting, never at the whole queue:
    with 2000 jobs queued it runs about as many SQLite instructions as with 20."""
    store = await SqliteJobStore.open(tmp_path / "jobs.db", clock=clock)
    costs: list[int] = []
    enqueued = 0
    for depth in (20, 2000):
        while enqueued < depth:  # three servers, three members each
            clock.advance(0.01)
            await store.enqueue(new_job(guild=1 + enqueued % 3, user=10 + enqueued // 3 % 3))
            enqueued += 1
        costs.append(await vm_steps(store, lambda: store.claim("w", max_images=4)))
    await store.close()
    shallow, deep = costs
    assert deep < 1.5 * shallow, costs


PRAGMAS = ("page_count", "freelist_count", "auto_vacuum")


def file_pages(path: Path) -> tuple[int, int, int]:
    """The file's pages once the WAL is folded back in, its free pages, its auto_vacuum."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        found = [db.execute(f"PRAGMA {name}").fetchone()[0] for name in PRAGMAS]
    db.close()
    return found[0], found[1], found[2]


def image_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        tables = ("results", "sources", "previews")
        counts = [db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in tables]
    db.close()
    return sum(counts)


async def fill(store: SqliteJobStore, jobs: int) -> None:
    """Finished jobs with 150 KB of pictures each (random bytes: no page compresses)."""
    for _ in range(jobs):
        job = dataclasses.replace(new_job(), source_png=os.urandom(50_000))
        await store.enqueue(job)
        await store.claim("w")
        images = JobResult(os.urandom(50_000), (os.urandom(50_000),), 1.0)
        assert await store.complete(job.id, "w", images)


async def test_a_purge_leaves_no_picture_rows_and_hands_the_pages_back(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "jobs.db"
    store = await SqliteJobStore.open(path, clock=clock)
    await fill(store, 20)
    full, _, auto_vacuum = file_pages(path)
    assert auto_vacuum == 2  # INCREMENTAL, in every file the store makes
    clock.advance(DEFAULT_RETENTION_SECONDS + 1)
    assert await purge_due(store, pause=0) == 20
    await store.close()
    assert image_rows(path) == 0
    pages, free, _ = file_pages(path)
    assert (free, pages < full / 10) == (0, True), (full, pages)


async def test_an_older_file_reuses_purged_pages_instead(tmp_path: Path, clock: FakeClock) -> None:
    """A file made before auto_vacuum was set keeps its size, and new jobs fill the holes."""
    path = tmp_path / "jobs.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = WAL")  # the header is written: auto_vacuum stays off
    db.close()
    store = await SqliteJobStore.open(path, clock=clock)
    await fill(store, 20)
    clock.advance(DEFAULT_RETENTION_SECONDS + 1)
    assert await purge_due(store, pause=0) == 20
    full, free, auto_vacuum = file_pages(path)
    assert (auto_vacuum, free > full / 2) == (0, True)
    await fill(store, 20)
    await store.close()
    assert file_pages(path)[0] <= full  # the same jobs again: no bigger
