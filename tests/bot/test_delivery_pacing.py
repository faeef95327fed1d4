"""How often the deliverer asks Discord again: what each error means, the backoff of one
delivery, and the budget of invalid requests for all of them. The real deliverer and
discord.py's HTTP client against the fake Discord, on a clock the test moves."""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.delivery import Deliverer
from bot.delivery.errors import Verdict, classify, is_invalid
from bot.delivery.pacing import (
    INVALID_REQUESTS_PER_MINUTE,
    Backoff,
    BudgetSpent,
    InvalidRequestBudget,
)
from bot.ledger import Delivery, Ledger
from core.store.sqlite import SqliteJobStore
from tests.fake_discord import FakeChannel, FakeDiscord
from tests.support.clock import FakeClock
from tests.support.jobs import new_job

pytestmark = pytest.mark.timeout(60)


@dataclass
class Rig:
    fake: FakeDiscord
    client: discord.Client
    deliverer: Deliverer
    store: SqliteJobStore
    ledger: Ledger
    clock: FakeClock
    released: list[str]


@pytest.fixture
async def rig(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Rig]:
    store = await SqliteJobStore.open(tmp_path / "jobs.db")
    ledger = await Ledger.open(tmp_path / "bot.db")
    client = discord.Client(intents=discord.Intents.none())
    await client.login(fake_discord.token)  # REST only: the deliverer needs no gateway
    clock, released = FakeClock(), []

    async def release(job_id: str) -> None:
        released.append(job_id)

    deliverer = Deliverer(
        client, store, ledger, retry_seconds=10.0, after_release=release, clock=clock, rng=lambda: 1
    )
    try:
        yield Rig(fake_discord, client, deliverer, store, ledger, clock, released)
    finally:
        await client.close()
        await ledger.close()
        await store.close()


async def canceled_job(rig: Rig, channel: FakeChannel) -> str:
    """A finished job (canceled while queued) whose delivery is open, with a status
    message in `channel` and no live interaction token: the bot token's route is used."""
    job = await rig.store.enqueue(new_job())
    await rig.store.cancel(job.id)
    message_id = 1 if rig.fake.channel_by_id(channel.id) is None else await posted(rig, channel)
    await rig.ledger.add(
        Delivery(
            job.id,
            int(channel.guild_id),
            int(channel.id),
            10,
            "en-US",
            int(rig.fake.application_id),
            "dead-token",
            0.0,
            8 << 20,
            message_id,
            None,
            time.time(),
        )
    )
    return job.id


async def posted(rig: Rig, channel: FakeChannel) -> int:
    """A status message of the bot's in `channel`."""
    message = await rig.client.get_partial_messageable(int(channel.id)).send("Queued")
    return message.id


def refused(rig: Rig, since: int) -> list[int]:
    return [r.status for r in rig.fake.requests[since:] if r.status >= 400]


class _Response:
    def __init__(self, status: int) -> None:
        self.status, self.reason = status, "Error"


def http_error(status: int, code: int) -> discord.HTTPException:
    response: Any = _Response(status)
    return discord.HTTPException(response, {"message": "error", "code": code})


@pytest.mark.parametrize(
    ("status", "code", "verdict"),
    [
        (429, 0, Verdict.TRANSIENT),
        (500, 0, Verdict.TRANSIENT),
        (503, 0, Verdict.TRANSIENT),
        (401, 50027, Verdict.TOKEN_DEAD),
        (404, 10015, Verdict.TOKEN_DEAD),
        (404, 10008, Verdict.MESSAGE_GONE),
        (413, 40005, Verdict.TOO_LARGE),
        (404, 10003, Verdict.UNREACHABLE),
        (404, 10004, Verdict.UNREACHABLE),
        (403, 50001, Verdict.UNREACHABLE),
        (403, 50013, Verdict.UNREACHABLE),
        (400, 50035, Verdict.REJECTED),
    ],
)
def test_discord_errors_are_told_apart(status: int, code: int, verdict: Verdict) -> None:
    assert classify(http_error(status, code)) is verdict


def test_a_dropped_connection_is_transient_and_not_an_invalid_request() -> None:
    assert classify(ConnectionResetError()) is Verdict.TRANSIENT
    assert not is_invalid(ConnectionResetError())
    assert is_invalid(http_error(403, 50001))
    assert not is_invalid(http_error(503, 0))


def test_the_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    clock, draws = FakeClock(0.0), iter([0.0, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    backoff = Backoff(10.0, clock, lambda: next(draws), cap=100.0)
    delays = [backoff.failed("job") for _ in range(7)]
    # Between half and all of 10, 20, 40, 80, then 100 at most.
    assert delays == [5.0, 20.0, 30.0, 80.0, 100.0, 100.0, 100.0]
    assert not backoff.due("job")
    clock.advance(100.0)
    assert backoff.due("job")
    backoff.clear("job")
    assert backoff.failed("job") == 10.0  # a success starts it over


def test_the_budget_refuses_once_spent_until_the_oldest_is_a_minute_old() -> None:
    clock = FakeClock(0.0)
    budget = InvalidRequestBudget(3, clock)
    budget.note(http_error(503, 0))  # not an invalid request: not counted
    budget.note(http_error(404, 10008))
    clock.advance(30)
    budget.note(http_error(403, 50001))
    assert not budget.spent
    with pytest.raises(BudgetSpent):
        budget.note(http_error(401, 50027))
    assert budget.spent
    clock.advance(29.9)
    assert budget.spent
    clock.advance(0.1)  # the first is a minute old
    assert not budget.spent


async def test_a_transient_error_is_retried_later_and_later(rig: Rig) -> None:
    job_id = await canceled_job(rig, rig.fake.channel)
    rule = rig.fake.fail_next("PATCH", r"/channels/\d+/messages/\d+$", 503, times=3)
    tries = []
    for _ in range(3):
        before = len(rig.fake.requests)
        await rig.deliverer.sweep()
        await rig.deliverer.sweep()  # at once again: backing off, nothing is sent
        tries.append(refused(rig, before))
        rig.clock.advance(10.0 * 2 ** (len(tries) - 1))  # rng 1: the whole delay
    assert tries == [[503], [503], [503]]
    assert rule.hits == 3
    await rig.deliverer.sweep()
    delivery = await rig.ledger.get(job_id)
    assert delivery is not None
    assert delivery.delivered_at is not None
    assert rig.fake.messages()[-1].content == "This job was canceled."


async def test_invalid_requests_never_pass_the_budget_however_many_deliveries_fail(
    rig: Rig,
) -> None:
    gone = rig.fake.add_channel(rig.fake.guild, "gone")
    rig.fake.remove_channel(gone)
    jobs = [await canceled_job(rig, gone) for _ in range(150)]
    per_minute = []
    for _ in range(4):
        before = len(rig.fake.requests)
        await rig.deliverer.sweep()
        rig.clock.advance(30.0)
        await rig.deliverer.sweep()  # half a minute on: the budget is still spent
        rig.clock.advance(30.0)
        per_minute.append(len(refused(rig, before)))
    assert per_minute == [INVALID_REQUESTS_PER_MINUTE, INVALID_REQUESTS_PER_MINUTE, 30, 0]
    assert await rig.ledger.pending() == []
    assert sorted(rig.released) == sorted(jobs)  # every job's images given back
