"""`python -m worker`: fetch the model's files, load and compile the model, then serve jobs
until SIGTERM. `python -m worker check`: exit 0 if the running worker's heartbeat is
fresh (health checks). `python -m worker --help`: this, as usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from core import vocab_share
from core.download import DownloadError
from core.logs import setup_logging
from core.metrics import serve_metrics
from core.settings import WorkerSettings, load
from core.store import open_store
from core.store.base import DAY
from core.vocab import resolve_vocab
from worker.engine import Engine
from worker.engine.weights import downloaded_weights
from worker.loop import EngineLike, Worker

log = logging.getLogger("worker")


def fetch_files(settings: WorkerSettings) -> tuple[Path, str]:
    """The vocabulary and the weights, downloaded where needed before TensorFlow loads,
    so a host without internet hears so at once. Returns (vocab, weights for build).
    The vocabulary is shared with the bot before the weights download (minutes, an hour
    on a first run), so /imagine is taken meanwhile."""
    vocab = resolve_vocab(settings.vocab, settings.cache_dir, settings.download_mirror)
    asyncio.run(vocab_share.share_at_start(settings))
    weights = downloaded_weights(
        settings.weights, settings.cache_dir, settings.download_mirror, models=settings.models
    )
    return vocab, weights


def build(settings: WorkerSettings, vocab: Path, weights: str) -> Engine:
    from worker.engine import build_engine  # TensorFlow loads here, not for `check`

    try:
        engine = build_engine(
            weights,
            sizes=settings.sizes,
            vocab=vocab,
            cache_dir=settings.cache_dir,
            precision=settings.precision,
            max_batch=settings.max_batch_images,
            backend=settings.backend,
            models=settings.models,
            upscale_sizes=settings.upscale_sizes,
        )
    except ValueError as error:
        sys.exit(f"Configuration error: {error}")
    log.info(
        "Compiling %s for sizes %s",
        ", ".join(settings.models),
        ", ".join(f"{w}x{h}" for w, h in settings.sizes),
    )
    if settings.upscale:
        log.info(
            "Upscaling to %s: compiled for one image after everything else",
            ", ".join(f"{w}x{h}" for w, h in settings.upscale_sizes),
        )
    seconds = engine.warm_up()
    log.info("Warm-up took %.1f s; ready", seconds)
    return engine


def give_up(error: DownloadError, pause_seconds: float) -> int:
    """Logs the failed download's sentence; waits before the exit when a restart policy
    would otherwise try again at once (SIGTERM still stops it at once)."""
    log.error("%s", error)
    if pause_seconds:
        log.info(
            "Exiting in %.0f s (IMAGINE_FAILURE_PAUSE_SECONDS), so that a restart tries again "
            "at that pace",
            pause_seconds,
        )
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C in a terminal: no traceback
            time.sleep(pause_seconds)
    return 1


async def serve(settings: WorkerSettings, engine: EngineLike) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    store = await open_store(settings.store, retention_seconds=settings.retention_days * DAY)
    worker = Worker(
        store,
        engine,
        worker_id=settings.worker_id or f"{socket.gethostname()}-{os.getpid()}",
        max_images=settings.max_batch_images,
        lease_seconds=settings.lease_seconds,
        heartbeat_file=settings.heartbeat_file,
        preview_seconds=settings.preview_seconds,
        models=settings.models,
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


def parse(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m worker",
        description="The imagine-bot image worker: downloads the model's weights once, "
        "compiles the model for every configured size, then makes the pictures the bot "
        "queues. Settings come from the environment and .env (see .env.example).",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["check"],
        help="check: exit 0 if the running worker's heartbeat is fresh (health checks)",
    )
    return parser.parse_args(args)


def main(argv: list[str]) -> int:
    command = parse(argv[1:]).command  # before the settings: --help needs none
    settings = load(WorkerSettings)
    if command == "check":
        return check(settings)
    setup_logging(settings.log_level)
    serve_metrics(settings)  # up during the download and warm-up too
    log.info(
        "Starting: models %s, sizes %s, at most %d image(s) per batch, weights %s",
        ", ".join(settings.models),
        ", ".join(f"{w}x{h}" for w, h in settings.sizes),
        settings.max_batch_images,
        settings.weights,
    )
    try:
        vocab, weights = fetch_files(settings)
    except DownloadError as error:
        return give_up(error, settings.failure_pause_seconds)
    except ValueError as error:  # a weights folder that lacks a file, a read-only cache
        sys.exit(f"Configuration error: {error}")
    engine = build(settings, vocab, weights)
    try:
        asyncio.run(serve(settings, engine))
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
