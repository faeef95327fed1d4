"""The SQLite job store's schema, as numbered migrations (PRAGMA user_version)."""

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        locale TEXT NOT NULL,
        params TEXT NOT NULL,
        batch_key TEXT NOT NULL,
        images INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        created_at REAL NOT NULL,
        queued_at REAL NOT NULL,
        lease_owner TEXT,
        lease_expires REAL,
        step INTEGER NOT NULL DEFAULT 0,
        total_steps INTEGER NOT NULL DEFAULT 0,
        started_at REAL,
        finished_at REAL,
        gpu_seconds REAL NOT NULL DEFAULT 0,
        error TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_queued ON jobs (state, queued_at);
    CREATE INDEX jobs_leases ON jobs (state, lease_expires);
    CREATE TABLE results (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        png BLOB NOT NULL,
        PRIMARY KEY (job_id, idx)
    );
    CREATE TABLE sources (
        job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        png BLOB NOT NULL
    );
    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        seen_at REAL NOT NULL
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at REAL NOT NULL,
        step INTEGER NOT NULL DEFAULT 0,
        total_steps INTEGER NOT NULL DEFAULT 0
    );
    """,
    # Fair claims (core/store/sqlite_fair.py): when each server and member was last served.
    """
    CREATE TABLE served_guilds (
        guild_id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL
    );
    CREATE TABLE served_users (
        guild_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    );
    CREATE INDEX jobs_queued_by_member ON jobs (state, guild_id, user_id, queued_at);
    """,
    # Cheaper fair claims: a claim looks only at the oldest job of each member with queued
    # jobs (`queued_members`, kept by triggers on every change of a job's state) instead of
    # grouping the whole queue; old events are pruned by time, the served counter is read
    # from an index. Nothing reads the queue in one global order any more (work ahead
    # follows the fair turns), so that index goes. Trigger bodies keep their semicolons
    # (see `statements`).
    """
    CREATE TABLE queued_members (
        guild_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        waiting INTEGER NOT NULL,
        PRIMARY KEY (guild_id, user_id)
    ) WITHOUT ROWID;
    INSERT INTO queued_members (guild_id, user_id, waiting)
        SELECT guild_id, user_id, COUNT(*) FROM jobs WHERE state = 'queued'
        GROUP BY guild_id, user_id;
    CREATE TRIGGER jobs_queued_added AFTER INSERT ON jobs WHEN NEW.state = 'queued'
    BEGIN
        INSERT INTO queued_members (guild_id, user_id, waiting)
            VALUES (NEW.guild_id, NEW.user_id, 1)
            ON CONFLICT (guild_id, user_id) DO UPDATE SET waiting = waiting + 1;
    END;
    CREATE TRIGGER jobs_queued_again AFTER UPDATE OF state ON jobs
    WHEN OLD.state <> 'queued' AND NEW.state = 'queued'
    BEGIN
        INSERT INTO queued_members (guild_id, user_id, waiting)
            VALUES (NEW.guild_id, NEW.user_id, 1)
            ON CONFLICT (guild_id, user_id) DO UPDATE SET waiting = waiting + 1;
    END;
    CREATE TRIGGER jobs_queued_left AFTER UPDATE OF state ON jobs
    WHEN OLD.state = 'queued' AND NEW.state <> 'queued'
    BEGIN
        UPDATE queued_members SET waiting = waiting - 1
            WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id;
        DELETE FROM queued_members
            WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND waiting <= 0;
    END;
    CREATE TRIGGER jobs_queued_deleted AFTER DELETE ON jobs WHEN OLD.state = 'queued'
    BEGIN
        UPDATE queued_members SET waiting = waiting - 1
            WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id;
        DELETE FROM queued_members
            WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND waiting <= 0;
    END;
    CREATE INDEX jobs_queued_by_batch ON jobs (state, guild_id, user_id, batch_key, queued_at);
    DROP INDEX jobs_queued;
    CREATE INDEX served_users_seq ON served_users (seq);
    CREATE INDEX events_at ON events (at);
    """,
    # 4: previews of running jobs, one per job, dropped when it finishes or is requeued.
    """
    CREATE TABLE previews (
        job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        image BLOB NOT NULL
    );
    """,
    # 5: retention (finished jobs purged oldest first, by the time they finished) and
    # named blobs shared between processes (CLIP's vocabulary).
    """
    CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
    CREATE TABLE assets (
        name TEXT PRIMARY KEY,
        data BLOB NOT NULL
    );
    """,
    # 6: models. A worker claims only the jobs of the models it holds (`model`), and a
    # batch is one model's (the batch key starts with it); workers say what they hold.
    # Jobs from before had no model: Stable Diffusion 1.4, the one model there was.
    """
    ALTER TABLE jobs ADD COLUMN model TEXT NOT NULL DEFAULT 'sd14';
    UPDATE jobs SET model = COALESCE(json_extract(params, '$.model'), 'sd14'),
        batch_key = COALESCE(json_extract(params, '$.model'), 'sd14') || ':' || batch_key;
    ALTER TABLE workers ADD COLUMN models TEXT NOT NULL DEFAULT '';
    """,
)


def statements(script: str) -> list[str]:
    """A migration's statements, one by one: split at semicolons, except those inside a
    statement (a trigger's body)."""
    found: list[str] = []
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                found.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError(f"incomplete statement in a migration: {pending.strip()}")
    return found
