"""The real bot in this process against the fake Discord, and a real worker loop on the
same SQLite store (with the small engine), as async context managers for fixtures."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

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


def bot_settings(fake: FakeDiscord, tmp_path: Path, **extra: object) -> BotSettings:
    values: dict[str, object] = {
        "DISCORD_TOKEN": fake.token,
        "IMAGINE_STORE": f"sqlite:///{tmp_path / 'jobs.db'}",
        "IMAGINE_BOT_DB": tmp_path / "bot.db",
        "IMAGINE_VOCAB": write_test_vocab(tmp_path / "vocab.gz"),
        "IMAGINE_SIZES": SIZES,
        "IMAGINE_SYNC_GUILD": int(fake.guild.id),
        "IMAGINE_RETRY_SECONDS": 0.2,
        **extra,
    }
    return BotSettings(_env_file=None, **values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord, tmp_path: Path, **settings: object
) -> AsyncIterator[ImagineBot]:
    bot = ImagineBot(bot_settings(fake, tmp_path, **settings), guild_ready_timeout=0.1)
    async with run_client(bot, fake.token):
        await fake.wait_for(lambda: fake.guild_commands.get(fake.guild.id))
        yield bot


@contextlib.asynccontextmanager
async def running_worker(
    store: JobStore, engine: StepEngine, preview_seconds: float = 0.0
) -> AsyncIterator[Worker]:
    worker = Worker(
        store,
        engine,
        worker_id="w1",
        max_images=4,
        lease_seconds=30,
        preview_seconds=preview_seconds,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def full_stack(
    fake: FakeDiscord, tmp_path: Path, preview_seconds: float = 0.0, **settings: object
) -> AsyncIterator[Stack]:
    """Previews are off unless asked for: the tests that wait for the result look for
    the first message with an attachment. `settings` are the bot's (IMAGINE_...=...)."""
    store = await SqliteJobStore.open(tmp_path / "jobs.db")
    engine = StepEngine(step_seconds=0.01)
    try:
        async with (
            running_worker(store, engine, preview_seconds),
            running_bot(fake, tmp_path, **settings) as bot,
        ):
            yield Stack(fake, bot, store, engine, tmp_path / "bot.db")
    finally:
        await store.close()
