"""The bot's health for container checks: a file touched while the bot is connected to
Discord's gateway, and `python -m bot check`, which fails when that file is stale. The
metrics endpoint runs beside the bot from here too, when it is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import discord

from bot.client import ImagineBot
from bot.metrics import watch_store
from core.metrics import serve_metrics
from core.settings import BotSettings

BEAT_SECONDS = 10.0
STALE_SECONDS = 60.0  # well past the few seconds discord.py takes to reconnect


def connected(client: discord.Client) -> bool:
    """Past READY, not closed, and the gateway socket open: discord.py keeps `is_ready()`
    set while it reconnects, so the socket is asked as well."""
    ws = client.ws
    return client.is_ready() and not client.is_closed() and ws is not None and ws.open


async def keep_fresh(client: discord.Client, path: Path, interval: float = BEAT_SECONDS) -> None:
    """Touches `path` every `interval` seconds while `client` is connected."""
    await client.wait_until_ready()
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        if connected(client):
            await asyncio.to_thread(path.touch)
        await asyncio.sleep(interval)


def check(path: Path, stale_after: float = STALE_SECONDS) -> int:
    """0 when the heartbeat file is fresh, else 1, with one sentence saying which."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        print(f"No heartbeat at {path}: the bot is not running or never connected.")
        return 1
    if age > stale_after:
        print(f"The bot's last heartbeat was {age:.0f} s ago: it is not connected to Discord.")
        return 1
    print(f"The bot is connected (heartbeat {age:.0f} s ago).")
    return 0


@contextlib.asynccontextmanager
async def monitoring(bot: ImagineBot, settings: BotSettings) -> AsyncIterator[None]:
    """While the bot runs: keeps its heartbeat file fresh and, when IMAGINE_METRICS_PORT
    is set, serves its metrics."""
    tasks = [asyncio.create_task(keep_fresh(bot, settings.heartbeat_file), name="heartbeat")]
    server = serve_metrics(settings)
    if server is not None:
        tasks.append(asyncio.create_task(_count_jobs(bot), name="metrics"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await asyncio.to_thread(server.shutdown)
            server.server_close()


async def _count_jobs(bot: ImagineBot) -> None:
    await bot.wait_until_ready()  # the store is opened while the bot logs in
    await watch_store(bot.store)
