"""`python -m bot` and `python -m worker` from the command line: usage for --help, a
health check that needs no token, and a start-up log without voice warnings."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_discord import FakeDiscord
from tests.support import processes

pytestmark = pytest.mark.timeout(120)
DOCS = [processes.REPO / "README.md", processes.REPO / "docs" / "self-hosting.md"]


def run(
    module: str, *args: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args], env=env, cwd=cwd, capture_output=True, text=True
    )


@pytest.mark.parametrize("module", ["bot", "worker"])
def test_help_prints_usage_without_any_setting(tmp_path: Path, module: str) -> None:
    env = processes.stack_env(tmp_path)  # no DISCORD_TOKEN
    done = run(module, "--help", env=env, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith(f"usage: python -m {module} [-h] [{{check}}]\n")
    assert "check" in done.stdout
    assert done.stderr == ""


@pytest.mark.parametrize("module", ["bot", "worker"])
def test_an_unknown_command_is_refused_with_the_usage(tmp_path: Path, module: str) -> None:
    done = run(module, "chek", env=processes.stack_env(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert f"usage: python -m {module}" in done.stderr
    assert "invalid choice: 'chek'" in done.stderr


def test_bot_check_needs_no_token(tmp_path: Path) -> None:
    beat = tmp_path / "bot.heartbeat"
    env = processes.stack_env(tmp_path, IMAGINE_BOT_HEARTBEAT_FILE=str(beat))
    done = run("bot", "check", env=env, cwd=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (
        1,
        f"No heartbeat at {beat}: the bot is not running or never connected.",
    )
    beat.touch()
    done = run("bot", "check", env=env, cwd=tmp_path)
    assert done.returncode == 0
    assert re.fullmatch(r"The bot is connected \(heartbeat \d+ s ago\)\.\n", done.stdout)


async def test_the_bot_starts_without_voice_warnings_and_syncs_what_the_docs_say(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    env = processes.stack_env(tmp_path, **fake_discord.env())
    log = tmp_path / "bot.log"
    bot = await processes.start("bot", env, log)
    async with asyncio.timeout(60):
        while "Connected as" not in log.read_text():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert await processes.stop(bot) == 0
    text = log.read_text()
    assert "voice will NOT be supported" not in text
    assert " WARNING " not in text
    [synced] = re.findall(r"Synced (\d+) command\(s\)", text)
    names = sorted(command["name"] for command in fake_discord.global_commands)
    assert names == ["history", "imagine", "imagine-admin", "queue", "quota"]
    assert synced == str(len(names))
    for doc in DOCS:
        assert set(re.findall(r"Synced (\d+) command\(s\)", doc.read_text())) == {synced}, doc


async def test_sigterm_during_start_up_stops_the_bot_cleanly(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    # A stop while the bot syncs its commands (its files already open): `docker compose
    # stop` or Ctrl+C right after a start. It waits for the start-up, then closes.
    sync = fake_discord.hold_next("PUT", r"/commands$")
    env = processes.stack_env(tmp_path, **fake_discord.env())
    log = tmp_path / "bot.log"
    bot = await processes.start("bot", env, log)
    await asyncio.wait_for(sync.arrived.wait(), 60)
    bot.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        while "INFO bot: Stopping" not in log.read_text():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    sync.release.set()
    assert await asyncio.wait_for(bot.wait(), 30) == 0
    assert "Traceback" not in log.read_text()
