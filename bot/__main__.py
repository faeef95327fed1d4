"""`python -m bot`: connects to Discord and serves /imagine until stopped.
`python -m bot check`: exit 0 while the running bot is connected (health checks).
`python -m bot --help`: this, as usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import discord
import yarl

from bot import health
from bot.client import ImagineBot
from core.logs import setup_logging
from core.settings import BotHealthSettings, BotSettings, load

log = logging.getLogger("bot")
START_UP_SECONDS = 60.0  # the longest a stop waits for the start-up to finish


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
        await _start_up_done(bot, running)
        if running.done():
            _raise_for_login(running)
    await running


async def _start_up_done(bot: ImagineBot, running: asyncio.Task[None]) -> None:
    """A stop that comes while the bot logs in and sets up (opens its files, syncs the
    commands) waits for that to end: closing the bot under it fails the half-done start
    with a traceback, and a file it opens after the close keeps the process from exiting."""
    if bot.is_ready():
        return
    ready = asyncio.create_task(bot.wait_until_ready())
    await asyncio.wait(
        {ready, running}, timeout=START_UP_SECONDS, return_when=asyncio.FIRST_COMPLETED
    )
    ready.cancel()


def _raise_for_login(running: asyncio.Task[None]) -> None:
    try:
        running.result()
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN: check the token in your settings.")
        raise SystemExit(2) from None


def quiet_voice() -> None:
    """The bot never joins a voice channel: discord.py's start-up warnings that its voice
    libraries (PyNaCl, davey) are missing would only worry whoever reads the log."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False


def parse(args: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="The imagine-bot Discord bot: serves /imagine and delivers the pictures "
        "the workers make. Settings come from the environment and .env (DISCORD_TOKEN at "
        "least; see .env.example).",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["check"],
        help="check: exit 0 while the running bot is connected to Discord (health checks; "
        "needs no token)",
    )
    return parser.parse_args(args)


def main() -> None:
    command = parse(sys.argv[1:]).command  # before the settings: --help needs none
    if command == "check":  # the container's health check
        sys.exit(health.check(load(BotHealthSettings).heartbeat_file))
    settings = load(BotSettings)
    setup_logging(settings.log_level, secrets=[settings.token.get_secret_value()])
    point_at(settings)
    quiet_voice()
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
