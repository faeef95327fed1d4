"""Inpainting: /imagine with an `image` and a `mask` (white = redraw). The job is masked and
its source is the image with the mask in its alpha; the mask is checked like an upload."""

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

from tests.bot.test_uploads import bomb_png, encoded
from tests.fake_discord import Upload
from tests.support.bot_stack import Stack

DEFERRED = 5


def noise_png(size: tuple[int, int]) -> bytes:
    pixels = np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return encoded(Image.fromarray(pixels), "PNG")


def left_half_white(size: tuple[int, int]) -> bytes:
    mask = Image.new("L", size, 0)
    mask.paste(255, (0, 0, size[0] // 2, size[1]))
    return encoded(mask, "PNG")


IMAGE = Upload("photo.png", noise_png((128, 128)), "image/png")
MASK = Upload("mask.png", left_half_white((128, 128)), "image/png")


async def test_image_and_mask_make_a_masked_job_with_the_mask_in_alpha(stack: Stack) -> None:
    interaction = await stack.fake.slash(
        "imagine", {"prompt": "a cat on the left", "image": IMAGE, "mask": MASK}
    )
    assert (await interaction.wait_callback()).type == DEFERRED
    await interaction.wait_original(lambda m: bool(m.attachments), 30)
    job = await stack.store.get(interaction.id)
    assert job is not None
    assert (job.params.masked, job.params.strength) == (True, 1.0)  # the white part anew
    source = await stack.store.source(interaction.id)
    assert source is not None
    with Image.open(io.BytesIO(source)) as opened:
        assert (opened.mode, opened.size) == ("RGBA", (128, 128))
        pixels = np.asarray(opened)
    alpha = pixels[..., 3]
    assert (alpha[:, :56] == 0).all()  # white in the mask: redraw
    assert (alpha[:, 72:] == 255).all()  # black: keep
    original = np.asarray(Image.open(io.BytesIO(IMAGE.data)))
    assert np.array_equal(pixels[:, 72:, :3], original[:, 72:])  # the image itself


async def test_the_mask_is_fitted_to_the_chosen_size_and_strength_can_be_given(
    stack: Stack,
) -> None:
    image = Upload("wide.png", noise_png((300, 150)), "image/png")
    mask = Upload("small.png", left_half_white((150, 75)), "image/png")
    interaction = await stack.fake.slash(
        "imagine",
        {"prompt": "x", "image": image, "mask": mask, "size": "256x128", "strength": 0.7},
    )
    assert (await interaction.wait_callback()).type == DEFERRED
    async with asyncio.timeout(10):
        while (job := await stack.store.get(interaction.id)) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert (job.params.masked, job.params.strength, job.params.size) == (True, 0.7, "256x128")
    source = await stack.store.source(interaction.id)
    assert source is not None
    alpha = np.asarray(Image.open(io.BytesIO(source)))[..., 3]
    assert alpha.shape == (128, 256)
    assert (alpha[:, :112] == 0).all()
    assert (alpha[:, 144:] == 255).all()


@pytest.mark.parametrize(
    ("options", "reply"),
    [
        ({"mask": MASK}, "A mask says where to redraw an image: attach the image too."),
        (
            {"image": IMAGE, "mask": Upload("mask.png", b"not a picture", "image/png")},
            "The mask is not a PNG, JPEG or WebP image I can read.",
        ),
        (
            {"image": IMAGE, "mask": Upload("bomb.png", bomb_png(20000, 20000), "image/png")},
            "That mask has more than 4,194,304 pixels.",
        ),
        (
            {"image": Upload("x.png", b"garbage", "image/png"), "mask": MASK},
            "That file is not a PNG, JPEG or WebP image I can read.",
        ),
    ],
)
async def test_a_bad_mask_gets_one_sentence_and_queues_nothing(
    stack: Stack, options: dict[str, object], reply: str
) -> None:
    interaction = await stack.fake.slash("imagine", {"prompt": "x", **options})
    callback = await interaction.wait_callback()
    assert callback.ephemeral
    assert callback.data["content"] == reply
    assert await stack.store.head() == 0  # no job was ever queued
