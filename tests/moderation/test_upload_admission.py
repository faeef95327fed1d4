"""An upload is fetched only for a request the server takes: a blocked, cooled-down or
over-quota member, or a prompt with a banned word, makes the bot download (and decode)
nothing. An upload that cannot be fetched or read gives its images back."""

import io

from PIL import Image

from tests.fake_discord import Upload
from tests.moderation.helpers import World, accepted, answer, configure, delivered, imagine


def picture() -> Upload:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, format="PNG")
    return Upload("start.png", out.getvalue(), "image/png")


def fetches(world: World) -> int:
    """Requests to the fake's CDN, where uploads are read from."""
    return sum(r.path.startswith("/attachments/") for r in world.fake.requests)


async def test_a_refused_members_upload_is_never_fetched(world: World) -> None:
    troll = world.fake.add_user("troll")
    await configure(world, "block", {"member": troll})
    blocked = await answer(await imagine(world, "a boat", user=troll, image=picture()))
    assert blocked == "You can't make images in this server."

    await configure(world, "words add", {"words": "lighthouse"})
    refused = await answer(await imagine(world, "a lighthouse", image=picture()))
    assert refused.startswith("This prompt can't be used in this server.")

    await configure(world, "limits", {"per_member": 1})
    bob = world.fake.add_user("bob")
    await delivered(await imagine(world, "first", user=bob))
    over = await answer(await imagine(world, "second", user=bob, image=picture()))
    assert over.startswith("You have 0 of your 1 images for today left")

    await configure(world, "limits", {"per_member": 0, "cooldown": 600})
    eve = world.fake.add_user("eve")
    await delivered(await imagine(world, "first", user=eve))
    cooling = await answer(await imagine(world, "second", user=eve, image=picture()))
    assert cooling.startswith("You can ask again <t:")

    assert fetches(world) == 0
    # The same upload from a member the server takes is fetched, once.
    await delivered(await imagine(world, "a boat", image=picture()))
    assert fetches(world) == 1


async def test_an_upload_that_cannot_be_fetched_or_read_gives_its_images_back(
    world: World,
) -> None:
    await configure(world, "limits", {"per_member": 1})
    world.fake.fail_next("GET", r"^/attachments/", 500)
    failed = await answer(await imagine(world, "a boat", image=picture()))
    assert failed == "I could not download that image; please try again."
    unreadable = Upload("notes.png", b"not a picture at all", "image/png")
    refused = await answer(await imagine(world, "a boat", image=unreadable))
    assert refused == "That file is not a PNG, JPEG or WebP image I can read."
    assert fetches(world) == 2
    # Neither took the member's one image of the day.
    assert await accepted(await imagine(world, "a boat", image=picture()))


async def test_an_upload_sent_from_a_direct_message_is_never_fetched(world: World) -> None:
    sent = await world.fake.dm_slash("imagine", {"prompt": "a boat", "image": picture()})
    assert await answer(sent) == "This command works in servers only."
    assert fetches(world) == 0
