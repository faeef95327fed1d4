"""/imagine-admin is for Manage Server only: what Discord shows, and what the bot enforces
even when an interaction claims a command the member should not have seen."""

import pytest

from tests.fake_discord import DEFAULT_PERMISSIONS
from tests.moderation.helpers import MANAGE_GUILD, World, admin, answer, imagine

NOT_ALLOWED = "You are not allowed to do that here."

EVERY_COMMAND = [
    ("settings", {}),
    ("limits", {"per_member": 1}),
    ("caps", {"steps": 5}),
    ("defaults", {"steps": 5, "count": 2}),
    ("defaults", {"reset": True}),
    ("tier set", {"role": "patron", "per_member": 50}),
    ("tier remove", {"role": "patron"}),
    ("exempt add", {"role": "staff"}),
    ("exempt remove", {"role": "staff"}),
    ("words add", {"words": "lighthouse"}),
    ("words remove", {"words": "lighthouse"}),
    ("words list", {}),
    ("block", {"member": "self"}),
    ("unblock", {"member": "self"}),
    ("blocked", {}),
    ("audit", {"channel": "audit"}),
    ("usage", {}),
    ("export", {}),
]


def _resolve(world: World, options: dict[str, object]) -> dict[str, object]:
    named = {
        "patron": world.patron,
        "staff": world.staff,
        "self": world.fake.user,
        "audit": world.a.audit,
    }
    return {k: named.get(v, v) if isinstance(v, str) else v for k, v in options.items()}


async def test_discord_shows_the_group_to_manage_server_only(world: World) -> None:
    synced = world.fake.guild_commands[world.a.guild.id]
    [group] = [c for c in synced if c["name"] == "imagine-admin"]
    assert int(group["default_member_permissions"]) == MANAGE_GUILD
    assert group["dm_permission"] is False
    names = {option["name"] for option in group["options"]}
    assert names == {path.split()[0] for path, _ in EVERY_COMMAND}
    [quota] = [c for c in synced if c["name"] == "quota"]
    assert quota["default_member_permissions"] is None  # /quota is for everyone


@pytest.mark.parametrize(("path", "options"), EVERY_COMMAND, ids=[p for p, _ in EVERY_COMMAND])
async def test_a_member_without_manage_server_is_refused_every_command(
    world: World, path: str, options: dict[str, object]
) -> None:
    # Discord would not show the command; this interaction is forged, or an admin let
    # everyone see it: the bot refuses it all the same, and changes nothing.
    forged = await admin(world, path, _resolve(world, options), permissions=DEFAULT_PERMISSIONS)
    assert await answer(forged) == NOT_ALLOWED
    shown = await answer(await admin(world, "settings"))
    assert "**Images per day**: no limit per member" in shown
    assert "**Banned words**: 0 · **Blocked members**: 0" in shown
    assert "**Audit channel**: -" in shown
    assert "**Defaults for /imagine**: none set" in shown
    assert await world.stack.store.head() == 0  # nothing was queued either
    accepted = await imagine(world, "a lighthouse")
    assert (await accepted.wait_callback()).type == 5  # not blocked, no word banned


async def test_manage_server_in_the_interaction_is_what_counts(world: World) -> None:
    # The same member: with the permission (as Discord computed it here) allowed.
    done = await admin(world, "limits", {"per_member": 7})
    assert (await answer(done)).startswith("Saved.")
    refused = await admin(world, "limits", {"per_member": 1}, permissions=DEFAULT_PERMISSIONS)
    assert await answer(refused) == NOT_ALLOWED
    assert "7 per member" in await answer(await admin(world, "settings"))
