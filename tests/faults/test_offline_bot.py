"""`python -m bot` needs no internet beyond Discord: with no IMAGINE_VOCAB and an empty
cache it starts, says why /imagine cannot run yet, and takes CLIP's vocabulary from the
job store once a `python -m worker` process has shared it. The bot process runs with a
guard that refuses and reports every connection beyond this machine."""

import asyncio
from pathlib import Path

import pytest

from bot.i18n import t
from core.store.sqlite import SqliteJobStore
from core.vocab_share import ASSET
from tests.fake_discord import FakeDiscord
from tests.support import processes

pytestmark = pytest.mark.timeout(120)

GUARD = """
import ipaddress, socket, sys

_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo


def _local(host):
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return host in (None, "localhost")


def _refuse(what):
    print(f"OFFLINE GUARD refused {what!r}", file=sys.stderr, flush=True)
    raise OSError(f"offline: {what!r}")


def connect(sock, address):
    inet = sock.family in (socket.AF_INET, socket.AF_INET6)
    if inet and not _local(address[0]):
        _refuse(address)
    return _connect(sock, address)


def getaddrinfo(host, *args, **kwargs):
    if not _local(host):
        _refuse(host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
"""


async def log_says(path: Path, text: str, seconds: float = 30.0) -> None:
    async with asyncio.timeout(seconds):
        while text not in await asyncio.to_thread(path.read_text):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_the_bot_process_starts_offline_and_takes_the_workers_vocabulary(
    fake_discord: FakeDiscord, tmp_path: Path, job_store: SqliteJobStore
) -> None:
    fake = fake_discord
    env = processes.stack_env(tmp_path, IMAGINE_SYNC_GUILD=fake.guild.id, **fake.env())
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    bot_env = {
        **env,
        "IMAGINE_CACHE_DIR": str(tmp_path / "bot-cache"),  # empty
        "PYTHONPATH": f"{guard}:{env['PYTHONPATH']}",
    }
    del bot_env["IMAGINE_VOCAB"]
    bot_log = tmp_path / "bot.log"
    bot = await processes.start("bot", bot_env, bot_log)
    await fake.wait_for(lambda: fake.guild_commands.get(fake.guild.id), 60)
    refused = await fake.slash("imagine", {"prompt": "a lighthouse"})
    assert (await refused.wait_callback()).data["content"] == t("no_vocab", "en-US")

    worker = await processes.start("tests.support.fake_worker", env, tmp_path / "worker.log")
    await log_says(bot_log, "vocabulary a worker shared")  # within 10 s, with no command
    assert await job_store.asset(ASSET) is not None
    made = await fake.slash("imagine", {"prompt": "a lighthouse"})
    await made.wait_original(lambda m: bool(m.attachments), 60)
    assert await processes.stop(bot) == 0
    assert await processes.stop(worker) == 0
    text = bot_log.read_text()
    assert "OFFLINE GUARD" not in text
    assert "Traceback" not in text
