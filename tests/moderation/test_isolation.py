"""Nothing of one server (settings, usage, banned words, blocks, audit) is visible or
changeable from another."""

import csv
import io

from tests.fake_discord import FakeInteraction, FakeMessage, FakeUser
from tests.moderation.helpers import (
    MODERATOR,
    World,
    accepted,
    admin,
    answer,
    configure,
    delivered,
    eventually,
    imagine,
    usage_rows,
)


async def configure_server_a(world: World, troll: FakeUser) -> None:
    await configure(world, "limits", {"per_member": 1, "cooldown": 600})
    await configure(world, "caps", {"steps": 3})
    await configure(world, "words add", {"words": "lighthouse"})
    await configure(world, "audit", {"channel": world.a.audit})
    await configure(world, "tier set", {"role": world.patron, "per_member": 9})
    await configure(world, "exempt add", {"role": world.staff})
    await configure(world, "block", {"member": troll})


async def test_one_servers_settings_are_not_seen_or_applied_in_another(world: World) -> None:
    troll = world.fake.add_user("troll")
    await configure_server_a(world, troll)
    shown_a = await answer(await admin(world, "settings"))
    assert "**Banned words**: 1 · **Blocked members**: 1" in shown_a
    shown_b = await answer(await admin(world, "settings", server=world.b))
    assert "no limit per member" in shown_b
    assert "**Tiers**: -" in shown_b
    assert "**Exempt roles**: -" in shown_b
    assert "**Banned words**: 0 · **Blocked members**: 0" in shown_b
    assert "**Audit channel**: -" in shown_b
    words_b = await answer(await admin(world, "words list", server=world.b))
    assert words_b == "This server bans no words."
    blocked_b = await answer(await admin(world, "blocked", server=world.b))
    assert blocked_b == "No one is blocked in this server."
    # In B, the troll may ask for a banned word of A's, twice, with many steps.
    for _ in range(2):
        job = await imagine(world, "a lighthouse", server=world.b, user=troll, steps=5)
        await delivered(job)
    assert world.fake.messages(world.a.audit) == []  # B's jobs are not A's business


async def test_unblocking_or_unbanning_in_one_server_changes_nothing_in_another(
    world: World,
) -> None:
    troll = world.fake.add_user("troll")
    await configure_server_a(world, troll)
    not_blocked = await answer(await admin(world, "unblock", {"member": troll}, server=world.b))
    assert not_blocked == f"<@{troll.id}> was not blocked."
    removed = await answer(
        await admin(world, "words remove", {"words": "lighthouse"}, server=world.b)
    )
    assert removed == "Allowed 0 word(s) again: -"
    await configure(world, "limits", {"per_member": 0, "cooldown": 0}, server=world.b)
    assert await answer(await imagine(world, "x", user=troll)) == (
        "You can't make images in this server."
    )
    refused = await answer(await imagine(world, "a lighthouse"))
    assert refused.startswith("This prompt can't be used")


async def test_usage_and_exports_count_one_server_only(world: World) -> None:
    painter = world.fake.add_user("painter")
    await delivered(await imagine(world, "in a", user=painter, count=3))
    await delivered(await imagine(world, "in b", server=world.b, user=painter))
    await eventually(lambda: usage_rows(world) == 2)
    usage_b = await answer(await admin(world, "usage", server=world.b))
    assert usage_b.splitlines()[0] == "Last 30 day(s): 1 image(s) in 1 job(s) by 1 member(s)."
    export = await admin(world, "export", server=world.b)
    await answer(export)
    assert export.original is not None
    rows = list(csv.DictReader(io.StringIO(export.original.attachment_bytes(0).decode())))
    assert [row["images"] for row in rows] == ["1"]
    quota_b = await answer(await world.fake.slash("quota", guild=world.b.guild, user=painter))
    assert quota_b.startswith("Your images today: 1 (no daily limit).")


async def test_each_servers_jobs_go_to_its_own_audit_channel(world: World) -> None:
    await configure(world, "audit", {"channel": world.a.audit})
    await configure(world, "audit", {"channel": world.b.audit}, server=world.b)
    job_a = await imagine(world, "for a")
    result_a = await delivered(job_a)
    await delivered(await imagine(world, "for b", server=world.b))
    [post_a] = await world.fake.wait_for(lambda: world.fake.messages(world.a.audit))
    [post_b] = await world.fake.wait_for(lambda: world.fake.messages(world.b.audit))
    assert (post_a.embeds[0]["description"], post_b.embeds[0]["description"]) == (
        "for a",
        "for b",
    )
    # B's moderator forges an interaction whose button (on B's audit message) names A's
    # job: discord.py finds the button, the bot finds no such job in server B.
    forged_id = f"mod:delete:{job_a.id}"
    post_b.data["components"][0]["components"][0]["custom_id"] = forged_id
    forged = await world.fake.click(post_b, forged_id, permissions=MODERATOR)
    assert (await forged.wait_callback()).data["content"] == "That job is no longer here."
    assert not result_a.deleted


