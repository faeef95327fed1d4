"""The SQLite job store's schema, as numbered migrations (PRAGMA user_version)."""

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
)
