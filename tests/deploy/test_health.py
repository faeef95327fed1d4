"""The bot's health check, which docker compose runs: fresh while the bot is connected to
Discord, stale once it is not; and its metrics endpoint, as a process serves it."""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import health
from bot.client import ImagineBot
from tests.deploy.metrics import free_port, key, scrape
from tests.fake_discord import FakeDiscord, run_client
from tests.support import processes
from tests.support.bot_stack import bot_settings

pytestmark = pytest.mark.timeout(120)


def test_check_tells_fresh_from_stale_and_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    beat = tmp_path / "bot.heartbeat"
    assert health.check(beat) == 1
    assert "the bot is not running or never connected" in capsys.readouterr().out
    beat.touch()
    assert health.check(beat) == 0
    assert capsys.readouterr().out == "The bot is connected (heartbeat 0 s ago).\n"
    old = time.time() - health.STALE_SECONDS - 5
    os.utime(beat, (old, old))
    assert health.check(beat) == 1
    assert "it is not connected to Discord" in capsys.readouterr().out


async def test_the_heartbeat_is_kept_only_while_connected(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    beat = tmp_path / "health" / "bot.heartbeat"
    bot = ImagineBot(bot_settings(fake_discord, tmp_path), guild_ready_timeout=0.1)
    assert not health.connected(bot)
    async with run_client(bot, fake_discord.token):
        assert health.connected(bot)
        beating = asyncio.create_task(health.keep_fresh(bot, beat, interval=0.05))
        await processes.wait_path(beat, 10)
        assert not beating.done()
    assert not health.connected(bot)
    touched = beat.stat().st_mtime
    await asyncio.sleep(0.2)
    assert beat.stat().st_mtime == touched  # closed: no more heartbeats
    beating.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await beating


def run_check(env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check"], env=env, capture_output=True, text=True
    )
    return done.returncode, done.stdout + done.stderr


async def test_python_m_bot_check_follows_the_running_bot(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    port = free_port()
    env = processes.stack_env(
        tmp_path,
        IMAGINE_SYNC_GUILD=fake_discord.guild.id,
        IMAGINE_BOT_HEARTBEAT_FILE=str(tmp_path / "bot.heartbeat"),
        IMAGINE_METRICS_PORT=str(port),
        **fake_discord.env(),
    )
    assert run_check(env)[0] == 1  # not started yet
    bot = await processes.start("bot", env, tmp_path / "bot.log")
    try:
        await processes.wait_path(tmp_path / "bot.heartbeat")
        code, text = await asyncio.to_thread(run_check, env)
        assert (code, text.startswith("The bot is connected (heartbeat")) == (0, True), text
        samples = await asyncio.to_thread(scrape, f"http://127.0.0.1:{port}/metrics")
        assert key("imagine_jobs", {"state": "queued"}) in samples
        assert "imagine_delivery_retries_total" in samples
    finally:
        assert await processes.stop(bot) == 0
    old = time.time() - health.STALE_SECONDS - 5
    os.utime(tmp_path / "bot.heartbeat", (old, old))
    code, text = await asyncio.to_thread(run_check, env)
    assert code == 1
    assert "not connected to Discord" in text
