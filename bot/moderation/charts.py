"""The usage chart: images per day and the top members, as bars drawn with Pillow."""

from __future__ import annotations

import io
from datetime import date

from PIL import Image, ImageDraw, ImageFont

WIDTH, PANEL_HEIGHT, MARGIN = 900, 300, 40
BACKGROUND, INK, FAINT = (43, 45, 49), (219, 222, 225), (90, 94, 102)  # Discord's dark theme
DAY_BAR, USER_BAR = (88, 101, 242), (87, 242, 135)


def usage_chart(
    days: list[tuple[date, int]], top: list[tuple[str, int]], titles: tuple[str, str]
) -> bytes:
    """A PNG: vertical bars of images per day, then horizontal bars for the top members
    (`top` holds their labels and images)."""
    height = PANEL_HEIGHT + (MARGIN * 2 + 26 * max(len(top), 1))
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    _per_day(draw, font, days, titles[0])
    _top_users(draw, font, top, titles[1], top_y=PANEL_HEIGHT)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _per_day(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    days: list[tuple[date, int]],
    title: str,
) -> None:
    draw.text((MARGIN, 10), title, fill=INK, font=font)
    left, right, top, bottom = MARGIN, WIDTH - MARGIN, MARGIN + 16, PANEL_HEIGHT - MARGIN
    draw.line([(left, bottom), (right, bottom)], fill=FAINT)
    highest = max((n for _, n in days), default=0) or 1
    slot = (right - left) / max(len(days), 1)
    label_every = max(1, len(days) // 10)  # about ten date labels, whatever the period
    for i, (day, images) in enumerate(days):
        x0 = left + i * slot + slot * 0.15
        x1 = left + (i + 1) * slot - slot * 0.15
        y0 = bottom - (bottom - top) * images / highest
        if images:
            draw.rectangle([(x0, y0), (x1, bottom)], fill=DAY_BAR)
            draw.text(((x0 + x1) / 2, y0 - 2), str(images), fill=INK, font=font, anchor="md")
        if i % label_every == 0:
            draw.text(
                ((x0 + x1) / 2, bottom + 4),
                day.strftime("%m-%d"),
                fill=FAINT,
                font=font,
                anchor="ma",
            )


def _top_users(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    top: list[tuple[str, int]],
    title: str,
    top_y: int,
) -> None:
    draw.text((MARGIN, top_y + 10), title, fill=INK, font=font)
    left, right = MARGIN + 160, WIDTH - MARGIN - 60  # labels on the left, counts on the right
    highest = max((n for _, n in top), default=0) or 1
    for i, (label, images) in enumerate(top):
        y = top_y + MARGIN + i * 26
        draw.text((MARGIN, y + 10), label[:20], fill=INK, font=font, anchor="lm")
        x1 = left + (right - left) * images / highest
        draw.rectangle([(left, y + 2), (max(x1, left + 2), y + 20)], fill=USER_BAR)
        draw.text((x1 + 6, y + 10), str(images), fill=INK, font=font, anchor="lm")
