"""The usage chart: images per day and the top members, as bars drawn with Pillow.

Its titles are in the moderator's language and its labels are members' names, so it is
drawn with a font that has Chinese, Japanese and Korean letters: Pillow's own has only
Latin ones, and draws the others as empty boxes. The bot's Docker image installs one
(Debian's fonts-wqy-microhei, 5 MB); elsewhere the first of CJK_FONTS found is used,
else one fontconfig says covers both Chinese and Korean. No maintained font package on
PyPI fills in: without any of these, the chart says so in the log once and keeps
Pillow's font.
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import subprocess
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian, Ubuntu: fonts-wqy-microhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian, Ubuntu: fonts-noto-cjk
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",  # macOS
)
FONT_SIZE = 14
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
    font = chart_font()
    _per_day(draw, font, days, titles[0])
    _top_users(draw, font, top, titles[1], top_y=PANEL_HEIGHT)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def chart_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = cjk_font_file()
    if path is None:
        return ImageFont.load_default(size=FONT_SIZE)
    return ImageFont.truetype(path, FONT_SIZE)


@functools.cache
def cjk_font_file() -> str | None:
    """A font file with Chinese, Japanese and Korean letters, or None (said once)."""
    found = next((path for path in CJK_FONTS if Path(path).is_file()), None)
    found = found or _fontconfig_cjk_font()
    if found is None:
        log.warning(
            "No font with Chinese and Korean letters was found (on Debian or Ubuntu:"
            " apt install fonts-wqy-microhei); usage charts show those letters as boxes"
        )
    return found


def _fontconfig_cjk_font() -> str | None:
    """A font fontconfig lists for both Simplified Chinese and Korean, if it is here."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    covering = []
    for lang in ("zh-cn", "ko"):
        try:
            listed = subprocess.run(
                [fc_list, "-f", "%{file}\n", f":lang={lang}"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        covering.append(set(listed.stdout.split("\n")) - {""})
    both = sorted(covering[0] & covering[1])
    return both[0] if both else None


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
