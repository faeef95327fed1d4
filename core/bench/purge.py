"""How long a retention purge holds the SQLite store's write lock, and what it gives back.

    python -m core.bench.purge [--jobs 200] [--megabytes 2.6] [--batch 5]

Fills a fresh store with `--jobs` finished img2img jobs of about `--megabytes` each
(random bytes: PNGs do not compress further), moves the clock past the retention and
purges them as the bot does (core/retention.py). Meanwhile a second connection, as a
worker would, writes a small row every 10 ms: its slowest write is what a purge costs
the other processes. Prints each batch's time, the writer's waits, and the file's size
before and after. `--batch 200` shows what one unbatched purge would cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from core.jobs import JobParams, JobResult, NewJob
from core.retention import PAUSE_SECONDS
from core.store.base import DEFAULT_RETENTION_SECONDS, PURGE_BATCH
from core.store.sqlite import SqliteJobStore

WRITE_EVERY = 0.01


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def job(number: int, source: bytes) -> NewJob:
    params = JobParams(prompt="a benchmark", count=4, steps=1, strength=0.6)
    return NewJob(f"bench-{number}", 1, 100, 10, params, source_png=source)


async def fill(store: SqliteJobStore, jobs: int, megabytes: float) -> None:
    """Each job: a grid of 40 %, four images of 12 % and a source of 12 % of its size."""
    size = int(megabytes * 1_000_000)
    for number in range(jobs):
        await store.enqueue(job(number, os.urandom(size * 12 // 100)))
        [claimed] = await store.claim("w", max_images=4)
        singles = tuple(os.urandom(size * 12 // 100) for _ in range(4))
        await store.complete(claimed.id, "w", JobResult(os.urandom(size * 40 // 100), singles, 1))


async def write_meanwhile(path: Path, stop: asyncio.Event) -> list[float]:
    """A worker's small writes (`worker_seen`), timed, until `stop`."""
    other = await SqliteJobStore.open(path)
    waits: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        await other.worker_seen("other")
        waits.append(time.perf_counter() - started)
        await asyncio.sleep(WRITE_EVERY)
    await other.close()
    return waits


def megabytes_on_disk(path: Path) -> float:
    """The database and its write-ahead log."""
    wal = Path(f"{path}-wal")
    return (path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 1e6


async def run(jobs: int, megabytes: float, batch: int, folder: Path) -> None:
    path, clock = folder / "jobs.db", Clock()
    store = await SqliteJobStore.open(path, clock=clock)
    await fill(store, jobs, megabytes)
    before = await asyncio.to_thread(megabytes_on_disk, path)
    clock.now += DEFAULT_RETENTION_SECONDS + 1
    stop = asyncio.Event()
    writer = asyncio.create_task(write_meanwhile(path, stop))
    await asyncio.sleep(0.2)
    batches: list[float] = []
    while True:  # core.retention.purge_due, timed batch by batch
        started = time.perf_counter()
        purged = await store.purge(limit=batch)
        batches.append(time.perf_counter() - started)
        if purged < batch:
            break
        await asyncio.sleep(PAUSE_SECONDS)
    stop.set()
    waits = await writer
    await store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = await asyncio.to_thread(megabytes_on_disk, path)
    await store.close()
    ms = [round(seconds * 1000) for seconds in batches]
    print(f"{jobs} jobs of {megabytes} MB, {batch} per batch, {PAUSE_SECONDS} s apart")
    print(f"batches (purge + vacuum step), ms: median {statistics.median(ms)}, max {max(ms)}")
    waited = sorted(seconds * 1000 for seconds in waits)
    print(
        f"another connection's writes, ms: median {statistics.median(waited):.1f},"
        f" p99 {waited[int(len(waited) * 0.99)]:.1f}, max {waited[-1]:.1f} ({len(waited)} writes)"
    )
    print(f"file: {before:.0f} MB before, {after:.0f} MB after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--megabytes", type=float, default=2.6)
    parser.add_argument("--batch", type=int, default=PURGE_BATCH)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(args.jobs, args.megabytes, args.batch, Path(folder)))


if __name__ == "__main__":
    main()
