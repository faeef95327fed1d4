"""The SQLite store's fair claim order, queue positions and work ahead (see
core/store/fairness.py).

`queued_members` lists the members with queued jobs and how many each has (triggers keep
it up to date whenever a job's state changes); `served_guilds` and `served_users`
remember the sequence number of the last job claimed for each server and each member of
a server, and a claim updates them in its transaction. A pick reads only the oldest job
of each member with queued jobs (one index lookup each), so it costs as much with a
thousand jobs queued as with ten: its cost grows with the members waiting, not with the
depth of the queue.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

import aiosqlite

from core.jobs import JobState
from core.store.fairness import Flow, jobs_ahead

QUEUED = JobState.QUEUED.value
RUNNING = JobState.RUNNING.value

Member = tuple[int, int]  # (server, member)
MEMBERS_PER_STATEMENT = 100  # SQLite allows up to 500 SELECTs in one UNION ALL

# The image-steps of the first n jobs of one member's queue (an index range, no sort).
_FRONT_OF_QUEUE = (
    "SELECT * FROM (SELECT images * json_extract(params, '$.steps') AS work FROM jobs"
    " WHERE state = ? AND guild_id = ? AND user_id = ? ORDER BY queued_at, rowid LIMIT ?)"
)


# The oldest queued job of each member with queued jobs (that matches `{where}`, a
# condition on `q`, the member's queued jobs), and the turns of the member and its server.
_HEADS = (
    "SELECT m.guild_id, m.user_id, m.waiting, {guild_turn} AS guild_turn,"
    " {user_turn} AS user_turn, j.queued_at, j.rowid AS r, j.id, j.batch_key, j.images"
    " FROM queued_members AS m"
    " JOIN jobs AS j ON j.rowid = ("
    "  SELECT q.rowid FROM jobs AS q"
    "  WHERE q.state = ? AND q.guild_id = m.guild_id AND q.user_id = m.user_id{where}"
    "  ORDER BY q.queued_at, q.rowid LIMIT 1)"
    " LEFT JOIN served_guilds AS g ON g.guild_id = m.guild_id"
    " LEFT JOIN served_users AS u ON u.guild_id = m.guild_id AND u.user_id = m.user_id"
)

# The next job in fair turns (core/store/fairness.py) among those heads: the server
# served longest ago (ties: its oldest job), then its member served longest ago (ties:
# the oldest job), whose head it is. One row, sorted by SQLite: with many members waiting,
# building and sorting them in Python would cost more than the lookups.
_NEXT = (
    "SELECT guild_id, user_id, id, batch_key, images FROM ("
    " SELECT *, FIRST_VALUE(queued_at) OVER oldest AS guild_queued_at,"
    " FIRST_VALUE(r) OVER oldest AS guild_r FROM ({heads})"
    " WINDOW oldest AS (PARTITION BY guild_id ORDER BY queued_at, r))"
    " ORDER BY guild_turn, guild_queued_at, guild_r, user_turn, queued_at, r LIMIT 1"
)


async def _heads(db: aiosqlite.Connection) -> list[sqlite3.Row]:
    """Every waiting member's oldest job and turns, as stored (for positions)."""
    return list(
        await db.execute_fetchall(
            _HEADS.format(
                guild_turn="COALESCE(g.seq, 0)", user_turn="COALESCE(u.seq, 0)", where=""
            ),
            (QUEUED,),
        )
    )


async def _next(
    db: aiosqlite.Connection,
    guilds: dict[int, int],
    users: dict[Member, int],
    where: str = "",
    args: Iterable[object] = (),
) -> sqlite3.Row | None:
    """The job the next pick takes (among queued jobs matching `where`), with its server
    and member; `guilds` and `users` are the turns this claim took so far (not written
    yet), which count over those stored."""
    guild_turn, user_turn = "COALESCE(g.seq, 0)", "COALESCE(u.seq, 0)"
    turn_args: list[object] = []
    if guilds:
        cases = " ".join("WHEN ? THEN ?" for _ in guilds)
        guild_turn = f"CASE m.guild_id {cases} ELSE {guild_turn} END"
        turn_args += [part for item in guilds.items() for part in item]
    if users:
        cases = " ".join("WHEN m.guild_id = ? AND m.user_id = ? THEN ?" for _ in users)
        user_turn = f"CASE {cases} ELSE {user_turn} END"
        turn_args += [part for (guild, user), turn in users.items() for part in (guild, user, turn)]
    heads = _HEADS.format(guild_turn=guild_turn, user_turn=user_turn, where=where)
    return await _first(db, _NEXT.format(heads=heads), (*turn_args, QUEUED, *args))


