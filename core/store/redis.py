"""The job store for workers on many hosts: Redis Streams, one consumer group.

Same promises as the SQLite store (tests/store runs one suite against both). Each
operation is one Lua script (`core/store/redis_lua.py`), so it is atomic on the server.

Time is the Redis server's (`TIME`), the one clock every host shares, unless a clock is
injected (tests move a fake one). Leases are judged by that time, not by the stream's
idle times: a sorted set holds each running job's lease expiry, and a claim requeues or
fails the jobs whose lease ran out, then moves their stream entries with `XCLAIM`.
`XAUTOCLAIM` would decide by the server's idle time, which a test cannot move and which
`XCLAIM ... TIME` cannot set into the future (Redis clamps it to now, so a lease could
not be renewed for longer than it has run). So the consumer group records who holds a
job and how often it was handed out (the delivery count is the attempt counter), and
the lease set says when a holder is late.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.jobs import GAVE_UP, EventKind, Job, JobEvent, JobParams, JobResult, JobState, NewJob
from core.store import redis_lua as lua
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
)
from core.store.fairness import Flow, jobs_ahead
from core.store.sqlite import batch_key

log = logging.getLogger(__name__)

Entry = tuple[bytes, dict[bytes, bytes]]  # a stream entry: its id and its fields

DEFAULT_PREFIX = "imagine:"
EVENT_RETENTION = 86_400.0  # as on SQLite: a bot down longer catches up by sweep
SOCKET_TIMEOUT = 10.0  # a silent connection (a host gone) is given up after this
MAX_WAIT = SOCKET_TIMEOUT / 2  # `events(wait=...)` blocks at most this long per call


def _retry() -> Retry:
    """Rides out a Redis restart: a command that finds its connection dropped is sent
    again on a new one, for about 12 s. A claim whose answer was lost that way leaves
    its jobs leased to a worker that does not know it; the lease runs out and they run
    again. The other operations are safe to repeat (a second `complete` answers False)."""
    return Retry(EqualJitterBackoff(cap=1.0, base=0.05), retries=20)


class ClusterUnsupported(RuntimeError):
    """IMAGINE_STORE names a Redis Cluster node (docs/scaling.md: single server only)."""


async def _refuse_cluster(client: Redis) -> None:
    """The scripts reach keys they compute from what they read (each member's queue, each
    job), which a Cluster forbids; say so at start rather than fail on a first claim."""
    try:
        info = await client.info("cluster")
    except ResponseError:  # INFO renamed or disabled (some managed services): go on
        return
    if int(info.get("cluster_enabled", 0)):
        raise ClusterUnsupported(
            "IMAGINE_STORE points at a Redis Cluster node; the job store needs one Redis"
            " server (a replica may stand by for failover): see docs/scaling.md."
        )


async def _create_group(client: Redis, stream: str) -> None:
    try:
        await client.xgroup_create(stream, "workers", id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):  # BUSYGROUP: another process made it first
            raise


class RedisJobStore:
    """JobStore on Redis. Open with `await RedisJobStore.open(url)`."""

    def __init__(
        self,
        client: Redis,
        clock: Clock | None,
        prefix: str,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self._client = client
        self._clock = clock
        self._prefix = prefix
        # EXPIRE takes whole seconds: round up, so nothing goes before the retention.
        self._keep = max(1, math.ceil(retention_seconds))
        self._scripts = {
            name: client.register_script(lua.PRELUDE + body) for name, body in lua.SCRIPTS.items()
        }

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        clock: Clock | None = None,
        prefix: str = DEFAULT_PREFIX,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> RedisJobStore:
        """`redis://[:password@]host:6379/0`, or `rediss://` for TLS; without a clock,
        the server's time."""
        # RESP2: replies keep one shape across redis-py versions (RESP3 maps differ).
        client = Redis.from_url(url, protocol=2, socket_timeout=SOCKET_TIMEOUT, retry=_retry())
        try:
            await _refuse_cluster(client)
            await _create_group(client, prefix + "jobs")
        except BaseException:
            await client.aclose()
            raise
        return cls(client, clock, prefix, retention_seconds)

    async def close(self) -> None:
        await self._client.aclose()

    async def _run(self, name: str, *args: str | bytes) -> Any:
        """Runs one script with the arguments every script starts with."""
        now = "" if self._clock is None else repr(self._clock())
        kept = (str(self._keep), repr(EVENT_RETENTION))
        return await self._scripts[name](args=[self._prefix, now, *kept, *args])

    async def enqueue(self, job: NewJob) -> Job:
        fields = {
            "id": job.id,
            "guild_id": job.guild_id,
            "channel_id": job.channel_id,
            "user_id": job.user_id,
            "locale": job.locale,
            "params": json.dumps(asdict(job.params)),
            "max_attempts": job.max_attempts,
        }
        pairs = [str(part) for item in fields.items() for part in item]
        params = job.params
        sizes = (str(params.count), str(params.steps))
        source = job.source_png or b""
        key, model = batch_key(params), params.model
        record = await self._run("enqueue", job.id, key, *sizes, source, model, *pairs)
        return _to_job(record)

    async def claim(
        self,
        worker_id: str,
        *,
        max_images: int = 1,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        models: Sequence[str] | None = None,
    ) -> list[Job]:
        lease = repr(lease_seconds)
        only = ("0",) if models is None else ("1", *models)
        records = await self._run("claim", worker_id, str(max_images), lease, GAVE_UP, *only)
        return [_to_job(record) for record in records]

    async def heartbeat(
        self, job_id: str, worker_id: str, step: int, total: int, lease_seconds: float
    ) -> Lease:
        lease = repr(lease_seconds)
        answer = await self._run("heartbeat", job_id, worker_id, str(step), str(total), lease)
        return Lease(answer.decode())

    async def complete(self, job_id: str, worker_id: str, result: JobResult) -> bool:
        pngs = (result.grid_png, *result.image_pngs)
        seconds, sample = repr(result.gpu_seconds), str(SPEED_SAMPLE)
        return bool(await self._run("complete", job_id, worker_id, seconds, sample, *pngs))

    async def fail(self, job_id: str, worker_id: str, error: str, *, retry: bool) -> bool:
        return bool(await self._run("fail", job_id, worker_id, error, "1" if retry else "0"))

    async def release(self, job_id: str, worker_id: str) -> bool:
        return bool(await self._run("release", job_id, worker_id))

    async def cancel(self, job_id: str) -> Job | None:
        record = await self._run("cancel", job_id)
        return _to_job(record) if record else None

    async def get(self, job_id: str) -> Job | None:
        record = await self._run("get", job_id)
        return _to_job(record) if record else None

    async def result(self, job_id: str) -> JobResult | None:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hget(f"{self._prefix}job:{job_id}", "gpu_seconds")
            pipe.lrange(f"{self._prefix}result:{job_id}", 0, -1)
            seconds, pngs = await pipe.execute()
        if seconds is None or not pngs:
            return None
        return JobResult(pngs[0], tuple(pngs[1:]), float(seconds))

    async def source(self, job_id: str) -> bytes | None:
        return cast(bytes | None, await self._client.get(f"{self._prefix}source:{job_id}"))

    async def set_preview(self, job_id: str, worker_id: str, step: int, image: bytes) -> bool:
        return bool(await self._run("set_preview", job_id, worker_id, str(step), image))

    async def preview(self, job_id: str) -> Preview | None:
        found = await self._run("preview", job_id)
        return Preview(int(found[0]), found[1]) if found else None

    async def purge(self, *, limit: int = PURGE_BATCH) -> int:
        return int(await self._run("purge", str(limit)))

    async def purge_images(self, job_id: str) -> bool:
        return bool(await self._run("purge_images", job_id))

    async def put_asset(self, name: str, data: bytes) -> None:
        await self._client.set(f"{self._prefix}asset:{name}", data)

    async def asset(self, name: str) -> bytes | None:
        return cast(bytes | None, await self._client.get(f"{self._prefix}asset:{name}"))

    async def position(self, job_id: str) -> int:
        found = await self._run("flows", job_id, "0")
        return -1 if not found else sum(_jobs_ahead(json.loads(found)).values())

    async def work_ahead(self, job_id: str) -> int:
        found = await self._run("flows", job_id, "1")
        if not found:
            return 0
        flows = json.loads(found)
        ahead = _jobs_ahead(flows)
        works = {(guild, user): work for guild, user, *_, work in flows["members"]}
        assert all(len(works[member]) >= count for member, count in ahead.items())
        queued = sum(sum(works[member][:count]) for member, count in ahead.items())
        return int(flows["running"]) + queued

    async def stats(self, guild_id: int | None = None) -> QueueStats:
        guild = "" if guild_id is None else str(guild_id)
        timeout = repr(WORKER_TIMEOUT_SECONDS)
        queued, running, workers, speeds = await self._run("stats", guild, timeout)
        speed = statistics.fmean(map(float, speeds)) if speeds else None
        return QueueStats(int(queued), int(running), int(workers), speed)

    async def jobs(
        self,
        *,
        guild_id: int,
        user_id: int | None = None,
        states: tuple[JobState, ...],
        limit: int = 10,
    ) -> list[Job]:
        user = "" if user_id is None else str(user_id)
        records = await self._run("jobs", str(guild_id), user, str(limit), *states)
        return [_to_job(record) for record in records]

    async def worker_seen(self, worker_id: str, models: Sequence[str] = ()) -> None:
        await self._run("worker_seen", worker_id, ",".join(models))

    async def models_online(self) -> tuple[str, ...]:
        held = await self._run("models_online", repr(WORKER_TIMEOUT_SECONDS))
        return tuple(sorted({m for models in held for m in models.decode().split(",") if m}))

    async def counts(self) -> dict[JobState, int]:
        """Jobs by state, for metrics: the finished ones are counted since the start, as
        on SQLite, though their records expire."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zcard(self._prefix + "queue")
            pipe.zcard(self._prefix + "leases")
            pipe.hgetall(self._prefix + "finished")
            queued, running, finished = await pipe.execute()
        counts = {JobState(state.decode()): int(n) for state, n in finished.items()}
        return {JobState.QUEUED: queued, JobState.RUNNING: running, **counts}

    async def head(self) -> int:
        newest = cast(list[Entry], await self._client.xrevrange(self._prefix + "events", count=1))
        return _seq(newest[0][0]) if newest else 0

    async def events(self, after: int, *, limit: int = 500, wait: float = 0.0) -> list[JobEvent]:
        try:
            return await self._events(after, limit, wait)
        except (RedisConnectionError, RedisTimeoutError):
            # The reader (the bot's delivery loop) lives on and reads on from its cursor
            # once Redis is back, instead of dying with the outage.
            log.warning("Redis is unreachable; job events resume when it is back")
            return []

    async def _events(self, after: int, limit: int, wait: float) -> list[JobEvent]:
        stream, start = self._prefix + "events", f"0-{after}"
        entries: list[Entry]
        if wait <= 0:
            entries = cast(list[Entry], await self._client.xrange(stream, f"({start}", count=limit))
        else:
            # XREAD from an id answers at once when newer entries exist, else blocks.
            block = max(1, round(min(wait, MAX_WAIT) * 1000))
            found = await self._client.xread({stream: start}, count=limit, block=block)
            entries = cast(list[tuple[bytes, list[Entry]]], found)[0][1] if found else []
        return [_to_event(entry_id, fields) for entry_id, fields in entries]


def _jobs_ahead(found: dict[str, Any]) -> dict[tuple[str, str], int]:
    """How many jobs from the front of each member's queue are claimed before this one,
    as on SQLite (core/store/fairness.py), from the `flows` script."""
    members = {
        (guild, user): Flow((seq, float(queued_at), order), waiting)
        for guild, user, seq, queued_at, order, waiting, *_ in found["members"]
    }
    served = dict(found["guilds"])
    return jobs_ahead(members, served, (found["guild"], found["user"]), found["rank"])


def _seq(entry_id: bytes) -> int:
    """Event ids are `0-<seq>`: the sequence part is the reader's integer cursor."""
    return int(entry_id.split(b"-")[1])


