"""`python -m tests.faults.retry_rate`: how often the bot asks Discord again for one job
whose result cannot be delivered as it was asked: its status message deleted by a
moderator, or its channel closed to the bot (after the interaction token expired).

The real bot (in this process) against the fake Discord, with a real worker loop;
counts the requests the fake receives for the job after the bot starts, over a window
of real time. Prints one line per scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from bot.client import ImagineBot
from core.store.sqlite import SqliteJobStore
from tests.fake_discord import (
    FakeDiscord,
    FakeInteraction,
    RequestRecord,
    point_discord_py_at,
    run_client,
)
from tests.faults.delivery_helpers import queued_while_the_bot_runs, token_times_passed
from tests.support.bot_stack import bot_settings, running_worker
from tests.support.engines import StepEngine
from tests.support.waiting import wait_finished


async def message_deleted(fake: FakeDiscord, interaction: FakeInteraction, bot_db: Path) -> None:
    assert interaction.original is not None
    await fake.delete_message(interaction.original)


async def channel_closed(fake: FakeDiscord, interaction: FakeInteraction, bot_db: Path) -> None:
    token_times_passed(interaction, bot_db)
    fake.deny(fake.channel, 50001)


SCENARIOS: dict[str, Callable[[FakeDiscord, FakeInteraction, Path], Awaitable[None]]] = {
    "status message deleted": message_deleted,
    "channel closed to the bot": channel_closed,
}


@contextlib.asynccontextmanager
async def bot_with(fake: FakeDiscord, tmp: Path, retry_seconds: float) -> AsyncIterator[None]:
    settings = bot_settings(fake, tmp, IMAGINE_RETRY_SECONDS=retry_seconds)
    async with run_client(ImagineBot(settings, guild_ready_timeout=0.1), fake.token):
        yield


async def measure(name: str, seconds: float, retry_seconds: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        async with FakeDiscord() as fake:
            with point_discord_py_at(fake):
                interaction = await queued_while_the_bot_runs(fake, tmp)
                store = await SqliteJobStore.open(tmp / "jobs.db")
                try:
                    async with running_worker(store, StepEngine()):
                        await wait_finished(store, [str(interaction.id)])
                finally:
                    await store.close()
                await SCENARIOS[name](fake, interaction, tmp / "bot.db")
                since = len(fake.requests)
                async with bot_with(fake, tmp, retry_seconds):
                    await asyncio.sleep(seconds / 2)  # a measurement over real time
                    halfway = len(fake.requests)
                    await asyncio.sleep(seconds / 2)
                first = refused(fake.requests[since:halfway])
                second = refused(fake.requests[halfway:])
    print(
        f"{name} (IMAGINE_RETRY_SECONDS={retry_seconds:g}): {first + second} requests refused"
        f" in {seconds:.0f} s; in its second half {second * 120.0 / seconds:.0f} a minute"
    )


def refused(requests: list[RequestRecord]) -> int:
    return sum(1 for r in requests if "/messages" in r.path and r.status >= 400)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--retry-seconds", type=float, default=1.0)
    args = parser.parse_args()
    for name in SCENARIOS:
        asyncio.run(measure(name, args.seconds, args.retry_seconds))


if __name__ == "__main__":
    main()
