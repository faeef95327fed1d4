"""pytest fixtures; re-export them from tests/conftest.py to use them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .helpers import point_discord_py_at
from .server import FakeDiscord


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A running FakeDiscord on 127.0.0.1 with discord.py pointed at it."""
    async with FakeDiscord() as fake:
        with point_discord_py_at(fake):
            yield fake
