"""`python -m worker`: load the model, compile it, then serve jobs until SIGTERM.
`python -m worker check`: exit 0 if the running worker's heartbeat is fresh (health checks).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time

from core.logs import setup_logging
from core.metrics import serve_metrics
from core.settings import WorkerSettings, load
from core.store import open_store
from core.vocab import resolve_vocab
from worker.loop import EngineLike, Worker

log = logging.getLogger("worker")


def build(settings: WorkerSettings) -> EngineLike:
    from worker.engine import build_engine  # TensorFlow loads here, not for `check`

    vocab = resolve_vocab(settings.vocab, settings.cache_dir)
    try:
        engine = build_engine(
            settings.weights,
            sizes=settings.sizes,
            vocab=vocab,
            cache_dir=settings.cache_dir,
            precision=settings.precision,
            max_batch=settings.max_batch_images,
            backend=settings.backend,
        )
    except ValueError as error:
        sys.exit(f"Configuration error: {error}")
    log.info("Compiling for sizes %s", ", ".join(f"{w}x{h}" for w, h in settings.sizes))
    seconds = engine.warm_up()
    log.info("Warm-up took %.1f s; ready", seconds)
    return engine


async def serve(settings: WorkerSettings, engine: EngineLike) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    store = await open_store(settings.store)
    worker = Worker(
        store,
        engine,
        worker_id=settings.worker_id or f"{socket.gethostname()}-{os.getpid()}",
        max_images=settings.max_batch_images,
        lease_seconds=settings.lease_seconds,
        heartbeat_file=settings.heartbeat_file,
        preview_seconds=settings.preview_seconds,
    )
    try:
        await worker.run(stop)
    finally:
        await store.close()


def check(settings: WorkerSettings) -> int:
    """0 when the heartbeat file was touched within a lease, else 1."""
    try:
        age = time.time() - settings.heartbeat_file.stat().st_mtime
    except FileNotFoundError:
        print(f"No heartbeat at {settings.heartbeat_file}: the worker is not running.")
        return 1
    if age > settings.lease_seconds:
        print(f"The worker's last heartbeat was {age:.0f} s ago: it is stuck or stopped.")
        return 1
    print(f"The worker is alive (heartbeat {age:.0f} s ago).")
    return 0


def main(argv: list[str]) -> int:
    settings = load(WorkerSettings)
    if argv[1:] == ["check"]:
        return check(settings)
    if argv[1:]:
        print("usage: python -m worker [check]")
        return 2
    setup_logging(settings.log_level)
    serve_metrics(settings)  # up during the download and warm-up too
    engine = build(settings)
    asyncio.run(serve(settings, engine))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
