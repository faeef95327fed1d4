"""Secrets never reach the log: the bot token, and the interaction tokens that travel in
webhook URLs, even with every library logging at DEBUG."""

from pathlib import Path

from tests.fake_discord import FakeDiscord
from tests.support import processes


async def test_no_token_in_a_whole_run_logged_at_debug(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    env = processes.stack_env(
        tmp_path, IMAGINE_SYNC_GUILD=fake.guild.id, IMAGINE_LOG_LEVEL="DEBUG", **fake.env()
    )
    worker = await processes.start("tests.support.fake_worker", env, tmp_path / "worker.log")
    bot = await processes.start("bot", env, tmp_path / "bot.log")
    await fake.wait_for(lambda: fake.guild_commands.get(fake.guild.id), 60)
    interaction = await fake.slash("imagine", {"prompt": "a lantern", "count": 2})
    await interaction.wait_original(lambda m: bool(m.attachments), 60)
    refused = await fake.slash("imagine", {"prompt": ""})
    await refused.wait_callback()
    assert await processes.stop(bot) == 0
    assert await processes.stop(worker) == 0

    log = (tmp_path / "bot.log").read_text() + (tmp_path / "worker.log").read_text()
    assert "DEBUG discord.http" in log  # the libraries really did log their requests
    for secret in (fake.token, interaction.token, refused.token):
        assert secret not in log
    assert "/webhooks/" in log
    assert "[redacted]" in log
