"""A status message posted anew with the bot's token (the command stopped before noting
its message, and the interaction token has expired since) is posted once, even when the
bot dies between sending it and noting its id: the intent is noted first, the send
carries its nonce, and the restarted bot finds the message instead of sending another."""

import asyncio
from pathlib import Path

import pytest

from bot.ledger import Ledger
from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.faults.delivery_helpers import (
    ledger_row,
    open_sends,
    stuck_at,
    token_times_passed,
)
from tests.support.bot_stack import running_bot, running_worker
from tests.support.engines import StepEngine
from tests.support.waiting import wait_finished

pytestmark = pytest.mark.timeout(120)


def posted_by_the_bot(fake: FakeDiscord) -> list[FakeMessage]:
    """Messages sent with the bot's own token that are not replies."""
    return [m for m in fake.messages() if m.interaction_id is None and m.reference_id is None]


@pytest.mark.parametrize("history", ["readable", "hidden"])
@pytest.mark.parametrize("job", ["queued", "done"])
async def test_a_crash_between_posting_and_noting_a_status_message_posts_it_once(
    fake_discord: FakeDiscord, tmp_path: Path, job_store: SqliteJobStore, history: str, job: str
) -> None:
    """When the bot comes back the job is still queued (its status is taken up again),
    or done meanwhile (its result goes into the status message posted before)."""
    fake = fake_discord
    released = asyncio.Event()
    try:
        async with running_bot(fake, tmp_path) as first:
            first.ledger.set_status_message = stuck_at(released)  # type: ignore[method-assign]
            interaction = await fake.slash("imagine", {"prompt": "a kite", "steps": 3})
            await interaction.wait_original(lambda m: m.content.startswith("Queued"))
        token_times_passed(interaction, tmp_path / "bot.db")  # the status is posted anew
        with pytest.MonkeyPatch.context() as patch:  # before the bot's first sweep
            patch.setattr(Ledger, "set_status_message", stuck_at(released))
            async with running_bot(fake, tmp_path):
                [posted] = await fake.wait_for(lambda: posted_by_the_bot(fake))
        assert open_sends(tmp_path / "bot.db") == ["post"]  # sent, never noted
        if history == "hidden":
            fake.hide_history(fake.channel)  # then Discord's nonce check alone guards it
        if job == "done":
            async with running_worker(job_store, StepEngine()):
                await wait_finished(job_store, [str(interaction.id)])
        async with running_bot(fake, tmp_path) as third:
            await third.deliverer.sweep()
            assert open_sends(tmp_path / "bot.db") == []  # found, and noted this time
            async with running_worker(job_store, StepEngine()):
                await fake.wait_for(lambda: posted.attachments, 60)
                await fake.wait_for(lambda: fake.replies_to(posted))
                await third.deliverer.sync(str(interaction.id))  # after the one under way
    finally:
        released.set()
    assert posted_by_the_bot(fake) == [posted]  # the result went into the one posted
    assert sum(1 for v in posted.versions if v.get("attachments")) == 1
    assert ledger_row(tmp_path / "bot.db", str(interaction.id))["closed"] is True
    assert open_sends(tmp_path / "bot.db") == []
    nonces = [
        r.json["nonce"]
        for r in fake.requests
        if r.method == "POST"
        and r.path.startswith("/channels/")
        and "message_reference" not in r.json
    ]
    # Found in the history: not sent again. Else sent again with the same nonce, and
    # Discord (the fake, as Discord does within a few minutes) answered with the first.
    assert len(nonces) == (1 if history == "readable" else 2)
    assert len(set(nonces)) == 1
