"""The SQLite store's fair claim order and queue positions (see core/store/fairness.py).

`served_guilds` and `served_users` remember the sequence number of the last job claimed
for each server and each member of a server; a claim updates them in its transaction.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import aiosqlite

from core.jobs import JobState
from core.store.fairness import Flow, ahead_in_round_robin

QUEUED = JobState.QUEUED.value


@dataclass(frozen=True)
class Picked:
    id: str
    batch_key: str
    images: int


async def claim_order(db: aiosqlite.Connection, max_images: int) -> list[str]:
    """The jobs the next claim takes, in order: a fair pick, then fair picks among the
    jobs that share its batch while their images fit. Marks each one's server and member
    as served. Call inside the claim's write transaction."""
    first = await _pick(db, [], None, None)
    if first is None:
        return []
    chosen = [first]
    left = max_images - first.images
    while left > 0:
        taken = [job.id for job in chosen]
        companion = await _pick(db, taken, first.batch_key, left)
        if companion is None:
            break
        chosen.append(companion)
        left -= companion.images
    return [job.id for job in chosen]


async def _pick(
    db: aiosqlite.Connection, taken: list[str], key: str | None, images_left: int | None
) -> Picked | None:
    """The server least recently served, its member least recently served, that member's
    oldest job: among queued jobs not `taken`, of batch `key` with at most `images_left`
    images when those are given. Marks the server and the member served."""
    where, args = _filter(taken, key, images_left)
    guild = await _first(
        db,
        "SELECT j.guild_id FROM jobs AS j LEFT JOIN served_guilds AS s USING (guild_id)"
        f" WHERE {where} GROUP BY j.guild_id"
        " ORDER BY COALESCE(MAX(s.seq), 0), MIN(j.queued_at), MIN(j.rowid) LIMIT 1",
        args,
    )
    if guild is None:
        return None
    user = await _first(
        db,
        "SELECT j.user_id FROM jobs AS j LEFT JOIN served_users AS s"
        " ON s.guild_id = j.guild_id AND s.user_id = j.user_id"
        f" WHERE {where} AND j.guild_id = ? GROUP BY j.user_id"
        " ORDER BY COALESCE(MAX(s.seq), 0), MIN(j.queued_at), MIN(j.rowid) LIMIT 1",
        (*args, guild[0]),
    )
    assert user is not None  # the guild was picked for a job that matched the same filter
    job = await _first(
        db,
        f"SELECT j.id, j.batch_key, j.images FROM jobs AS j WHERE {where}"
        " AND j.guild_id = ? AND j.user_id = ? ORDER BY j.queued_at, j.rowid LIMIT 1",
        (*args, guild[0], user[0]),
    )
    assert job is not None
    await _served(db, guild[0], user[0])
    return Picked(job["id"], job["batch_key"], job["images"])


def _filter(
    taken: list[str], key: str | None, images_left: int | None
) -> tuple[str, tuple[object, ...]]:
    clauses = ["j.state = ?"]
    args: list[object] = [QUEUED]
    if taken:
        clauses.append(f"j.id NOT IN ({', '.join('?' for _ in taken)})")
        args += taken
    if key is not None:
        clauses.append("j.batch_key = ?")
        args.append(key)
    if images_left is not None:
        clauses.append("j.images <= ?")
        args.append(images_left)
    return " AND ".join(clauses), tuple(args)


async def _served(db: aiosqlite.Connection, guild_id: int, user_id: int) -> None:
    row = await _first(db, "SELECT COALESCE(MAX(seq), 0) + 1 FROM served_users")
    seq = int(row[0]) if row else 1
    await db.execute(
        "INSERT INTO served_guilds (guild_id, seq) VALUES (?, ?)"
        " ON CONFLICT (guild_id) DO UPDATE SET seq = excluded.seq",
        (guild_id, seq),
    )
    await db.execute(
        "INSERT INTO served_users (guild_id, user_id, seq) VALUES (?, ?, ?)"
        " ON CONFLICT (guild_id, user_id) DO UPDATE SET seq = excluded.seq",
        (guild_id, user_id, seq),
    )


async def position(db: aiosqlite.Connection, job_id: str) -> int:
    """How many queued jobs are claimed before this one if servers and members take
    turns and nothing new arrives; -1 if it is not queued. Counts jobs, not batches:
    a batch that takes several jobs at once makes the real wait shorter."""
    mine = await _first(
        db,
        "SELECT guild_id, user_id, queued_at, rowid FROM jobs WHERE id = ? AND state = ?",
        (job_id, QUEUED),
    )
    if mine is None:
        return -1
    guild, user = mine["guild_id"], mine["user_id"]
    rank = await _first(
        db,
        "SELECT COUNT(*) FROM jobs WHERE state = ? AND guild_id = ? AND user_id = ?"
        " AND (queued_at, rowid) < (?, ?)",
        (QUEUED, guild, user, mine["queued_at"], mine["rowid"]),
    )
    assert rank is not None
    users = await _user_flows(db)
    in_guild = {u: flow for (g, u), flow in users.items() if g == guild}
    mine_user = in_guild.pop(user)
    in_guild_rank = ahead_in_round_robin(int(rank[0]), mine_user, in_guild.values())
    guilds = await _guild_flows(db, users)
    mine_guild = guilds.pop(guild)
    return ahead_in_round_robin(in_guild_rank, mine_guild, guilds.values())


async def _user_flows(db: aiosqlite.Connection) -> dict[tuple[int, int], Flow]:
    rows = await db.execute_fetchall(
        "SELECT j.guild_id, j.user_id, COUNT(*), MIN(j.queued_at), MIN(j.rowid),"
        " COALESCE(MAX(s.seq), 0) FROM jobs AS j LEFT JOIN served_users AS s"
        " ON s.guild_id = j.guild_id AND s.user_id = j.user_id"
        " WHERE j.state = ? GROUP BY j.guild_id, j.user_id",
        (QUEUED,),
    )
    return {(r[0], r[1]): Flow((r[5], r[3], r[4]), r[2]) for r in rows}


async def _guild_flows(
    db: aiosqlite.Connection, users: dict[tuple[int, int], Flow]
) -> dict[int, Flow]:
    rows = await db.execute_fetchall("SELECT guild_id, seq FROM served_guilds")
    seqs = {r[0]: r[1] for r in rows}
    members: defaultdict[int, list[Flow]] = defaultdict(list)
    for (guild, _), flow in users.items():
        members[guild].append(flow)
    return {guild: _guild_flow(seqs.get(guild, 0), flows) for guild, flows in members.items()}


def _guild_flow(seq: int, members: Iterable[Flow]) -> Flow:
    flows = list(members)
    oldest = min(flow.order[1:] for flow in flows)  # (queued_at, rowid) of its oldest job
    return Flow((seq, *oldest), sum(flow.waiting for flow in flows))


async def _first(
    db: aiosqlite.Connection, sql: str, args: Iterable[object] = ()
) -> sqlite3.Row | None:
    # One call on the connection's thread, like the store's own reads (no open cursor).
    rows = list(await db.execute_fetchall(sql, tuple(args)))
    return rows[0] if rows else None
