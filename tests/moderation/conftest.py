from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fake_discord import FakeDiscord
from tests.moderation.helpers import World, build_servers, start_clock
from tests.support.bot_stack import full_stack


@pytest.fixture
async def world(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[World]:
    """The real bot and worker (small engine) with two servers, roles and audit channels."""
    a, b, patron, staff = build_servers(fake_discord)
    async with full_stack(fake_discord, tmp_path) as stack:
        yield World(stack, a, b, patron, staff, start_clock(stack))
