"""/imagine-admin usage (a chart and the numbers) and export (CSV)."""

import csv
import io

import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.i18n import t
from bot.moderation import charts
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


@pytest.mark.parametrize("locale", ["zh-CN", "ko"])
async def test_the_chart_titles_are_drawn_in_chinese_and_korean_letters_not_boxes(
    world: World, locale: str
) -> None:
    font_file = charts.cjk_font_file()
    assert font_file is not None, "no CJK font here: apt install fonts-wqy-microhei (.ci/run does)"
    font = ImageFont.truetype(font_file, charts.FONT_SIZE)
    title = t("chart_per_day", locale, timezone="UTC")
    # The font has every letter of the title: none is drawn as its missing-letter box.
    missing = font.getmask("\uffff")  # a noncharacter: no font has it
    for letter in title:
        assert bytes(font.getmask(letter)) != bytes(missing), letter
    shown = await admin(world, "usage", locale=locale)
    await shown.wait_callback()
    assert shown.original is not None
    chart = Image.open(io.BytesIO(shown.original.attachment_bytes(0))).convert("RGB")
    band = (0, 0, charts.WIDTH, charts.MARGIN)  # the first title, above the bars
    drawn = chart.crop(band).tobytes()
    assert drawn == title_band(chart.size, title, font)  # the font's own letters
    assert drawn != title_band(chart.size, title, ImageFont.load_default(charts.FONT_SIZE))


def title_band(
    size: tuple[int, int], title: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont
) -> bytes:
    """What the chart's title band is when `font` draws `title` there."""
    image = Image.new("RGB", size, charts.BACKGROUND)
    ImageDraw.Draw(image).text((charts.MARGIN, 10), title, fill=charts.INK, font=font)
    return image.crop((0, 0, charts.WIDTH, charts.MARGIN)).tobytes()
