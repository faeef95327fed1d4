"""Quota accounting below Discord: reservations, the ledger's usage rows, windows, and
races between connections (as several bot processes on one file would race)."""

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.ledger import Delivery, Ledger
from bot.moderation import quotas, settings
from bot.moderation.db import ModerationDb
from bot.moderation.quotas import Limits, Request
from bot.moderation.settings import GuildSettings, Reset, Tier
from core.jobs import InvalidRequest, Job, JobParams, JobState

GUILD, OTHER_GUILD = 1, 2
NOW = 1_800_000_000.0


def request(job_id: str, user: int = 10, images: int = 1, guild: int = GUILD) -> Request:
    return Request(job_id, guild, user, images)


async def used(db: ModerationDb, server: GuildSettings, now: float, *, user: int = 10) -> int:
    async with db.reading() as conn:
        standing = await quotas.standing(conn, server, None, now, request("", user), by_user=True)
    return standing.used


def delivery(job_id: str, user: int = 10) -> Delivery:
    return Delivery(
        job_id, GUILD, 100, user, "en-US", 1, "token", NOW + 900, 8 << 20, None, None, NOW
    )


def job(job_id: str, images: int, user: int = 10) -> Job:
    params = JobParams(prompt="p", count=images)
    return Job(job_id, GUILD, 100, user, params, "en-US", JobState.DONE, 1, 3, NOW)


