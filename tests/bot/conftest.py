from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fake_discord import FakeDiscord
from tests.support.bot_stack import Stack, full_stack


@pytest.fixture
async def stack(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[Stack]:
    async with full_stack(fake_discord, tmp_path) as running:
        yield running
