"""Quotas, caps, tiers and exemptions through the fake Discord, with moderation's clock
moved by the test."""

import asyncio
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.moderation import settings
from tests.fake_discord import EPHEMERAL
from tests.moderation.helpers import (
    World,
    accepted,
    admin,
    answer,
    configure,
    delivered,
    imagine,
    settled,
)
from tests.support.engines import POISON

DAY = 86_400


def when(text: str) -> int:
    """The moment in a sentence's Discord timestamp (<t:...:R>)."""
    found = re.search(r"<t:(\d+):R>", text)
    assert found, text
    return int(found[1])


async def set_limits(world: World, **options: object) -> None:
    assert (await answer(await admin(world, "limits", options))).startswith("Saved.")


async def test_a_members_daily_images_run_out_then_come_back_after_24_hours(
    world: World,
) -> None:
    await set_limits(world, per_member=3)
    first = await imagine(world, "a boat", count=2)
    await delivered(first)
    started = world.clock.now
    assert await accepted(await imagine(world, "a boat"))
    refused = await answer(await imagine(world, "a boat", count=2))
    assert refused.startswith("You have 0 of your 3 images for today left, and this asks for 2.")
    assert abs(when(refused) - (started + DAY)) < 30  # when the first images turn a day old
    world.clock.advance(DAY + 60)
    assert await accepted(await imagine(world, "a boat", count=2))


async def test_a_refused_request_queues_nothing_and_uses_nothing(world: World) -> None:
    await set_limits(world, per_member=1)
    await delivered(await imagine(world, "one"))
    jobs_before = await world.stack.store.head()
    for _ in range(3):
        assert not await accepted(await imagine(world, "more"))
    assert await world.stack.store.head() == jobs_before
    mine = await answer(await world.fake.slash("quota"))
    assert mine.startswith("Your images today: 1 of 1, 0 left.")


async def test_calendar_days_start_at_midnight_in_the_servers_time_zone(world: World) -> None:
    await set_limits(world, per_member=1, day="calendar", timezone="Asia/Seoul")
    await delivered(await imagine(world, "dawn"))
    refused = await answer(await imagine(world, "dusk"))
    seoul = ZoneInfo("Asia/Seoul")
    today = datetime.fromtimestamp(world.clock.now, seoul).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=seoul) + timedelta(days=1)
    assert when(refused) == int(midnight.timestamp())
    world.clock.now = midnight.timestamp() + 1
    assert await accepted(await imagine(world, "dusk"))


async def test_a_time_zone_must_exist_and_a_day_be_one_of_the_choices(world: World) -> None:
    refused = await answer(await admin(world, "limits", {"timezone": "Mars/Olympus"}))
    assert refused.startswith("Mars/Olympus is not a time zone I know")
    refused = await answer(await admin(world, "limits", {"timezone": "../../etc/passwd"}))
    assert refused.startswith("../../etc/passwd is not a time zone I know")
    forged = await answer(await admin(world, "limits", {"day": "weekly"}))
    assert forged.startswith("Some options of this command were not understood")
    assert "a day is the last 24 hours" in await answer(await admin(world, "settings"))


@pytest.mark.parametrize(
    "name",
    [
        "Europe",  # a folder of the time zone database
        "America/Argentina",  # a folder inside it
        "zone.tab",  # one of its data files, which is no zone
        "Europe/" + "Berlin" * 60,  # longer than a file name may be
    ],
)
async def test_a_folder_or_an_overlong_name_is_refused_and_changes_nothing(
    world: World, name: str
) -> None:
    refused = await answer(await admin(world, "limits", {"timezone": name, "per_member": 5}))
    assert refused == (
        f"{name[:50]} is not a time zone I know; write one like Europe/Berlin or Asia/Seoul."
    )
    saved = await settings.load(world.stack.bot.moderation.db, int(world.a.guild.id))
    assert (saved.user_daily, saved.timezone) == (None, "UTC")


async def test_a_real_time_zone_is_saved(world: World) -> None:
    await set_limits(world, day="calendar", timezone="America/Argentina/Buenos_Aires")
    shown = await answer(await admin(world, "settings"))
    assert "a day starts at midnight (America/Argentina/Buenos_Aires)" in shown


async def test_the_whole_server_shares_its_daily_images(world: World) -> None:
    await set_limits(world, per_server=2)
    bob, eve = world.fake.add_user("bob"), world.fake.add_user("eve")
    await delivered(await imagine(world, "one", user=bob))
    await delivered(await imagine(world, "two", user=eve))
    refused = await answer(await imagine(world, "three"))
    assert refused.startswith("This server has 0 of its 2 images for today left")


async def test_a_cooldown_between_a_members_requests(world: World) -> None:
    await set_limits(world, cooldown=60)
    assert await accepted(await imagine(world, "first"))
    refused = await answer(await imagine(world, "second"))
    assert refused.startswith("You can ask again <t:")
    assert abs(when(refused) - (world.clock.now + 60)) <= 1
    other = world.fake.add_user("bob")
    assert await accepted(await imagine(world, "someone else", user=other))
    world.clock.advance(61)
    assert await accepted(await imagine(world, "second"))


