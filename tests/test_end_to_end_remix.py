"""Upscale, zoom out, pan and inpainting the whole way: the fake Discord, `python -m bot`
and `python -m worker` (the real KerasCV architecture, random weights) as separate
processes; each button's job is drawn by the real engine and comes back as a new result.

Random weights draw noise (and their VAE does not give back the pixels it encoded), so
what is checked here is what a member gets: a new message, at its size, from a job that
reached the engine as the member asked. That the mask keeps what it keeps is tested on
the latents (tests/engine/test_masks.py).
"""

import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tests.fake_discord import FakeDiscord, FakeInteraction, FakeMessage, Upload

pytestmark = [pytest.mark.model, pytest.mark.timeout(1500)]

Pixels = npt.NDArray[np.int16]


async def result_of(interaction: FakeInteraction) -> FakeMessage:
    return await interaction.wait_original(lambda m: bool(m.attachments), 900)


def image(message: FakeMessage) -> Pixels:
    with Image.open(io.BytesIO(message.attachment_bytes(0))) as opened:
        return np.asarray(opened.convert("RGB"), dtype=np.int16)


async def test_upscale_zoom_out_pan_and_inpaint_come_back_as_new_results(
    fake_discord: FakeDiscord, running: Path
) -> None:
    first = await fake_discord.slash("imagine", {"prompt": "a fox", "steps": 2, "seed": 5})
    original = await result_of(first)
    assert image(original).shape == (128, 128, 3)

    upscale = await fake_discord.click(original, f"img:upscale:{first.id}:0")
    upscaled = await result_of(upscale)
    assert upscaled.id != original.id
    assert image(upscaled).shape == (256, 256, 3)  # 2x, drawn at a size compiled for it

    pan = await fake_discord.click(original, f"img:pan_left:{first.id}")
    assert image(await result_of(pan)).shape == (128, 128, 3)

    zoom = await fake_discord.click(original, f"img:zoom:{first.id}")
    assert image(await result_of(zoom)).shape == (128, 128, 3)

    picture = Upload("photo.png", original.attachment_bytes(0), "image/png")
    mask = Image.new("L", (128, 128), 0)
    mask.paste(255, (0, 0, 64, 128))  # redraw the left half
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    drawn = Upload("m.png", buffer.getvalue(), "image/png")
    options = {"prompt": "a fox", "steps": 2, "image": picture, "mask": drawn}
    inpaint = await fake_discord.slash("imagine", options)
    painted = await result_of(inpaint)
    assert image(painted).shape == (128, 128, 3)
    assert len({m.id for m in (original, upscaled, painted)}) == 3

    with sqlite3.connect(running / "jobs.db") as db:
        rows = db.execute("SELECT id, state, params FROM jobs").fetchall()
    jobs = {job_id: (state, json.loads(params)) for job_id, state, params in rows}
    assert {state for state, _ in jobs.values()} == {"done"}
    assert [jobs[str(i.id)][1]["masked"] for i in (first, upscale, pan, zoom, inpaint)] == [
        False,
        False,
        True,
        True,
        True,
    ]
