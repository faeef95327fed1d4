"""Every button under a job's message, clicked through the fake Discord."""

import io

from PIL import Image

from bot.buttons import PAN_ACTIONS
from tests.fake_discord import EPHEMERAL, FakeInteraction, FakeMessage
from tests.support.bot_stack import Stack

MANAGE_MESSAGES = 1 << 13


async def finished(stack: Stack, **options: object) -> tuple[FakeInteraction, FakeMessage]:
    interaction = await stack.fake.slash("imagine", {"prompt": "a lighthouse", **options})
    return interaction, await interaction.wait_original(lambda m: bool(m.attachments), 30)


def rows(message: FakeMessage) -> list[list[str]]:
    """The custom ids of the message's buttons, row by row."""
    return [[b["custom_id"] for b in row["components"]] for row in message.data["components"]]


async def test_a_result_has_full_size_variation_and_upscale_buttons_per_image(
    stack: Stack,
) -> None:
    interaction, final = await finished(stack, count=3)
    job = interaction.id
    assert rows(final) == [
        [f"img:full:{job}:{i}" for i in range(3)],
        [f"img:vary:{job}:{i}" for i in range(3)],
        [f"img:upscale:{job}:{i}" for i in range(3)],  # 128x128 -> 256x256 is made here
        [f"img:reroll:{job}", f"img:delete:{job}"],
    ]


async def test_a_single_image_also_has_zoom_out_and_pan_within_five_rows(
    stack: Stack,
) -> None:
    interaction, final = await finished(stack, count=1)
    job = interaction.id
    assert rows(final) == [
        [f"img:full:{job}:0"],
        [f"img:vary:{job}:0"],
        [f"img:upscale:{job}:0"],
        [f"img:{action}:{job}" for action in ("zoom", *PAN_ACTIONS)],
        [f"img:reroll:{job}", f"img:delete:{job}"],
    ]
    assert [b["label"] for b in final.data["components"][3]["components"]] == [
        "Zoom out",
        "⬅️",
        "➡️",
        "⬆️",
        "⬇️",
    ]


async def test_full_size_sends_that_image_alone_privately(stack: Stack) -> None:
    interaction, final = await finished(stack, count=2, seed=11)
    click = await stack.fake.click(final, f"img:full:{interaction.id}:1")
    callback = await click.wait_callback()
    assert callback.ephemeral
    [name] = callback.files
    assert click.original is not None
    data = click.original.attachment_bytes(0)
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("PNG", (128, 128))
    result = await stack.store.result(str(interaction.id))
    assert result is not None
    assert data == result.image_pngs[1]
    assert name.endswith("-2.png")


async def test_reroll_queues_the_same_request_with_a_new_seed_for_the_clicker(
    stack: Stack,
) -> None:
    interaction, final = await finished(stack, seed=5, steps=4)
    other = stack.fake.add_user("bob")
    click = await stack.fake.click(final, f"img:reroll:{interaction.id}", user=other)
    again = await click.wait_original(lambda m: bool(m.attachments), 30)
    assert again.id != final.id  # a new message for the new job
    rerolled = await stack.store.get(str(click.id))
    assert rerolled is not None
    assert (rerolled.params.prompt, rerolled.params.steps) == ("a lighthouse", 4)
    assert rerolled.params.seed != 5
    assert rerolled.user_id == int(other.id)


async def test_a_variation_starts_from_that_image(stack: Stack) -> None:
    interaction, final = await finished(stack, count=2)
    click = await stack.fake.click(final, f"img:vary:{interaction.id}:1")
    await click.wait_original(lambda m: bool(m.attachments), 30)
    [request] = stack.engine.batches[-1]
    result = await stack.store.result(str(interaction.id))
    assert result is not None
    source = Image.open(io.BytesIO(result.image_pngs[1]))
    assert request.init_image is not None
    assert (request.init_image == source).all()
    assert (request.count, request.strength) == (1, 0.6)


async def test_delete_is_for_the_requester_and_moderators_only(stack: Stack) -> None:
    interaction, final = await finished(stack)
    stranger = stack.fake.add_user("mallory")
    refused = await stack.fake.click(final, f"img:delete:{interaction.id}", user=stranger)
    callback = await refused.wait_callback()
    assert callback.ephemeral
    assert callback.data["content"].startswith("Only the member who asked")
    assert not final.deleted
    moderator = stack.fake.add_user("mod")
    await stack.fake.click(
        final, f"img:delete:{interaction.id}", user=moderator, permissions=MANAGE_MESSAGES
    )
    await stack.fake.wait_for(lambda: final.deleted)


async def test_the_requester_deletes_their_own_result(stack: Stack) -> None:
    interaction, final = await finished(stack)
    await stack.fake.click(final, f"img:delete:{interaction.id}")
    await stack.fake.wait_for(lambda: final.deleted)


async def test_cancel_stops_a_running_job(stack: Stack) -> None:
    stack.engine.step_seconds = 0.05
    interaction = await stack.fake.slash("imagine", {"prompt": "slow", "steps": 100})
    status = await interaction.wait_original(lambda m: m.content.startswith("Drawing: step"))
    assert status.custom_ids == [f"img:cancel:{interaction.id}"]
    stranger = stack.fake.add_user("mallory")
    refused = await stack.fake.click(status, f"img:cancel:{interaction.id}", user=stranger)
    assert (await refused.wait_callback()).data["flags"] & EPHEMERAL
    await stack.fake.click(status, f"img:cancel:{interaction.id}")
    final = await interaction.wait_original(lambda m: m.content == "This job was canceled.")
    assert final.custom_ids == []
    job = await stack.store.get(str(interaction.id))
    assert job is not None
    assert job.state == "canceled"
    assert job.step < 100
