"""/imagine-admin defaults: what /imagine uses for the options a member leaves out, per
server, bounded by the server's caps. Checked on the jobs queued in the store."""

import asyncio
from collections.abc import Mapping

import pytest

from core.jobs import DEFAULT_GUIDANCE, DEFAULT_STEPS, JobParams
from tests.fake_discord import DEFAULT_PERMISSIONS, FakeInteraction, FakeUser
from tests.moderation.helpers import (
    DEFERRED,
    Server,
    World,
    admin,
    answer,
    configure,
    delivered,
)

Options = tuple[int, int, float, str, str, str]
BOTS_OWN: Options = (1, DEFAULT_STEPS, DEFAULT_GUIDANCE, "128x128", "dpmpp_2m", "")
MINE = {
    "count": 2,
    "steps": 7,
    "guidance": 9.5,
    "size": "256x128",
    "sampler": "ddim",
    "negative_prompt": "blurry",
}
MINE_SHOWN = (
    "**Defaults for /imagine**: 2 image(s) · 7 steps · guidance 9.5 · size 256x128 · DDIM"
    " · negative prompt: blurry\n"
)
NONE_SHOWN = "**Defaults for /imagine**: none set (the bot's own apply)\n"


def used(params: JobParams) -> Options:
    p = params
    return (p.count, p.steps, p.guidance, p.size, p.sampler, p.negative_prompt)


async def request(
    world: World,
    options: Mapping[str, object] | None = None,
    *,
    server: Server | None = None,
    user: FakeUser | None = None,
) -> FakeInteraction:
    """/imagine with only the options given (unlike helpers.imagine's small steps)."""
    guild = (server or world.a).guild
    wanted = {"prompt": "a lighthouse", **(options or {})}
    return await world.fake.slash("imagine", wanted, guild=guild, user=user)


async def queued(world: World, interaction: FakeInteraction) -> JobParams:
    """The parameters of the job the request queued (it must have been accepted)."""
    callback = await interaction.wait_callback()
    assert callback.type == DEFERRED, callback.data
    async with asyncio.timeout(10):
        while (job := await world.stack.store.get(str(interaction.id))) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    await delivered(interaction)
    return job.params


async def member_gets(
    world: World, options: Mapping[str, object] | None = None, *, server: Server | None = None
) -> Options:
    painter = world.fake.add_user("painter")
    return used(await queued(world, await request(world, options, server=server, user=painter)))


async def test_a_members_request_gets_the_servers_defaults(world: World) -> None:
    saved = await configure(world, "defaults", MINE)
    assert saved.startswith("Saved.\n")
    assert MINE_SHOWN in saved
    assert MINE_SHOWN in await configure(world, "settings")
    painter = world.fake.add_user("painter")
    job = await request(world, {"prompt": "a red fox"}, user=painter)
    assert used(await queued(world, job)) == (2, 7, 9.5, "256x128", "ddim", "blurry")
    # The result shows what was used.
    [embed] = (await delivered(job)).embeds
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert (fields["Steps"], fields["Guidance"], fields["Size"]) == ("7 (DDIM)", "9.5", "256x128")
    assert fields["Negative prompt"] == "blurry"


async def test_options_a_member_gives_win_over_the_defaults(world: World) -> None:
    await configure(world, "defaults", MINE)
    explicit = {
        "count": 1,
        "steps": 3,
        "guidance": 0.0,
        "size": "128x128",
        "sampler": "dpmpp_2m",
        "negative_prompt": "dark",
    }
    assert await member_gets(world, explicit) == (1, 3, 0.0, "128x128", "dpmpp_2m", "dark")
    # One option given, the others from the defaults.
    assert await member_gets(world, {"steps": 4}) == (2, 4, 9.5, "256x128", "ddim", "blurry")


async def test_one_servers_defaults_do_not_apply_in_another(world: World) -> None:
    await configure(world, "defaults", MINE)
    assert await member_gets(world, server=world.b) == BOTS_OWN
    assert NONE_SHOWN in await configure(world, "settings", server=world.b)
    await configure(world, "defaults", {"steps": 3, "reset": True}, server=world.b)
    assert await member_gets(world, server=world.b) == (1, 3, 7.5, "128x128", "dpmpp_2m", "")
    assert MINE_SHOWN in await configure(world, "settings")
    assert await member_gets(world) == (2, 7, 9.5, "256x128", "ddim", "blurry")


async def test_a_member_without_manage_server_cannot_set_defaults(world: World) -> None:
    forged = await admin(world, "defaults", {"steps": 3}, permissions=DEFAULT_PERMISSIONS)
    assert await answer(forged) == "You are not allowed to do that here."
    assert NONE_SHOWN in await configure(world, "settings")
    assert await member_gets(world) == BOTS_OWN