async def test_a_channel_of_another_server_cannot_become_the_audit_channel(
    world: World,
) -> None:
    refused = await answer(await admin(world, "audit", {"channel": world.a.audit}, server=world.b))
    assert refused.startswith("Some options of this command were not understood")
    shown = await answer(await admin(world, "settings", server=world.b))
    assert "**Audit channel**: -" in shown


async def test_a_quota_in_one_server_does_not_limit_another(world: World) -> None:
    await configure(world, "limits", {"per_member": 1})
    await delivered(await imagine(world, "first"))
    assert not await accepted(await imagine(world, "second"))
    assert await accepted(await imagine(world, "elsewhere", server=world.b))


# Job buttons. A custom id is whatever a modified client sends: these forge ids naming
# another job onto a message, as test_each_servers_jobs_go_to_its_own_audit_channel does.

GONE = "That job is no longer here."
ELSEWHERE = "That button does not belong to this message."
MAKE_OR_SHOW = (
    "full:{job}:0",
    "vary:{job}:0",
    "upscale:{job}:0",
    "zoom:{job}",
    "pan_left:{job}",
    "pan_down:{job}",
    "reroll:{job}",
)


def forge(message: FakeMessage, custom_id: str) -> None:
    """Puts `custom_id` on the message's first button: discord.py dispatches a click only
    to a button the message carries."""
    message.data["components"][0]["components"][0]["custom_id"] = custom_id


async def forged_click(
    world: World, message: FakeMessage, action: str, job: FakeInteraction
) -> tuple[FakeInteraction, str]:
    """Alice (who asked for `job`) clicks `img:<action>` naming `job` on `message`."""
    custom_id = "img:" + action.format(job=job.id)
    forge(message, custom_id)
    click = await world.fake.click(message, custom_id)
    callback = await click.wait_callback()
    assert callback.ephemeral, custom_id
    assert callback.files == [], custom_id  # no full-size image sent
    assert await world.stack.store.get(click.id) is None, custom_id  # no job queued
    return click, str(callback.data["content"])


async def slow_job(world: World, prompt: str) -> tuple[FakeInteraction, FakeMessage]:
    """One of alice's jobs in server A, drawing slowly: it can still be canceled."""
    world.stack.engine.step_seconds = 0.05
    job = await imagine(world, prompt, steps=100)
    status = await job.wait_original(lambda m: m.content.startswith("Drawing: step"))
    return job, status


async def still_running_then_cancel(
    world: World, job: FakeInteraction, status: FakeMessage
) -> None:
    """The forged cancel changed nothing; her own cancel, on the job's own message, works."""
    running = await world.stack.store.get(job.id)
    assert running is not None
    assert running.state == "running"
    await world.fake.click(status, f"img:cancel:{job.id}")
    await job.wait_original(lambda m: m.content == "This job was canceled.")


async def test_job_buttons_refuse_a_job_of_another_server(world: World) -> None:
    job_a = await imagine(world, "in a")
    result_a = await delivered(job_a)
    result_b = await delivered(await imagine(world, "in b", server=world.b))
    for action in (*MAKE_OR_SHOW, "delete:{job}"):
        _, said = await forged_click(world, result_b, action, job_a)
        assert said == GONE, action
    assert not result_a.deleted
    assert not result_b.deleted
    job, status = await slow_job(world, "slow in a")
    _, said = await forged_click(world, result_b, "cancel:{job}", job)
    assert said == GONE
    await still_running_then_cancel(world, job, status)


async def test_job_buttons_refuse_a_job_of_another_channel(world: World) -> None:
    job = await imagine(world, "in general")
    result = await delivered(job)
    other = await world.fake.slash(
        "imagine", {"prompt": "next door", "steps": 2}, channel=world.a.audit
    )
    next_door = await delivered(other)
    for action in (*MAKE_OR_SHOW, "delete:{job}"):
        _, said = await forged_click(world, next_door, action, job)
        assert said == GONE, action
    assert not result.deleted
    assert not next_door.deleted


async def test_delete_and_cancel_act_only_from_the_jobs_own_message(world: World) -> None:
    mine = await imagine(world, "mine")
    await delivered(mine)
    bob = world.fake.add_user("bob")
    theirs = await delivered(await imagine(world, "theirs", user=bob))
    # Alice may delete her own result, but not bob's message through her job's id.
    _, said = await forged_click(world, theirs, "delete:{job}", mine)
    assert said == ELSEWHERE
    assert not theirs.deleted
    job, status = await slow_job(world, "slow")
    _, said = await forged_click(world, theirs, "cancel:{job}", job)
    assert said == ELSEWHERE
    await still_running_then_cancel(world, job, status)
