"""How fast the job store moves jobs, on SQLite and on Redis, with 1 and 4 workers.

    python -m core.bench.queue [--stores sqlite,redis] [--workers 1,4] [--rounds 3]
                                [--members 1]

Worker processes do what the worker loop does with a no-op engine: claim (up to 4
images at once), complete with a tiny result, poll again after IDLE_POLL when the queue
is empty. This process is the bot: it enqueues and reads the job events.

- jobs/s: a burst of BURST jobs enqueued at once, timed from the first enqueue until the
  bot has seen every job's `done` event.
- enqueue -> claim p50/p99: jobs enqueued at RATE jobs/s for PACED_SECONDS, from the
  moment the bot calls enqueue until a worker holds the job.

Each figure is the median of `--rounds` runs (ROUNDS by default), each on a fresh store.
All jobs come from one member of one server unless `--members N` spreads them over N
members (four to a server), which the fair claims then serve in turns.

Redis runs as a throwaway `redis-server` with the AOF on (`appendfsync everysec`), as
docs/scaling.md recommends; SQLite is a file in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import redis

from core.jobs import EventKind, JobParams, JobResult, NewJob
from core.store import JobStore, open_store

REPO = Path(__file__).resolve().parents[2]
BURST = 2000
RATE = 500.0
PACED_SECONDS = 4.0
IDLE_POLL = 0.01
MAX_IMAGES = 4
ROUNDS = 3  # a shared 2-core machine is noisy: the median of a few runs says more
RESULT = JobResult(b"grid", (b"image",), 0.0)
PARAMS = JobParams(prompt="a benchmark", steps=1)


# --- the worker processes -------------------------------------------------------------


async def work(url: str, name: str) -> None:
    """Claims and completes until stdin closes, then prints "job_id claimed_at" lines."""
    store = await open_store(url)
    claimed: list[str] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stdin_closed() -> None:
        loop.remove_reader(sys.stdin.fileno())
        stop.set()

    loop.add_reader(sys.stdin.fileno(), stdin_closed)  # the bot closes it to stop us
    print("ready", flush=True)
    while not stop.is_set():
        jobs = await store.claim(name, max_images=MAX_IMAGES, lease_seconds=60)
        now = time.time()
        if not jobs:
            await asyncio.sleep(IDLE_POLL)
        for job in jobs:
            claimed.append(f"{job.id} {now!r}")
            await store.complete(job.id, name, RESULT)
    await store.close()
    print("\n".join(claimed), flush=True)


# --- the bot side ---------------------------------------------------------------------


class Workers:
    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self._processes = processes

    @classmethod
    async def start(cls, url: str, count: int) -> Workers:
        command = [sys.executable, "-m", "core.bench.queue", "--worker", url]
        pipe, env = asyncio.subprocess.PIPE, {**os.environ, "PYTHONPATH": str(REPO)}
        processes = [
            await asyncio.create_subprocess_exec(
                *command, f"w{n}", stdin=pipe, stdout=pipe, env=env, cwd=REPO
            )
            for n in range(count)
        ]
        for process in processes:
            assert process.stdout is not None
            assert await process.stdout.readline() == b"ready\n"
        return cls(processes)

    async def stop(self) -> dict[str, float]:
        """Stops the workers; returns when each job was claimed."""
        claimed: dict[str, float] = {}
        for process in self._processes:
            assert process.stdin is not None
            process.stdin.close()
            out, _ = await process.communicate()
            for line in out.decode().split("\n"):
                if line:
                    job_id, at = line.split()
                    claimed[job_id] = float(at)
        return claimed


async def wait_done(store: JobStore, cursor: int, count: int) -> int:
    """Reads events like the bot until `count` jobs are done; returns the cursor."""
    done = 0
    while done < count:
        events = await store.events(cursor, wait=0.5)
        cursor = events[-1].seq if events else cursor
        done += sum(1 for event in events if event.kind is EventKind.DONE)
    return cursor


MEMBERS = [1]  # how many members (four to a server) the jobs come from; set by --members


def new_job(n: int) -> NewJob:
    member = n % MEMBERS[0]
    guild = 1 + member // 4
    return NewJob(
        id=f"bench-{n}", guild_id=guild, channel_id=guild, user_id=1 + member % 4, params=PARAMS
    )


async def burst(store: JobStore, first: int) -> float:
    """Jobs per second for BURST jobs enqueued at once."""
    cursor = await store.head()
    started = time.perf_counter()
    reader = asyncio.create_task(wait_done(store, cursor, BURST))
    for n in range(first, first + BURST):
        await store.enqueue(new_job(n))
    await reader
    return BURST / (time.perf_counter() - started)


async def paced(store: JobStore, first: int) -> dict[str, float]:
    """Enqueues RATE jobs per second; returns when each was enqueued."""
    count = round(RATE * PACED_SECONDS)
    cursor = await store.head()
    reader = asyncio.create_task(wait_done(store, cursor, count))
    enqueued: dict[str, float] = {}
    start = time.monotonic()
    for n in range(count):
        await asyncio.sleep(max(0.0, start + n / RATE - time.monotonic()))
        job = new_job(first + n)
        enqueued[job.id] = time.time()
        await store.enqueue(job)
    await reader
    return enqueued


@asynccontextmanager
async def backend(name: str, folder: Path) -> AsyncIterator[str]:
    """A fresh, empty store of this kind; yields its URL."""
    if name == "sqlite":
        yield f"sqlite:///{folder / 'jobs.db'}"
        return
    with redis_server(folder) as url:
        yield url


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A throwaway `redis-server` on a free loopback port, its files in `folder`: the bench
    never touches a Redis that holds anyone's queue."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("The Redis runs need redis-server (apt-get install redis-server).")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""]
    durable = ["--appendonly", "yes", "--appendfsync", "everysec"]  # as a deployment runs
    server = subprocess.Popen([binary, *options, *durable], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):  # up to 5 s for it to listen
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(10)


async def measure(name: str, workers: int) -> tuple[float, float, float]:
    """(jobs/s, p50 ms, p99 ms) for one backend and number of workers."""
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as folder:
        async with backend(name, Path(folder)) as url:
            store = await open_store(url)
            running = await Workers.start(url, workers)
            try:
                rate = await burst(store, 0)
                enqueued = await paced(store, BURST)
            finally:
                claimed = await running.stop()
                await store.close()
    waits = sorted(1000 * (claimed[job_id] - at) for job_id, at in enqueued.items())
    cuts = statistics.quantiles(waits, n=100)
    return rate, cuts[49], cuts[98]


async def main(stores: list[str], worker_counts: list[int], rounds: int) -> None:
    print(
        f"{os.cpu_count()} CPUs; burst of {BURST} jobs from {MEMBERS[0]} member(s);"
        f" latency at {RATE:.0f} jobs/s offered; each figure the median of {rounds} runs"
    )
    print("| store | workers | jobs/s | enqueue -> claim p50 | p99 |")
    print("|---|---|---|---|---|")
    for name in stores:
        for workers in worker_counts:
            runs = [await measure(name, workers) for _ in range(rounds)]
            rate, p50, p99 = (statistics.median(figures) for figures in zip(*runs, strict=True))
            print(f"| {name} | {workers} | {rate:.0f} | {p50:.1f} ms | {p99:.1f} ms |", flush=True)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("URL", "NAME"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--stores", default="sqlite,redis", help="comma-separated: sqlite, redis (default both)"
    )
    parser.add_argument("--workers", default="1,4", help="worker processes, comma-separated")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="runs per figure (median)")
    parser.add_argument("--members", type=int, default=1, help="members the jobs come from")
    args = parser.parse_args()
    if args.worker:
        asyncio.run(work(*args.worker))
        return
    stores = args.stores.split(",")
    if not set(stores) <= {"sqlite", "redis"}:
        parser.error("--stores: sqlite and/or redis")
    counts = [int(count) for count in args.workers.split(",")]
    MEMBERS[0] = max(1, args.members)
    asyncio.run(main(stores, counts, max(1, args.rounds)))


if __name__ == "__main__":
    cli()
