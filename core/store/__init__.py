"""Job store backends behind one protocol; `open_store` picks one from a URL."""

from pathlib import Path

from core.store.base import DEFAULT_RETENTION_SECONDS, Clock, JobStore, Lease, Preview, wall_clock
from core.store.redis import RedisJobStore
from core.store.sqlite import SqliteJobStore

__all__ = ["JobStore", "Lease", "Preview", "open_store"]

REDIS_SCHEMES = ("redis://", "rediss://")


async def open_store(
    url: str,
    *,
    clock: Clock | None = None,
    retention_seconds: float = DEFAULT_RETENTION_SECONDS,
) -> JobStore:
    """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, or for workers on many
    hosts `redis://:password@host:6379/0` (`rediss://` for TLS). Without a clock, time is
    this machine's for SQLite and the Redis server's for Redis (the same on every host).
    Finished jobs are kept `retention_seconds` (IMAGINE_RETENTION_DAYS)."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return await SqliteJobStore.open(
            path, clock=clock or wall_clock, retention_seconds=retention_seconds
        )
    if url.startswith(REDIS_SCHEMES):
        return await RedisJobStore.open(url, clock=clock, retention_seconds=retention_seconds)
    raise ValueError(
        f"IMAGINE_STORE must start with sqlite:///, redis:// or rediss://,"
        f" not {url.split(':')[0]!r}."
    )
