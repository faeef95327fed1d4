"""`python -m bot`: connects to Discord and serves /imagine until stopped.
`python -m bot check`: exit 0 while the running bot is connected (health checks).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import discord
import yarl

from bot import health
from bot.client import ImagineBot
from core.logs import setup_logging
from core.settings import BotSettings, load

log = logging.getLogger("bot")


def point_at(settings: BotSettings) -> None:
    """Sends REST and gateway traffic to the configured addresses (proxies, test servers)."""
    if settings.api_base:
        discord.http.Route.BASE = settings.api_base.rstrip("/")
    if settings.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


async def serve(settings: BotSettings) -> None:
    """Runs the bot until SIGTERM/SIGINT; then closes it in this task, so every file and
    connection is closed before the process exits."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with ImagineBot(settings) as bot, health.monitoring(bot, settings):
        running = asyncio.create_task(bot.start(settings.token.get_secret_value()))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if running.done():
            _raise_for_login(running)
        log.info("Stopping")
    await running


def _raise_for_login(running: asyncio.Task[None]) -> None:
    try:
        running.result()
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN: check the token in your settings.")
        raise SystemExit(2) from None


def main() -> None:
    settings = load(BotSettings)
    if sys.argv[1:] == ["check"]:  # the container's health check
        sys.exit(health.check(settings.heartbeat_file))
    setup_logging(settings.log_level, secrets=[settings.token.get_secret_value()])
    point_at(settings)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
