"""The whole path, for real: the fake Discord, `python -m bot` and `python -m worker`
(the real KerasCV architecture, random weights, 128x128) as separate processes."""

import io
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from tests.fake_discord import EPHEMERAL, FakeDiscord

pytestmark = [pytest.mark.model, pytest.mark.timeout(900)]


async def test_imagine_goes_from_slash_command_to_grid_and_usage_row(
    fake_discord: FakeDiscord, running: Path
) -> None:
    interaction = await fake_discord.slash(
        "imagine", {"prompt": "a red fox in snow", "count": 3, "steps": 2, "seed": 5}
    )
    assert (await interaction.wait_callback()).type == 5  # deferred within 3 s
    status = await interaction.wait_original(lambda m: m.content.startswith(("Queued", "Drawing")))
    assert not status.attachments
    final = await interaction.wait_original(lambda m: bool(m.attachments), 600)
    grid = Image.open(io.BytesIO(final.attachment_bytes(0)))
    assert (grid.format, grid.size, grid.mode) == ("PNG", (256, 256), "RGB")
    assert final.embeds[0]["description"] == "a red fox in snow"

    def usage() -> list[tuple[int, int, int, int, float]]:
        with sqlite3.connect(running / "bot.db") as db:
            query = "SELECT images, steps, width, height, gpu_seconds FROM usage"
            return db.execute(query).fetchall()

    [(images, steps, width, height, gpu_seconds)] = await fake_discord.wait_for(usage)
    assert (images, steps, width, height) == (3, 2, 128, 128)
    assert gpu_seconds > 0

    refused = await fake_discord.slash("imagine", {"prompt": "\x00"})
    callback = await refused.wait_callback()
    assert callback.type == 4
    assert callback.data["flags"] & EPHEMERAL
    with sqlite3.connect(running / "jobs.db") as db:
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone() == (1,)
