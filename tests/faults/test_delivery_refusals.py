"""Discord refusing for good, through the fake and the real bot: a status message deleted
by a moderator, a channel deleted, the bot's access or permissions taken away, the bot
removed from the server. The result goes in a new message where the bot can still
post; where it cannot, the delivery is closed at once, the images go back to the
quota, one line is logged, and Discord is not asked again."""

import io
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from core.jobs import JobState
from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeDiscord
from tests.faults.delivery_helpers import ledger_row, queued_while_the_bot_runs
from tests.support.bot_stack import Stack, running_bot, running_worker
from tests.support.engines import StepEngine
from tests.support.waiting import wait_finished, wait_jobs

pytestmark = pytest.mark.timeout(120)

Cut = Callable[[FakeDiscord], None]
CUTS: dict[str, Cut] = {
    "missing access": lambda fake: fake.deny(fake.channel, 50001),
    "missing permissions": lambda fake: fake.deny(fake.channel, 50013),
    "channel deleted": lambda fake: fake.remove_channel(fake.channel),
    "bot removed from the server": lambda fake: fake.kick_bot(fake.guild),
}


def refusals(fake: FakeDiscord, since: int = 0) -> list[str]:
    return [f"{r.method} {r.status}" for r in fake.requests[since:] if r.status >= 400]


def one_line_about(caplog: pytest.LogCaptureFixture, job_id: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith("bot.delivery") and job_id in r.getMessage() and r.levelno >= 30
    ]


async def test_a_deleted_status_message_gets_the_result_in_a_new_message(stack: Stack) -> None:
    fake = stack.fake
    stack.engine.step_seconds = 0.05
    interaction = await fake.slash("imagine", {"prompt": "a fox", "steps": 60, "size": "256x128"})
    status = await interaction.wait_original(lambda m: m.content.startswith("Drawing"))
    await fake.delete_message(status)  # a moderator
    [result] = await fake.wait_for(lambda: [m for m in fake.messages() if m.attachments], 60)
    await stack.bot.deliverer.sync(str(interaction.id))  # waits for the one under way
    with Image.open(io.BytesIO(result.attachment_bytes(0))) as grid:
        assert grid.size == (256, 128)
    assert result.interaction_id is None  # posted with the bot's token
    assert fake.pings(fake.user) == [result]  # a new message's mention notifies: no reply
    assert result.allowed_mentions == {"parse": [], "users": [int(fake.user.id)]}
    assert len(refusals(fake)) == 1  # the one edit that found the message gone
    assert ledger_row(stack.bot_db, str(interaction.id)) == {
        "closed": True,
        "usage": 1,
        "reserved": 0,
    }


@pytest.mark.parametrize("cut", CUTS)
async def test_a_channel_out_of_reach_stops_a_running_job_and_gives_its_images_back(
    stack: Stack, cut: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = stack.fake
    stack.engine.step_seconds = 0.05
    interaction = await fake.slash("imagine", {"prompt": "a fox", "steps": 100})
    await interaction.wait_original(lambda m: m.content.startswith("Drawing"))
    interaction.expire()  # the bot's own token is all that is left
    since = len(fake.requests)
    CUTS[cut](fake)
    job_id = str(interaction.id)
    [job] = await wait_jobs(stack.store, [job_id], lambda jobs: jobs[0].state.finished)
    assert job.state is JobState.CANCELED  # nobody could be shown what it makes
    for _ in range(3):
        await stack.bot.deliverer.sweep()
    assert ledger_row(stack.bot_db, job_id) == {"closed": True, "usage": 0, "reserved": 0}
    assert len(refusals(fake, since)) <= 2  # the token's 401 and the channel's refusal
    [line] = one_line_about(caplog, job_id)
    assert "undelivered" in line.getMessage()
    assert line.exc_info is None  # one line, no traceback


@pytest.mark.parametrize("cut", CUTS)
async def test_a_result_that_cannot_be_posted_is_closed_after_one_try(
    fake_discord: FakeDiscord,
    tmp_path: Path,
    job_store: SqliteJobStore,
    cut: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Done while the bot was stopped; when it comes back, Discord refuses everything."""
    fake = fake_discord
    interaction = await queued_while_the_bot_runs(fake, tmp_path)
    job_id = str(interaction.id)
    async with running_worker(job_store, StepEngine()):
        await wait_finished(job_store, [job_id])
    interaction.expire()
    CUTS[cut](fake)
    since = len(fake.requests)
    caplog.clear()
    async with running_bot(fake, tmp_path) as bot:
        for _ in range(5):  # the sweeps of the retry loop
            await bot.deliverer.sweep()
    assert ledger_row(tmp_path / "bot.db", job_id) == {"closed": True, "usage": 0, "reserved": 0}
    assert len(refusals(fake, since)) <= 2
    assert [r.exc_info for r in one_line_about(caplog, job_id)] == [None]