def _to_job(record: bytes) -> Job:
    fields: dict[str, str] = json.loads(record)

    def moment(name: str) -> float | None:
        value = fields.get(name)
        return None if value is None else float(value)

    return Job(
        id=fields["id"],
        guild_id=int(fields["guild_id"]),
        channel_id=int(fields["channel_id"]),
        user_id=int(fields["user_id"]),
        params=JobParams(**json.loads(fields["params"])),
        locale=fields["locale"],
        state=JobState(fields["state"]),
        attempts=int(fields["attempts"]),
        max_attempts=int(fields["max_attempts"]),
        created_at=float(fields["created_at"]),
        lease_owner=fields.get("lease_owner"),
        lease_expires=moment("lease_expires"),
        step=int(fields["step"]),
        total_steps=int(fields["total_steps"]),
        started_at=moment("started_at"),
        finished_at=moment("finished_at"),
        gpu_seconds=float(fields["gpu_seconds"]),
        error=fields.get("error"),
        cancel_requested=fields["cancel_requested"] == "1",
    )


def _to_event(entry_id: bytes, fields: Mapping[bytes, bytes]) -> JobEvent:
    return JobEvent(
        seq=_seq(entry_id),
        job_id=fields[b"job"].decode(),
        kind=EventKind(fields[b"kind"].decode()),
        at=float(fields[b"at"]),
        step=int(fields[b"step"]),
        total_steps=int(fields[b"total"]),
    )