async def test_jobs_waiting_at_once(world: World) -> None:
    await set_limits(world, waiting=1)
    world.stack.engine.step_seconds = 0.1
    slow = await imagine(world, "slow", steps=20)
    assert await accepted(slow)
    refused = await answer(await imagine(world, "fast"))
    assert refused.startswith("You have 1 job(s) waiting; this server allows 1 at once.")
    await delivered(slow)
    await settled(world)
    world.stack.engine.step_seconds = 0.0
    assert await accepted(await imagine(world, "fast"))


async def test_failed_and_canceled_jobs_give_their_images_back(world: World) -> None:
    await set_limits(world, per_member=2)
    failing = await imagine(world, f"a {POISON} prompt", count=2)
    await failing.wait_original(lambda m: m.content.startswith("This job failed"), 30)
    await settled(world)
    world.stack.engine.step_seconds = 0.05
    slow = await imagine(world, "slow", count=2, steps=100)
    status = await slow.wait_original(lambda m: m.content.startswith("Drawing: step"), 30)
    await world.fake.click(status, f"img:cancel:{slow.id}")
    await slow.wait_original(lambda m: m.content == "This job was canceled.", 30)
    await settled(world)
    world.stack.engine.step_seconds = 0.0
    await delivered(await imagine(world, "kept", count=2))
    assert not await accepted(await imagine(world, "over"))


async def test_caps_on_steps_count_and_size_say_the_cap(world: World) -> None:
    caps = await answer(await admin(world, "caps", {"steps": 10, "count": 2, "size": "128x128"}))
    assert "**Caps**: 10 steps · 2 image(s) per request · size 128x128" in caps
    cases = [
        ({"steps": 11}, "This server allows at most 10 steps."),
        ({"count": 3}, "This server allows at most 2 image(s) per request."),
        ({"size": "256x128"}, "This server allows images up to 128x128."),
    ]
    for options, sentence in cases:
        assert await answer(await imagine(world, "big", **options)) == sentence
    assert await accepted(await imagine(world, "small", steps=10, count=2, size="128x128"))
    cleared = await answer(await admin(world, "caps", {"steps": 0, "size": "none"}))
    assert "**Caps**: no limit steps · 2 image(s) per request · size no limit" in cleared
    bad = await answer(await admin(world, "caps", {"size": "huge"}))
    assert bad.startswith("Write the size as width x height")


async def test_a_tier_raises_a_roles_limits_and_an_exempt_role_has_none(world: World) -> None:
    await set_limits(world, per_member=1, cooldown=3600)
    shown = await answer(
        await admin(world, "tier set", {"role": world.patron, "per_member": 3, "cooldown": 0})
    )
    assert f"<@&{world.patron.id}>: 3 images per day, cooldown no limit" in shown
    patron = world.fake.add_user("patron")
    patron.roles.append(world.patron.id)
    for _ in range(3):
        assert await accepted(await imagine(world, "patronage", user=patron))
    assert "3 images for today" in await answer(await imagine(world, "more", user=patron))
    await configure(world, "exempt add", {"role": world.staff})
    staff = world.fake.add_user("staff")
    staff.roles.append(world.staff.id)
    for _ in range(3):
        assert await accepted(await imagine(world, "staff", user=staff, steps=50))
    assert await answer(await world.fake.slash("quota", user=staff)) == (
        "No limits apply to you in this server."
    )
    plain = world.fake.add_user("plain")
    assert await accepted(await imagine(world, "plain", user=plain))
    assert (await answer(await imagine(world, "again", user=plain))).startswith("You can ask")


async def test_quota_tells_a_member_what_is_left_and_when_more_comes(world: World) -> None:
    await set_limits(world, per_member=5, per_server=100, waiting=3)
    await delivered(await imagine(world, "two", count=2))
    await settled(world)
    shown = await answer(await world.fake.slash("quota"))
    lines = shown.splitlines()
    assert lines[0].startswith("Your images today: 2 of 5, 3 left. More free up <t:")
    assert lines[1].startswith("This server today: 2 of 100 images, 98 left.")
    assert lines[2] == "Here, a day is the last 24 hours."
    assert lines[3] == "Jobs waiting: 0 of 3."
    assert abs(when(lines[0]) - (world.clock.now + DAY)) < 30


async def test_fifty_requests_at_once_never_exceed_the_quota(world: World) -> None:
    await set_limits(world, per_member=5)
    requests = await asyncio.gather(*(imagine(world, f"race {i}") for i in range(50)))
    outcomes = await asyncio.gather(*(accepted(r) for r in requests))
    assert outcomes.count(True) == 5
    for refused in (r for r, ok in zip(requests, outcomes, strict=True) if not ok):
        assert refused.callback is not None
        assert refused.callback.data["flags"] & EPHEMERAL
    winners = [r for r, ok in zip(requests, outcomes, strict=True) if ok]
    await asyncio.gather(*(delivered(r) for r in winners))
    shown = await answer(await world.fake.slash("quota"))
    assert shown.startswith("Your images today: 5 of 5, 0 left.")


async def test_many_members_at_once_never_exceed_the_servers_quota(world: World) -> None:
    await set_limits(world, per_server=7)
    members = [world.fake.add_user(f"member{i}") for i in range(20)]
    requests = await asyncio.gather(*(imagine(world, "crowd", user=m) for m in members))
    outcomes = await asyncio.gather(*(accepted(r) for r in requests))
    assert outcomes.count(True) == 7
