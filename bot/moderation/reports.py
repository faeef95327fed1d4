"""Who made how many images in one server: per day, top members, and a CSV of every job.
All read from the ledger's usage rows (delivered jobs), the same rows quotas count."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.moderation import settings
from bot.moderation.db import ModerationDb

TOP_USERS = 10
CSV_COLUMNS = (
    "job_id",
    "user_id",
    "channel_id",
    "images",
    "steps",
    "width",
    "height",
    "gpu_seconds",
    "requested_at",
    "delivered_at",
)


@dataclass(frozen=True)
class Usage:
    days: list[tuple[date, int]]  # every day of the period, oldest first, with its images
    top: list[tuple[int, int, int]]  # (user id, images, jobs), most images first
    images: int
    jobs: int
    members: int


async def usage(db: ModerationDb, guild_id: int, days: int, now: float, tz: str) -> Usage:
    """The last `days` calendar days (today included) in the server's time zone."""
    zone = settings.zone(tz)
    today = datetime.fromtimestamp(now, zone).date()
    first = today - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=zone).timestamp()
    found = await db.all(
        "SELECT user_id, images, requested_at FROM usage WHERE guild_id = ? AND requested_at >= ?",
        (guild_id, start),
    )
    per_day: Counter[date] = Counter()
    images: Counter[int] = Counter()
    jobs: Counter[int] = Counter()
    for user_id, count, at in found:
        per_day[datetime.fromtimestamp(at, zone).date()] += count
        images[user_id] += count
        jobs[user_id] += 1
    series = [(first + timedelta(days=i), per_day[first + timedelta(days=i)]) for i in range(days)]
    top = [(user, n, jobs[user]) for user, n in images.most_common(TOP_USERS)]
    return Usage(series, top, sum(images.values()), len(found), len(images))


async def export_csv(db: ModerationDb, guild_id: int, since: float) -> bytes:
    """Every delivered job of the server since `since`, one row each, times in UTC."""
    found = await db.all(
        f"SELECT {', '.join(CSV_COLUMNS)} FROM usage WHERE guild_id = ? AND requested_at >= ?"
        " ORDER BY requested_at",
        (guild_id, since),
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in found:
        values = list(row)
        values[-2:] = [_iso(values[-2]), _iso(values[-1])]
        writer.writerow(values)
    return out.getvalue().encode()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
