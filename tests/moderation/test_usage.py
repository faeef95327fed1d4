"""/imagine-admin usage (a chart and the numbers) and export (CSV)."""

import csv
import io

from PIL import Image

from tests.moderation.helpers import (
    World,
    admin,
    answer,
    delivered,
    eventually,
    imagine,
    usage_rows,
)


async def make_some_images(world: World) -> tuple[str, str]:
    ada, bob = world.fake.add_user("ada"), world.fake.add_user("bob")
    await delivered(await imagine(world, "three", user=ada, count=3))
    await delivered(await imagine(world, "one", user=bob))
    await eventually(lambda: usage_rows(world) == 2)
    return ada.id, bob.id


async def test_usage_is_a_chart_plus_the_numbers(world: World) -> None:
    ada, bob = await make_some_images(world)
    shown = await admin(world, "usage", {"days": 7})
    text = await answer(shown)
    assert text.splitlines() == [
        "Last 7 day(s): 4 image(s) in 2 job(s) by 2 member(s).",
        f"1. <@{ada}>: 3 image(s) in 1 job(s)",
        f"2. <@{bob}>: 1 image(s) in 1 job(s)",
    ]
    assert shown.original is not None
    [attachment] = shown.original.attachments
    assert attachment["filename"] == "usage-7d.png"
    chart = Image.open(io.BytesIO(shown.original.attachment_bytes(0)))
    assert chart.format == "PNG"
    assert chart.width >= 800


async def test_usage_of_a_quiet_server(world: World) -> None:
    text = await answer(await admin(world, "usage"))
    assert text == "No images were made in the last 30 day(s)."


async def test_export_is_one_csv_row_per_job(world: World) -> None:
    ada, bob = await make_some_images(world)
    shown = await admin(world, "export", {"days": 1})
    assert await answer(shown) == "Every job of the last 1 day(s), one row each (times in UTC)."
    assert shown.original is not None
    rows = list(csv.DictReader(io.StringIO(shown.original.attachment_bytes(0).decode())))
    assert [(r["user_id"], r["images"], r["steps"]) for r in rows] == [
        (ada, "3", "2"),
        (bob, "1", "2"),
    ]
    assert rows[0]["requested_at"].endswith("+00:00")