async def test_concurrent_reservations_from_many_connections_never_exceed_a_quota(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    connections = [await ModerationDb.open(path) for _ in range(6)]
    server = GuildSettings(guild_daily=10)

    async def attempt(i: int) -> str:
        db = connections[i % len(connections)]
        try:
            await quotas.reserve(db, request(f"job-{i}", user=i), server, None, NOW)
        except InvalidRequest as refused:
            return refused.key
        return "reserved"

    try:
        outcomes = await asyncio.gather(*(attempt(i) for i in range(60)))
        assert sorted(set(outcomes)) == ["mod_quota_guild", "reserved"]
        assert outcomes.count("reserved") == 10
        left = await connections[0].one("SELECT SUM(images) FROM mod_reservations")
        assert left is not None
        assert left[0] == 10
    finally:
        for db in connections:
            await db.close()


async def test_a_delivered_job_is_counted_once_and_a_failed_one_not_at_all(
    tmp_path: Path,
) -> None:
    ledger = await Ledger.open(tmp_path / "bot.db")
    db = await ModerationDb.open(tmp_path / "bot.db")
    server = GuildSettings(user_daily=10)
    limits = Limits(10, None, None)
    try:
        for job_id, images in (("made", 3), ("broke", 4)):
            await ledger.add(delivery(job_id))
            await quotas.reserve(db, request(job_id, images=images), server, limits, NOW)
        assert await used(db, server, NOW) == 7  # both in flight
        await ledger.mark_delivered("made", NOW + 5, usage=job("made", 3))
        assert await used(db, server, NOW + 5) == 7  # usage row now, reservation no more
        await ledger.mark_delivered("broke", NOW + 6)  # failed: no usage
        assert await used(db, server, NOW + 6) == 3
        await quotas.forget(db, "made")  # settling changes nothing counted
        assert await used(db, server, NOW + 6) == 3
    finally:
        await db.close()
        await ledger.close()


async def test_a_reservation_whose_delivery_was_never_noted_lapses_after_an_hour(
    tmp_path: Path,
) -> None:
    db = await ModerationDb.open(tmp_path / "bot.db")
    server = GuildSettings(user_daily=1)
    try:
        await quotas.reserve(db, request("lost"), server, Limits(1, None, None), NOW)
        with pytest.raises(InvalidRequest):
            await quotas.reserve(db, request("next"), server, Limits(1, None, None), NOW + 60)
        later = NOW + quotas.ORPHAN_SECONDS + 1
        await quotas.reserve(db, request("next"), server, Limits(1, None, None), later)
    finally:
        await db.close()


async def test_the_same_job_reserves_once(tmp_path: Path) -> None:
    db = await ModerationDb.open(tmp_path / "bot.db")
    server = GuildSettings(user_daily=2)
    try:
        for _ in range(3):
            await quotas.reserve(db, request("again"), server, Limits(2, None, None), NOW)
        assert await used(db, server, NOW) == 1
    finally:
        await db.close()


async def test_servers_count_apart(tmp_path: Path) -> None:
    db = await ModerationDb.open(tmp_path / "bot.db")
    server = GuildSettings(guild_daily=1)
    try:
        await quotas.reserve(db, request("a"), server, None, NOW)
        await quotas.reserve(db, request("b", guild=OTHER_GUILD), server, None, NOW)
        with pytest.raises(InvalidRequest):
            await quotas.reserve(db, request("c"), server, None, NOW)
    finally:
        await db.close()


def test_a_calendar_day_follows_the_time_zone_and_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29: clocks go from 02:00 to 03:00 in Berlin, so that day has 23 hours.
    noon = datetime(2026, 3, 29, 12, 0, tzinfo=berlin).timestamp()
    start, end = quotas.window(GuildSettings(reset=Reset.CALENDAR, timezone="Europe/Berlin"), noon)
    assert start == datetime(2026, 3, 29, tzinfo=berlin).timestamp()
    assert end == datetime(2026, 3, 30, tzinfo=berlin).timestamp()
    assert end is not None
    assert end - start == 23 * 3600
    assert quotas.window(GuildSettings(), noon) == (noon - quotas.DAY, None)


@pytest.mark.parametrize(
    ("tiers", "expected"),
    [
        ([], Limits(5, 60.0, 2)),
        ([Tier(1, user_daily=20)], Limits(20, 60.0, 2)),
        ([Tier(1, user_daily=20), Tier(2, user_daily=50, cooldown=10)], Limits(50, 10.0, 2)),
        ([Tier(1, user_daily=0, max_waiting=0)], Limits(None, 60.0, None)),  # 0: no limit
        ([Tier(1, user_daily=1, cooldown=600)], Limits(5, 60.0, 2)),  # never lower
        ([Tier(3, user_daily=99)], Limits(5, 60.0, 2)),  # a role the member lacks
    ],
)
def test_tiers_only_raise_limits_and_the_most_generous_wins(
    tiers: list[Tier], expected: Limits
) -> None:
    server = GuildSettings(user_daily=5, cooldown=60, max_waiting=2)
    assert quotas.limits_for(server, tiers, {1, 2}) == expected


async def test_settings_keep_their_values_per_server(tmp_path: Path) -> None:
    db = await ModerationDb.open(tmp_path / "bot.db")
    try:
        await settings.update(db, GUILD, user_daily=3, reset="calendar", timezone="Asia/Seoul")
        await settings.update(db, GUILD, guild_daily=9)
        mine = await settings.load(db, GUILD)
        assert (mine.user_daily, mine.guild_daily, mine.reset) == (3, 9, Reset.CALENDAR)
        assert await settings.load(db, OTHER_GUILD) == GuildSettings()
        with pytest.raises(ValueError, match="unknown settings"):
            await settings.update(db, GUILD, **{"user_daily = 1; --": 1})
    finally:
        await db.close()


async def test_asking_for_more_than_a_whole_days_images_says_the_most_one_may_ask(
    tmp_path: Path,
) -> None:
    db = await ModerationDb.open(tmp_path / "bot.db")
    try:
        with pytest.raises(InvalidRequest) as refused:
            await quotas.reserve(
                db, request("big", images=4), GuildSettings(), Limits(2, None, None), NOW
            )
        assert (refused.value.key, refused.value.values) == ("mod_cap_count", {"limit": 2})
    finally:
        await db.close()
