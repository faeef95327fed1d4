"""The job store protocol: what the bot and the workers may do to jobs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.jobs import Job, JobEvent, JobResult, JobState, NewJob

Clock = Callable[[], float]
DEFAULT_LEASE_SECONDS = 60.0


def wall_clock() -> float:
    return time.time()


WORKER_TIMEOUT_SECONDS = 30.0  # a worker unseen for this long is not counted as online
SPEED_SAMPLE = 20  # recent jobs the speed estimate averages over
DAY = 86_400.0
DEFAULT_RETENTION_SECONDS = 7 * DAY  # IMAGINE_RETENTION_DAYS: how long finished jobs are kept
# Finished jobs one `purge` deletes. SQLite walks every page of a deleted picture, so a
# transaction's length follows the bytes it deletes: five jobs of a few MB each keep
# other writers waiting well under a second (python -m core.bench.purge).
PURGE_BATCH = 5


@dataclass(frozen=True)
class QueueStats:
    """What /queue shows and ETAs are computed from."""

    queued: int  # jobs waiting (in the guild asked about, or everywhere)
    running: int
    workers: int  # workers seen in the last WORKER_TIMEOUT_SECONDS
    seconds_per_step: float | None  # GPU seconds per image per step, recent jobs; None: no data


@dataclass(frozen=True)
class Preview:
    """A running job's newest rough image (WebP), taken after `step` steps."""

    step: int
    image: bytes


class Lease(StrEnum):
    """What a heartbeat learns about the job it holds."""

    HELD = "held"  # keep going
    LOST = "lost"  # another worker owns it now, or it finished: stop, write nothing
    CANCEL = "cancel"  # its requester canceled it: stop at the next chunk


class JobStore(Protocol):
    """Every backend keeps these promises; tests/store runs one suite against each."""

    async def enqueue(self, job: NewJob) -> Job:
        """Adds a job; enqueueing the same id twice returns the first one unchanged."""
        ...

    async def claim(
        self,
        worker_id: str,
        *,
        max_images: int = 1,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        models: Sequence[str] | None = None,
    ) -> list[Job]:
        """Leases the next job, plus compatible ones (same model, size, steps, sampler) up
        to `max_images` images in all. Expired leases are requeued first. With `models`,
        only jobs of those models (the worker's): others stay queued for a worker that
        holds theirs, and do not hold up the ones behind them."""
        ...

    async def heartbeat(
        self, job_id: str, worker_id: str, step: int, total: int, lease_seconds: float
    ) -> Lease:
        """Renews the lease and records progress."""
        ...

    async def complete(self, job_id: str, worker_id: str, result: JobResult) -> bool:
        """Stores the result; only the current lease owner succeeds."""
        ...

    async def fail(self, job_id: str, worker_id: str, error: str, *, retry: bool) -> bool:
        """Gives up on this attempt. With `retry`, the job is queued again while attempts
        remain; `error` is the sentence its requester reads if none remain."""
        ...

    async def release(self, job_id: str, worker_id: str) -> bool:
        """Gives a job back unfinished (the worker is stopping) without using an attempt."""
        ...

    async def cancel(self, job_id: str) -> Job | None:
        """Cancels a queued job at once; a running one stops at its next heartbeat."""
        ...

    async def get(self, job_id: str) -> Job | None: ...

    async def result(self, job_id: str) -> JobResult | None: ...

    async def source(self, job_id: str) -> bytes | None:
        """The image an img2img job starts from (PNG), if it has one."""
        ...

    async def set_preview(self, job_id: str, worker_id: str, step: int, image: bytes) -> bool:
        """Keeps the newest preview of a job `worker_id` holds (one per job, replaced);
        False, and nothing kept, if it does not hold the job."""
        ...

    async def preview(self, job_id: str) -> Preview | None:
        """The newest preview of a running job; None once the job has finished or gone
        back to the queue, where an old attempt's picture would mislead."""
        ...

    async def purge(self, *, limit: int = PURGE_BATCH) -> int:
        """Deletes up to `limit` jobs that finished longer than the store's retention ago,
        with everything kept for them (results, source, preview); returns how many. A job
        that has not finished is never purged."""
        ...

    async def purge_images(self, job_id: str) -> bool:
        """Drops a finished job's result, source and preview at once (a moderator deleted
        its picture); its record stays. False, and nothing dropped, if it is unfinished."""
        ...

    async def put_asset(self, name: str, data: bytes) -> None:
        """Keeps `data` under `name` until replaced, never purged (CLIP's vocabulary, which
        a worker shares with the bot: core/vocab_share.py)."""
        ...

    async def asset(self, name: str) -> bytes | None: ...

    async def position(self, job_id: str) -> int:
        """How many queued jobs run before this one (0: next); -1 if it is not queued."""
        ...

    async def work_ahead(self, job_id: str) -> int:
        """Image-steps to be done before this queued job starts: the queued jobs before it
        and what is left of the running ones."""
        ...

    async def stats(self, guild_id: int | None = None) -> QueueStats: ...

    async def jobs(
        self,
        *,
        guild_id: int,
        user_id: int | None = None,
        states: tuple[JobState, ...],
        limit: int = 10,
    ) -> list[Job]:
        """A guild's (or one member's) jobs in these states, newest first."""
        ...

    async def worker_seen(self, worker_id: str, models: Sequence[str] = ()) -> None:
        """A worker says it is alive (for the count of workers online), and which models
        it holds."""
        ...

    async def models_online(self) -> tuple[str, ...]:
        """The models held by the workers seen in the last WORKER_TIMEOUT_SECONDS, sorted."""
        ...

    async def head(self) -> int:
        """The newest event's seq, so a reader can start from now."""
        ...

    async def events(self, after: int, *, limit: int = 500, wait: float = 0.0) -> list[JobEvent]:
        """Events with seq > `after`, oldest first; waits up to `wait` seconds for one."""
        ...

    async def close(self) -> None: ...
