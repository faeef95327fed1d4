"""The three parts keep to their side: the bot never loads TensorFlow or Keras (it must
start fast and ship small), the worker never loads discord.py (GPU hosts hold no Discord
credentials), and core loads neither."""

import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "keras", "keras_cv")
IMPORTS = {
    "bot": (
        "import bot.__main__, bot.client, bot.cogs.imagine, bot.cogs.queue, bot.buttons,"
        " bot.moderation.commands"
    ),
    "worker": "import worker.__main__, worker.loop, worker.engine",
    "core": "import core.store, core.store.sqlite, core.settings, core.images, core.uploads",
}
FORBIDDEN = {"bot": HEAVY, "worker": ("discord",), "core": (*HEAVY, "discord")}


@pytest.mark.parametrize("part", sorted(IMPORTS))
def test_a_part_never_loads_what_it_must_not(part: str) -> None:
    check = (
        f"import sys; {IMPORTS[part]}; "
        f"print(','.join(m for m in {FORBIDDEN[part]!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
