"""Job store backends behind one protocol; `open_store` picks one from a URL."""

from pathlib import Path

from core.store.base import Clock, JobStore, Lease, wall_clock
from core.store.sqlite import SqliteJobStore

__all__ = ["JobStore", "Lease", "open_store"]


async def open_store(url: str, *, clock: Clock = wall_clock) -> JobStore:
    """`sqlite:///relative/path.db` or `sqlite:////absolute/path.db`."""
    if url.startswith("sqlite:///"):
        return await SqliteJobStore.open(Path(url.removeprefix("sqlite:///")), clock=clock)
    raise ValueError(f"IMAGINE_STORE must start with sqlite:///, not {url.split(':')[0]!r}.")
