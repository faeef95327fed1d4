"""Driving /imagine-admin, /quota and /imagine through the fake Discord, for moderation
tests: two servers, each with a general and an audit channel, roles in the first."""

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fake_discord import (
    DEFAULT_PERMISSIONS,
    EPHEMERAL,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeInteraction,
    FakeMessage,
    FakeUser,
    snowflake,
)
from tests.support.bot_stack import Stack
from tests.support.clock import FakeClock

MANAGE_GUILD = 1 << 5
MODERATOR = DEFAULT_PERMISSIONS | MANAGE_GUILD
DEFERRED, MESSAGE = 5, 4

JSON = dict[str, Any]


@dataclass(frozen=True)
class Role:
    id: str
    name: str

    def payload(self) -> JSON:
        return {
            "id": self.id,
            "name": self.name,
            "permissions": "0",
            "position": 1,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass(frozen=True)
class Server:
    guild: FakeGuild
    general: FakeChannel
    audit: FakeChannel


@dataclass
class World:
    stack: Stack
    a: Server
    b: Server
    patron: Role  # a role in server A, for tiers
    staff: Role  # a role in server A, for exemptions
    clock: FakeClock

    @property
    def fake(self) -> FakeDiscord:
        return self.stack.fake


def build_servers(fake: FakeDiscord) -> tuple[Server, Server, Role, Role]:
    """The world before the bot connects, so it learns every channel and role."""
    a = Server(fake.guild, fake.channel, fake.add_channel(fake.guild, "mod-log"))
    other = fake.add_guild("Other server")
    b = Server(other, fake.add_channel(other, "general"), fake.add_channel(other, "mod-log"))
    patron, staff = Role(snowflake(), "Patron"), Role(snowflake(), "Staff")
    a.guild.roles += [patron.payload(), staff.payload()]
    return a, b, patron, staff


def start_clock(world_stack: Stack) -> FakeClock:
    """Moderation's clock, from now on moved only by the test (the job store keeps the
    wall clock, and the usage it logs stays within the test's first seconds)."""
    clock = FakeClock(time.time())
    world_stack.bot.moderation.clock = clock
    return clock


def _option(name: str, value: object, resolved: JSON) -> JSON:
    if isinstance(value, FakeUser):
        resolved.setdefault("users", {})[value.id] = value.payload()
        return {"name": name, "type": 6, "value": value.id}
    if isinstance(value, Role):
        resolved.setdefault("roles", {})[value.id] = value.payload()
        return {"name": name, "type": 8, "value": value.id}
    if isinstance(value, FakeChannel):
        channel = {**value.payload(), "permissions": str(DEFAULT_PERMISSIONS)}
        resolved.setdefault("channels", {})[value.id] = channel
        return {"name": name, "type": 7, "value": value.id}
    kinds = {bool: 5, int: 4, float: 10, str: 3}
    return {"name": name, "type": kinds[type(value)], "value": value}


async def admin(
    world: World,
    path: str,
    options: Mapping[str, object] | None = None,
    *,
    server: Server | None = None,
    user: FakeUser | None = None,
    permissions: int = MODERATOR,
    locale: str = "en-US",
) -> FakeInteraction:
    """`/imagine-admin <path> options...`, by a moderator of server A unless told."""
    resolved: JSON = {}
    leaf_options = [_option(k, v, resolved) for k, v in (options or {}).items()]
    *group, leaf = path.split()
    tree: list[JSON] = [{"type": 1, "name": leaf, "options": leaf_options}]
    if group:
        tree = [{"type": 2, "name": group[0], "options": tree}]
    return await world.fake.slash(
        "imagine-admin",
        tree,
        guild=(server or world.a).guild,
        user=user,
        permissions=permissions,
        resolved=resolved,
        locale=locale,
    )


async def imagine(
    world: World,
    prompt: str,
    *,
    server: Server | None = None,
    user: FakeUser | None = None,
    **options: object,
) -> FakeInteraction:
    """/imagine with small fast defaults (2 steps)."""
    return await world.fake.slash(
        "imagine",
        {"prompt": prompt, "steps": 2, **options},
        guild=(server or world.a).guild,
        user=user,
    )


async def answer(interaction: FakeInteraction) -> str:
    """The private sentence an interaction was answered with."""
    callback = await interaction.wait_callback()
    assert callback.type == MESSAGE, callback
    assert callback.data["flags"] & EPHEMERAL
    return str(callback.data["content"])


async def accepted(interaction: FakeInteraction) -> bool:
    """True if the request was queued (deferred), False if refused privately."""
    callback = await interaction.wait_callback()
    return callback.type == DEFERRED


async def delivered(interaction: FakeInteraction) -> FakeMessage:
    return await interaction.wait_original(lambda m: bool(m.attachments), 30)


async def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """For what the fake Discord does not see (the bot's own database): polls."""
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - a database row has no event to wait on
            await asyncio.sleep(0.02)


def usage_rows(world: World) -> int:
    """Jobs logged as delivered in the bot's ledger (written just after the edit)."""
    with sqlite3.connect(world.stack.bot_db) as db:
        return int(db.execute("SELECT COUNT(*) FROM usage").fetchone()[0])


async def configure(
    world: World,
    path: str,
    options: Mapping[str, object] | None = None,
    *,
    server: Server | None = None,
) -> str:
    """A moderator's command, once answered (what it changes is in place by then)."""
    return await answer(await admin(world, path, options, server=server))


async def settled(world: World) -> None:
    """Waits until every job's delivery is closed in the ledger (just after its last edit):
    from then on, quotas count its images as used, or as given back."""

    def open_deliveries() -> int:
        with sqlite3.connect(world.stack.bot_db) as db:
            return int(
                db.execute("SELECT COUNT(*) FROM deliveries WHERE delivered_at IS NULL").fetchone()[
                    0
                ]
            )

    await eventually(lambda: open_deliveries() == 0)