@pytest.mark.parametrize(
    ("options", "reply"),
    [
        ({"count": 0}, "count must be between 1 and 4."),
        ({"count": 5}, "count must be between 1 and 4."),
        ({"steps": 0}, "steps must be between 1 and 100."),
        ({"steps": 101}, "steps must be between 1 and 100."),
        ({"guidance": 30.5}, "guidance must be between 0.0 and 30.0."),
        ({"size": "640x640"}, "640x640 is not offered here; pick one of 128x128, 256x128."),
        ({"size": "huge"}, "huge is not offered here; pick one of 128x128, 256x128."),
        ({"sampler": "euler"}, "Some options of this command were not understood"),
        ({"negative_prompt": "a " * 80}, "Your prompt is 82 tokens long"),
        ({"negative_prompt": "bad\x07"}, "The negative_prompt contains control characters"),
        # One value wrong: the others given with it are not saved either.
        ({"count": 4, "steps": 200, "reset": True}, "steps must be between 1 and 100."),
    ],
)
async def test_values_imagine_would_refuse_are_refused_and_change_nothing(
    world: World, options: dict[str, object], reply: str
) -> None:
    await configure(world, "defaults", {"steps": 7})
    assert (await configure(world, "defaults", options)).startswith(reply)
    assert "**Defaults for /imagine**: 7 steps\n" in await configure(world, "settings")
    assert await member_gets(world) == (1, 7, 7.5, "128x128", "dpmpp_2m", "")


@pytest.mark.parametrize(
    ("options", "reply"),
    [
        ({"steps": 11}, "A default of 11 steps is over this server's cap of 10 steps;"),
        ({"count": 3}, "A default of 3 image(s) is over this server's cap of 2 per request;"),
        ({"size": "256x128"}, "A default size of 256x128 is over this server's cap of 128x128;"),
        ({"steps": 11, "count": 1}, "A default of 11 steps is over this server's cap"),
    ],
)
async def test_a_default_over_a_cap_is_refused_and_changes_nothing(
    world: World, options: dict[str, object], reply: str
) -> None:
    await configure(world, "caps", {"steps": 10, "count": 2, "size": "128x128"})
    await configure(world, "defaults", {"steps": 9})
    refused = await configure(world, "defaults", options)
    assert refused.startswith(reply)
    assert refused.count(".") == 1  # one sentence
    assert "**Defaults for /imagine**: 9 steps\n" in await configure(world, "settings")


async def test_a_cap_lowered_later_lowers_the_default_in_use(world: World) -> None:
    await configure(world, "defaults", {"steps": 30, "count": 4, "size": "256x128"})
    capped = await configure(world, "caps", {"steps": 10, "count": 2, "size": "128x128"})
    assert (
        "**Defaults for /imagine**: 2 image(s) (set to 4, which this server does not allow now)"
        " · 10 steps (set to 30, which this server does not allow now)"
        " · size 128x128 (set to 256x128, which this server does not allow now)\n"
    ) in capped
    assert await member_gets(world) == (2, 10, 7.5, "128x128", "dpmpp_2m", "")
    # Asked for explicitly, over a cap is still refused.
    over = await answer(await request(world, {"steps": 11}))
    assert over == "This server allows at most 10 steps."
    # The cap lifted: the defaults as set apply again.
    await configure(world, "caps", {"steps": 0, "count": 0, "size": "none"})
    assert await member_gets(world) == (4, 30, 7.5, "256x128", "dpmpp_2m", "")


async def test_the_bots_own_defaults_are_lowered_to_the_caps_too(world: World) -> None:
    await configure(world, "caps", {"steps": 10})
    assert await member_gets(world) == (1, 10, 7.5, "128x128", "dpmpp_2m", "")


async def test_reset_clears_every_default(world: World) -> None:
    await configure(world, "defaults", MINE)
    cleared = await configure(world, "defaults", {"reset": True})
    assert cleared.startswith("Saved.\n")
    assert NONE_SHOWN in cleared
    assert await member_gets(world) == BOTS_OWN
    # Reset with values: only those values stay set.
    await configure(world, "defaults", MINE)
    again = await configure(world, "defaults", {"reset": True, "guidance": 4.0})
    assert "**Defaults for /imagine**: guidance 4\n" in again
    assert await member_gets(world) == (1, DEFAULT_STEPS, 4.0, "128x128", "dpmpp_2m", "")


async def test_setting_some_defaults_keeps_the_others(world: World) -> None:
    await configure(world, "defaults", MINE)
    await configure(world, "defaults", {"steps": 12, "sampler": "dpmpp_2m"})
    assert await member_gets(world) == (2, 12, 9.5, "256x128", "dpmpp_2m", "blurry")


async def test_banned_words_are_not_looked_for_in_the_default_negative_prompt(
    world: World,
) -> None:
    # Moderators may keep out of every picture what they ban in prompts.
    await configure(world, "words add", {"words": "gore"})
    await configure(world, "defaults", {"negative_prompt": "gore, blurry"})
    assert await member_gets(world) == (
        1,
        DEFAULT_STEPS,
        7.5,
        "128x128",
        "dpmpp_2m",
        "gore, blurry",
    )
    refused = await answer(await request(world, {"negative_prompt": "gore"}))
    assert refused.startswith("This prompt can't be used in this server.")