async def claim_order(
    db: aiosqlite.Connection, max_images: int, models: Sequence[str] | None = None
) -> list[str]:
    """The jobs the next claim takes, in order: a fair pick, then fair picks among the
    jobs that share its batch while their images fit. Marks each one's server and member
    as served. Call inside the claim's write transaction.

    `models`: only jobs of these models (None: any). A member's jobs of other models are
    passed over, not waited behind: the pick sees each member's oldest job among these."""
    guilds: dict[int, int] = {}  # turns taken by this claim, written at the end
    users: dict[Member, int] = {}
    if models is None:
        first = await _next(db, guilds, users)
    elif models:
        where = f" AND q.model IN ({', '.join('?' for _ in models)})"
        first = await _next(db, guilds, users, where, models)
    else:
        return []  # a worker that holds no model takes nothing
    if first is None:
        return []
    row = await _first(db, "SELECT COALESCE(MAX(seq), 0) FROM served_users")
    seq = int(row[0]) if row else 0

    def serve(head: sqlite3.Row) -> None:
        nonlocal seq
        seq += 1
        guilds[head["guild_id"]] = users[(head["guild_id"], head["user_id"])] = seq

    serve(first)
    chosen = [first["id"]]
    left = max_images - first["images"]
    while left > 0:
        where = (
            " AND q.batch_key = ? AND q.images <= ?"
            f" AND q.id NOT IN ({', '.join('?' for _ in chosen)})"
        )
        companion = await _next(db, guilds, users, where, (first["batch_key"], left, *chosen))
        if companion is None:
            break
        serve(companion)
        chosen.append(companion["id"])
        left -= companion["images"]
    await db.executemany(
        "INSERT INTO served_guilds (guild_id, seq) VALUES (?, ?)"
        " ON CONFLICT (guild_id) DO UPDATE SET seq = excluded.seq",
        list(guilds.items()),
    )
    await db.executemany(
        "INSERT INTO served_users (guild_id, user_id, seq) VALUES (?, ?, ?)"
        " ON CONFLICT (guild_id, user_id) DO UPDATE SET seq = excluded.seq",
        [(guild, user, turn) for (guild, user), turn in users.items()],
    )
    return chosen


async def _ahead(db: aiosqlite.Connection, job_id: str) -> dict[Member, int] | None:
    """How many jobs from the front of each member's queue are claimed before this one
    (core/store/fairness.py: jobs_ahead); None if it is not queued. Read it in one
    snapshot (SqliteJobStore._read)."""
    mine = await _first(
        db,
        "SELECT guild_id, user_id, queued_at, rowid FROM jobs WHERE id = ? AND state = ?",
        (job_id, QUEUED),
    )
    if mine is None:
        return None
    guild, user, queued_at, rowid = mine
    rank = await _first(
        db,
        "SELECT COUNT(*) FROM jobs WHERE state = ? AND guild_id = ? AND user_id = ?"
        " AND queued_at <= ? AND (queued_at, rowid) < (?, ?)",
        (QUEUED, guild, user, queued_at, queued_at, rowid),
    )
    assert rank is not None
    members: dict[Member, Flow] = {}
    served: dict[int, int] = {}
    for head in await _heads(db):
        member = (head["guild_id"], head["user_id"])
        members[member] = Flow((head["user_turn"], head["queued_at"], head["r"]), head["waiting"])
        served[head["guild_id"]] = head["guild_turn"]
    return jobs_ahead(members, served, (guild, user), int(rank[0]))


async def position(db: aiosqlite.Connection, job_id: str) -> int:
    """How many queued jobs are claimed before this one if servers and members take
    turns and nothing new arrives; -1 if it is not queued. Counts jobs, not batches:
    a batch that takes several jobs at once makes the real wait shorter."""
    ahead = await _ahead(db, job_id)
    return -1 if ahead is None else sum(ahead.values())


async def work_ahead(db: aiosqlite.Connection, job_id: str) -> int:
    """Image-steps before this queued job starts: the jobs `position` counts, and what is
    left of the running ones; 0 if it is not queued."""
    ahead = await _ahead(db, job_id)
    if ahead is None:
        return 0
    wanted = [(guild, user, count) for (guild, user), count in ahead.items() if count]
    queued = 0
    for start in range(0, len(wanted), MEMBERS_PER_STATEMENT):
        chunk = wanted[start : start + MEMBERS_PER_STATEMENT]
        row = await _first(
            db,
            "SELECT COALESCE(SUM(work), 0) FROM ("
            + " UNION ALL ".join([_FRONT_OF_QUEUE] * len(chunk))
            + ")",
            [arg for guild, user, count in chunk for arg in (QUEUED, guild, user, count)],
        )
        assert row is not None
        queued += int(row[0])
    running = await _first(
        db,
        "SELECT COALESCE(SUM(images * MAX(json_extract(params, '$.steps') - step, 0)), 0)"
        " FROM jobs WHERE state = ?",
        (RUNNING,),
    )
    assert running is not None
    return queued + int(running[0])


async def _first(
    db: aiosqlite.Connection, sql: str, args: Iterable[object] = ()
) -> sqlite3.Row | None:
    # One call on the connection's thread, like the store's own reads (no open cursor).
    rows = list(await db.execute_fetchall(sql, tuple(args)))
    return rows[0] if rows else None
