"""The real bot, in this process, against the fake Discord, with a real worker loop on a
real SQLite store behind it (a small deterministic engine instead of the model)."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.client import ImagineBot
from core.settings import BotSettings
from core.store import JobStore
from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeDiscord, run_client
from tests.support.engines import StepEngine
from tests.support.vocab import write_test_vocab
from worker.loop import Worker

SIZES = "128x128,256x128"


@dataclass
class Stack:
    fake: FakeDiscord
    bot: ImagineBot
    store: JobStore
    engine: StepEngine
    bot_db: Path


def bot_settings(fake: FakeDiscord, tmp_path: Path) -> BotSettings:
    return BotSettings(
        _env_file=None,
        DISCORD_TOKEN=fake.token,
        IMAGINE_STORE=f"sqlite:///{tmp_path / 'jobs.db'}",
        IMAGINE_BOT_DB=tmp_path / "bot.db",
        IMAGINE_VOCAB=write_test_vocab(tmp_path / "vocab.gz"),
        IMAGINE_SIZES=SIZES,
        IMAGINE_SYNC_GUILD=int(fake.guild.id),
    )


@pytest.fixture
async def stack(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Stack]:
    settings = bot_settings(fake_discord, tmp_path)
    bot = ImagineBot(settings, guild_ready_timeout=0.1)
    store = await SqliteJobStore.open(tmp_path / "jobs.db")
    engine = StepEngine(step_seconds=0.01)
    worker = Worker(store, engine, worker_id="w1", max_images=4, lease_seconds=30)
    stop = asyncio.Event()
    worker_task = asyncio.create_task(worker.run(stop))
    async with run_client(bot, fake_discord.token):
        await fake_discord.wait_for(lambda: fake_discord.guild_commands.get(fake_discord.guild.id))
        yield Stack(fake_discord, bot, store, engine, tmp_path / "bot.db")
    stop.set()
    await asyncio.wait_for(worker_task, 10)
    await store.close()
