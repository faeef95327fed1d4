"""The audit channel: each delivered job posted with its prompt, requester and result
link, and buttons to delete the image and block the member."""

import re
import sqlite3
from pathlib import Path

from bot.moderation.audit import REFUSALS_PER_WINDOW, REFUSALS_WINDOW
from bot.moderation.audit_embeds import EMBED_CHARS, FIELD_VALUE_CHARS
from tests.fake_discord import DEFAULT_PERMISSIONS, FakeDiscord, FakeMessage
from tests.moderation.helpers import (
    MODERATOR,
    World,
    accepted,
    admin,
    answer,
    build_servers,
    configure,
    delivered,
    eventually,
    imagine,
    start_clock,
)
from tests.support.bot_stack import full_stack


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


def unsent_posts(world: World) -> int:
    """Audit posts recorded in the bot's database and not sent yet."""
    return audit_rows(world, "WHERE sent_at IS NULL")


def audit_rows(world: World, where: str = "") -> int:
    with sqlite3.connect(world.stack.bot_db) as db:
        found = db.execute(f"SELECT COUNT(*) FROM mod_audit_posts {where}")
        return int(found.fetchone()[0])


async def all_sent(world: World) -> list[FakeMessage]:
    """The audit channel once every recorded post is out (a refusal's is recorded before
    the member is answered)."""
    await eventually(lambda: unsent_posts(world) == 0)
    return world.fake.messages(world.a.audit)


async def test_refused_prompts_are_posted_three_times_per_member_then_counted(
    world: World,
) -> None:
    await configure(world, "audit", {"channel": world.a.audit})
    await configure(world, "words add", {"words": "lighthouse"})
    troll = world.fake.add_user("troll")
    for n in range(5):
        refused = await answer(await imagine(world, f"a lighthouse {n}", user=troll))
        assert refused.startswith("This prompt can't be used")
    posts = await all_sent(world)
    assert [post.embeds[0]["description"] for post in posts] == [
        f"||a lighthouse {n}||" for n in range(REFUSALS_PER_WINDOW)
    ]
    # Another member's refusals have their own share.
    await answer(await imagine(world, "a lighthouse", user=world.fake.add_user("bob")))
    assert len(await all_sent(world)) == REFUSALS_PER_WINDOW + 1
    # After a quiet spell the troll's next refusal is posted, saying what was left out.
    world.clock.advance(REFUSALS_WINDOW)
    await answer(await imagine(world, "a lighthouse again", user=troll))
    *_, last = await all_sent(world)
    fields = {field["name"]: field["value"] for field in last.embeds[0]["fields"]}
    assert fields["Not posted"] == (
        "2 more refused prompt(s) of this member since the last post, left out to keep"
        " this channel readable."
    )


async def test_a_prompt_cannot_close_the_spoiler_that_hides_it(world: World) -> None:
    await configure(world, "audit", {"channel": world.a.audit})
    await configure(world, "words add", {"words": "lighthouse"})
    for prompt in ("a lighthouse || in plain sight", "https://x.y/||lighthouse||"):
        await answer(await imagine(world, prompt))
    posts = await all_sent(world)
    hidden = [post.embeds[0]["description"] for post in posts]
    assert hidden == [
        "||a lighthouse \\|\\| in plain sight||",
        "||https://x.y/\\|\\|lighthouse\\|\\|||",
    ]
    for text in hidden:  # the only bars left unescaped open and close the spoiler
        assert re.findall(r"(?<!\\)\|\|", text[2:-2]) == []


async def test_a_post_longer_than_discord_takes_is_cut_not_dropped(world: World) -> None:
    """The CLIP token limit keeps a prompt's banned words short here (the test vocabulary
    spends a token on every two letters); with the real vocabulary a prompt and its
    negative prompt can hold more than 1024 characters of banned words. So the refusal
    is handed to the audit log directly, as moderation does."""
    await configure(world, "audit", {"channel": world.a.audit})
    found = [f"{n:02d}" + "x" * 28 for n in range(60)]  # 60 words, 1,918 characters
    prompt = "|" * 5000  # escaped, 10,000 characters
    member = int(world.fake.user.id)
    audit = world.stack.bot.moderation.audit
    await audit.prompt_refused(int(world.a.guild.id), member, prompt, found)
    [post] = await all_sent(world)
    [embed] = post.embeds
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    words = fields["Banned words"]
    assert len(words) == FIELD_VALUE_CHARS
    assert words.startswith(f"||{found[0]}, {found[1]}")
    assert words.endswith("…||")
    assert embed["description"].startswith("||\\|\\|")
    assert embed["description"].endswith("…||")
    total = len(embed["title"]) + len(embed["description"])
    total += sum(len(field["name"]) + len(field["value"]) for field in embed["fields"])
    assert total <= EMBED_CHARS


async def test_posts_discord_could_not_take_are_sent_after_a_restart(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    a, b, patron, staff = build_servers(fake_discord)
    audit_route = f"/channels/{a.audit.id}/messages"
    outage = fake_discord.fail_next("POST", rf"^{audit_route}$", 503, times=1000)
    async with full_stack(fake_discord, tmp_path) as stack:
        world = World(stack, a, b, patron, staff, start_clock(stack))
        await configure(world, "audit", {"channel": a.audit})
        await configure(world, "words add", {"words": "lighthouse"})
        await delivered(await imagine(world, "a boat"))
        await answer(await imagine(world, "a lighthouse"))
        await fake_discord.wait_for(lambda: outage.hits >= 2)
        assert unsent_posts(world) == 2
    outage.times = outage.hits  # Discord is back
    assert fake_discord.messages(a.audit) == []
    async with full_stack(fake_discord, tmp_path) as stack:
        world = World(stack, a, b, patron, staff, start_clock(stack))
        posts = await all_sent(world)
    assert sorted(post.embeds[0]["title"] for post in posts) == ["New image", "Prompt refused"]
    sent = [r for r in fake_discord.requests if r.path == audit_route and r.status == 200]
    assert len(sent) == 2  # each once


async def test_a_post_discord_refuses_for_good_is_dropped_not_retried(world: World) -> None:
    await configure(world, "audit", {"channel": world.a.audit})
    route = f"/channels/{world.a.audit.id}/messages"
    world.fake.fail_next("POST", rf"^{route}$", 403, times=1000)
    await delivered(await imagine(world, "a boat"))
    await world.fake.wait_for(lambda: any(r.path == route for r in world.fake.requests))
    await eventually(lambda: audit_rows(world) == 0)  # forgotten: nothing left to retry
    assert len([r for r in world.fake.requests if r.path == route]) == 1
