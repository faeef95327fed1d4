"""The requester is told their result is ready: a mention edited into a message notifies
nobody on Discord, so the bot replies to the result with a mention of that one member.
Once: never a second reply after a crash and a restart, and never the grid twice."""

import asyncio
from pathlib import Path

import pytest

from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeDiscord
from tests.faults.delivery_helpers import ledger_row, open_sends, stuck_at
from tests.support.bot_stack import Stack, running_bot, running_worker
from tests.support.engines import StepEngine

pytestmark = pytest.mark.timeout(120)


async def test_the_requester_gets_one_reply_that_pings_only_them(stack: Stack) -> None:
    fake = stack.fake
    bystander = fake.add_user("bob")
    interaction = await fake.slash(
        "imagine", {"prompt": f"a fox for @everyone and <@{bystander.id}>", "count": 2}
    )
    result = await interaction.wait_original(lambda m: bool(m.attachments), 60)
    [reply] = await fake.wait_for(lambda: fake.replies_to(result))
    await stack.bot.deliverer.sync(str(interaction.id))  # the delivery is closed after it
    assert fake.pings(fake.user) == [reply]
    assert [m for m in fake.messages() if m.pinged] == [reply]  # nobody else, no @everyone
    assert reply.allowed_mentions == {"parse": [], "users": [int(fake.user.id)]}
    assert reply.content == f"<@{fake.user.id}> your picture is ready."
    assert reply.attachments == []  # the grid is in the result alone, once
    assert sum(1 for v in result.versions if v.get("attachments")) == 1
    assert ledger_row(stack.bot_db, str(interaction.id))["closed"] is True


async def test_a_reply_is_in_the_requesters_language(stack: Stack) -> None:
    interaction = await stack.fake.slash("imagine", {"prompt": "a fox"}, locale="ko")
    result = await interaction.wait_original(lambda m: bool(m.attachments), 60)
    [reply] = await stack.fake.wait_for(lambda: stack.fake.replies_to(result))
    assert reply.content == f"<@{stack.fake.user.id}> 요청하신 그림이 완성되었습니다."


@pytest.mark.parametrize("history", ["readable", "hidden"])
async def test_no_second_reply_after_a_crash_before_the_first_was_noted(
    fake_discord: FakeDiscord, tmp_path: Path, job_store: SqliteJobStore, history: str
) -> None:
    """Readable history: the restarted bot finds its reply among the channel's messages.
    Hidden: it sends again with the same nonce, and Discord answers with the first."""
    fake = fake_discord
    released = asyncio.Event()
    try:
        async with running_worker(job_store, StepEngine()):
            async with running_bot(fake, tmp_path) as first:
                first.ledger.mark_notified = stuck_at(released)  # type: ignore[method-assign]
                interaction = await fake.slash("imagine", {"prompt": "a kite"})
                await fake.wait_for(lambda: fake.pings(fake.user), 60)
            assert open_sends(tmp_path / "bot.db") == ["notify"]  # sent, never noted
            if history == "hidden":
                fake.hide_history(fake.channel)
            async with running_bot(fake, tmp_path) as second:
                await second.deliverer.sweep()
                await second.deliverer.sync(str(interaction.id))
    finally:
        released.set()
    [ping] = fake.pings(fake.user)
    assert ping.content == f"<@{fake.user.id}> your picture is ready."
    assert ledger_row(tmp_path / "bot.db", str(interaction.id)) == {
        "closed": True,
        "usage": 1,
        "reserved": 0,
    }
    assert len([m for m in fake.messages() if m.attachments]) == 1
    nonces = [
        r.json["nonce"]
        for r in fake.requests
        if r.method == "POST" and r.json and r.json.get("message_reference")
    ]
    # Found in the history: not sent again. Else sent again with the first one's nonce.
    assert len(nonces) == (1 if history == "readable" else 2)
    assert len(set(nonces)) == 1


async def test_a_restart_after_the_delivery_sends_nothing(
    fake_discord: FakeDiscord, tmp_path: Path, job_store: SqliteJobStore
) -> None:
    fake = fake_discord
    async with running_worker(job_store, StepEngine()), running_bot(fake, tmp_path) as bot:
        interaction = await fake.slash("imagine", {"prompt": "a kite"})
        result = await interaction.wait_original(lambda m: bool(m.attachments), 60)
        await fake.wait_for(lambda: fake.replies_to(result))
        await bot.deliverer.sync(str(interaction.id))
    sent = len(fake.requests)
    async with running_bot(fake, tmp_path) as again:
        await again.deliverer.sweep()
    assert not [r for r in fake.requests[sent:] if "/messages" in r.path]
    assert len(fake.pings(fake.user)) == 1
