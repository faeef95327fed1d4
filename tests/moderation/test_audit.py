"""The audit channel: each delivered job posted with its prompt, requester and result
link, and buttons to delete the image and block the member."""

from tests.fake_discord import DEFAULT_PERMISSIONS, FakeMessage
from tests.moderation.helpers import (
    MODERATOR,
    World,
    accepted,
    admin,
    answer,
    configure,
    delivered,
    imagine,
)


async def audit_posts(world: World, count: int = 1) -> list[FakeMessage]:
    def posted() -> list[FakeMessage] | None:
        posts = world.fake.messages(world.a.audit)
        return posts if len(posts) >= count else None

    return await world.fake.wait_for(posted)


async def test_every_delivered_job_is_posted_with_its_prompt_requester_and_link(
    world: World,
) -> None:
    shown = await answer(await admin(world, "audit", {"channel": world.a.audit}))
    assert shown == f"Every image and every refused prompt will be posted in <#{world.a.audit.id}>."
    member = world.fake.add_user("painter")
    job = await imagine(world, "a red fox", negative_prompt="blur", user=member)
    result = await delivered(job)
    [post] = await audit_posts(world)
    [embed] = post.embeds
    assert (embed["title"], embed["description"]) == ("New image", "a red fox")
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    link = f"https://discord.com/channels/{world.a.guild.id}/{world.a.general.id}/{result.id}"
    assert fields == {"Requester": f"<@{member.id}>", "Result": link, "Negative prompt": "blur"}
    assert post.custom_ids == [f"mod:delete:{job.id}", f"mod:block:{member.id}"]
    [sent] = [r for r in world.fake.requests if r.path == f"/channels/{world.a.audit.id}/messages"]
    assert sent.json["allowed_mentions"]["parse"] == []  # named, never pinged


async def test_delete_removes_the_image_and_block_stops_the_member(world: World) -> None:
    await configure(world, "audit", {"channel": world.a.audit})
    member = world.fake.add_user("painter")
    job = await imagine(world, "a lighthouse", user=member)
    result = await delivered(job)
    [post] = await audit_posts(world)
    await world.fake.click(post, f"mod:delete:{job.id}", permissions=MODERATOR)
    await world.fake.wait_for(lambda: result.deleted)
    await world.fake.wait_for(lambda: "Image deleted by" in post.content)
    await world.fake.click(post, f"mod:block:{member.id}", permissions=MODERATOR)
    await world.fake.wait_for(lambda: f"<@{member.id}> blocked by" in post.content)
    refused = await answer(await imagine(world, "again", user=member))
    assert refused == "You can't make images in this server."
    listed = await answer(await admin(world, "blocked"))
    assert listed == f"Blocked members (1): <@{member.id}>"


async def test_audit_buttons_need_manage_server(world: World) -> None:
    await configure(world, "audit", {"channel": world.a.audit})
    member = world.fake.add_user("painter")
    job = await imagine(world, "a lighthouse", user=member)
    result = await delivered(job)
    [post] = await audit_posts(world)
    for custom_id in (f"mod:delete:{job.id}", f"mod:block:{member.id}"):
        click = await world.fake.click(post, custom_id, permissions=DEFAULT_PERMISSIONS)
        assert (await click.wait_callback()).ephemeral
    assert not result.deleted
    assert await accepted(await imagine(world, "still allowed", user=member))  # not blocked
    assert await answer(await admin(world, "blocked")) == "No one is blocked in this server."


async def test_a_failing_audit_channel_never_holds_up_delivery(world: World) -> None:
    await configure(world, "audit", {"channel": world.a.audit})
    world.fake.fail_next("POST", rf"/channels/{world.a.audit.id}/messages", 403, times=5)
    first, second = await imagine(world, "one"), await imagine(world, "two")
    await delivered(first)
    await delivered(second)
    assert world.fake.messages(world.a.audit) == []


async def test_the_audit_log_can_be_turned_off(world: World) -> None:
    await configure(world, "audit", {"channel": world.a.audit})
    assert await answer(await admin(world, "audit")) == "The audit log is off."
    await delivered(await imagine(world, "quiet"))
    assert world.fake.messages(world.a.audit) == []


async def test_block_and_unblock_by_command(world: World) -> None:
    member = world.fake.add_user("troll")
    blocked = await answer(await admin(world, "block", {"member": member}))
    assert blocked == f"<@{member.id}> can no longer make images in this server."
    again = await answer(await admin(world, "block", {"member": member}))
    assert again == f"<@{member.id}> was blocked already."
    assert await answer(await imagine(world, "x", user=member)) == (
        "You can't make images in this server."
    )
    unblocked = await answer(await admin(world, "unblock", {"member": member}))
    assert unblocked == f"<@{member.id}> can make images in this server again."
    await delivered(await imagine(world, "x", user=member))
    not_blocked = await answer(await admin(world, "unblock", {"member": member}))
    assert not_blocked == f"<@{member.id}> was not blocked."


async def test_a_blocked_member_cannot_reroll_either(world: World) -> None:
    member = world.fake.add_user("troll")
    job = await imagine(world, "a lighthouse")
    result = await delivered(job)
    await configure(world, "block", {"member": member})
    click = await world.fake.click(result, f"img:reroll:{job.id}", user=member)
    callback = await click.wait_callback()
    assert callback.ephemeral
    assert callback.data["content"] == "You can't make images in this server."
