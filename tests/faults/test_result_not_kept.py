"""A job done while the bot was away, whose result the store no longer keeps (results
are kept for a limited time): the member reads one sentence saying so, the delivery is
closed, and the images are not counted against the quota."""

import sqlite3
from pathlib import Path

import pytest

from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeDiscord
from tests.faults.delivery_helpers import ledger_row, queued_while_the_bot_runs
from tests.support.bot_stack import running_bot, running_worker
from tests.support.engines import StepEngine
from tests.support.waiting import wait_finished

pytestmark = pytest.mark.timeout(120)


async def test_a_result_no_longer_kept_is_said_and_the_delivery_closed(
    fake_discord: FakeDiscord, tmp_path: Path, job_store: SqliteJobStore
) -> None:
    fake = fake_discord
    interaction = await queued_while_the_bot_runs(fake, tmp_path)
    job_id = str(interaction.id)
    async with running_worker(job_store, StepEngine()):
        await wait_finished(job_store, [job_id])
    with sqlite3.connect(tmp_path / "jobs.db") as db:
        db.execute("DELETE FROM results WHERE job_id = ?", (job_id,))  # purged
    assert await job_store.result(job_id) is None
    async with running_bot(fake, tmp_path) as bot:
        final = await interaction.wait_original(lambda m: "no longer kept" in m.content, 30)
        await bot.deliverer.sweep()
    assert final.content == (
        "This job finished, but its pictures are no longer kept. Ask again to make new ones."
    )
    assert final.attachments == []
    assert final.components == []  # no buttons for pictures that are gone
    assert ledger_row(tmp_path / "bot.db", job_id) == {"closed": True, "usage": 0, "reserved": 0}
    assert fake.pings(fake.user) == []
