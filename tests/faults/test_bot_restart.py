"""The bot process stopped and started again while jobs are queued, running, and
finished but not delivered: every result arrives after the restart, exactly once."""

import asyncio
from pathlib import Path

import pytest

from core.jobs import JobState
from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeDiscord
from tests.support import processes
from tests.support.bot_stack import running_bot, running_worker
from tests.support.engines import StepEngine
from tests.support.waiting import states, wait_jobs

pytestmark = pytest.mark.timeout(300)


async def test_results_arrive_once_across_a_bot_restart(
    fake_discord: FakeDiscord, tmp_path: Path, job_store: SqliteJobStore
) -> None:
    store = job_store
    fake = fake_discord
    env = processes.stack_env(
        tmp_path,
        IMAGINE_SYNC_GUILD=fake.guild.id,
        IMAGINE_MAX_BATCH="1",
        TEST_STEP_SECONDS="0.1",
        **fake.env(),
    )
    bot = await processes.start("bot", env, tmp_path / "bot.log")
    await fake.wait_for(lambda: fake.guild_commands.get(fake.guild.id), 60)
    steps = [5, 20, 20]  # done while the bot is down, running, still queued
    interactions = [
        await fake.slash("imagine", {"prompt": f"job {n}", "steps": s}) for n, s in enumerate(steps)
    ]
    for interaction in interactions:
        await interaction.wait_original(lambda m: m.content.startswith("Queued"))
    assert await processes.stop(bot) == 0

    worker = await processes.start("tests.support.fake_worker", env, tmp_path / "worker.log")
    ids = [str(i.id) for i in interactions]
    await wait_jobs(store, ids, states(JobState.DONE, JobState.RUNNING, JobState.QUEUED))
    assert not any(i.original.attachments for i in interactions)  # type: ignore[union-attr]

    bot = await processes.start("bot", env, tmp_path / "bot.log")
    finals = [await i.wait_original(lambda m: bool(m.attachments), 120) for i in interactions]
    await fake.wait_for(lambda: all(fake.replies_to(m) for m in finals), 30)
    assert await processes.stop(bot) == 0
    assert await processes.stop(worker) == 0
    deliveries = [sum(1 for v in m.versions if v.get("attachments")) for m in finals]
    assert deliveries == [1, 1, 1]
    assert all(i.followups == [] for i in interactions)
    assert [len(fake.replies_to(m)) for m in finals] == [1, 1, 1]
    assert len(fake.messages()) == 6  # three results, each with its one notification


async def test_a_bot_stopped_before_noting_its_status_message_still_delivers(
    fake_discord: FakeDiscord, tmp_path: Path, job_store: SqliteJobStore
) -> None:
    fake = fake_discord
    stuck = asyncio.Event()

    async def never_noted(job_id: str, message_id: int) -> None:
        await stuck.wait()  # the process "dies" here: the status message is never noted

    try:
        async with running_bot(fake, tmp_path) as first:
            first.ledger.set_status_message = never_noted  # type: ignore[method-assign]
            interaction = await fake.slash("imagine", {"prompt": "a kite", "steps": 3})
            await interaction.wait_original(lambda m: m.content.startswith("Queued"))
        async with running_bot(fake, tmp_path), running_worker(job_store, StepEngine()):
            final = await interaction.wait_original(lambda m: bool(m.attachments), 30)
            await fake.wait_for(lambda: fake.replies_to(final))
    finally:
        stuck.set()
    assert sum(1 for v in final.versions if v.get("attachments")) == 1
    assert len(fake.messages()) == 2  # the result and its notification


async def test_buttons_on_messages_from_before_a_restart_still_work(
    fake_discord: FakeDiscord, tmp_path: Path, job_store: SqliteJobStore
) -> None:
    fake = fake_discord
    async with running_worker(job_store, StepEngine()):
        async with running_bot(fake, tmp_path):
            interaction = await fake.slash("imagine", {"prompt": "an old photo", "count": 2})
            old = await interaction.wait_original(lambda m: bool(m.attachments), 30)
        async with running_bot(fake, tmp_path):
            full = await fake.click(old, f"img:full:{interaction.id}:0")
            assert (await full.wait_callback()).files
            reroll = await fake.click(old, f"img:reroll:{interaction.id}")
            await reroll.wait_original(lambda m: bool(m.attachments), 30)
