"""The bot's image installs the font the usage chart looks for first, and CI (.ci/run)
the same one, so the chart test draws with what production draws with."""

import re

from bot.moderation import charts
from tests.deploy import images
from tests.deploy.compose import REPO

# Where Debian's package puts its font.
PACKAGE_FILE = {"fonts-wqy-microhei": "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"}


def apt_installs(text: str) -> set[str]:
    found: set[str] = set()
    for command in re.findall(r"apt-get install ([^&|)]+)", text):
        found |= {word for word in command.split() if not word.startswith("-")}
    return found


def test_the_bot_image_installs_the_first_font_the_chart_looks_for() -> None:
    commands = " ".join(args for kind, args in images.stages()["bot"].instructions if kind == "RUN")
    [package] = apt_installs(commands)
    assert PACKAGE_FILE[package] == charts.CJK_FONTS[0]


def test_ci_installs_the_same_font_and_checks_for_its_file() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert set(PACKAGE_FILE) <= apt_installs(script)
    assert f"[ ! -f {charts.CJK_FONTS[0]} ]" in script
