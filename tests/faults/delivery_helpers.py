"""Shared steps of the delivery fault tests: a job queued by a bot that then stops, what
the bot's own file says of a job, and a "crash" at a chosen line."""

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.fake_discord import FakeDiscord, FakeInteraction
from tests.support.bot_stack import running_bot


async def queued_while_the_bot_runs(fake: FakeDiscord, tmp_path: Path) -> FakeInteraction:
    """/imagine shows its status, then the bot stops (no worker runs meanwhile)."""
    async with running_bot(fake, tmp_path):
        interaction = await fake.slash("imagine", {"prompt": "a fox", "steps": 3})
        await interaction.wait_original(lambda m: m.content.startswith("Queued"))
    return interaction


def ledger_row(bot_db: Path, job_id: str) -> dict[str, object]:
    """Whether the job's delivery is closed, its usage rows, its reservation rows."""
    with sqlite3.connect(bot_db) as db:
        (delivered_at,) = db.execute(
            "SELECT delivered_at FROM deliveries WHERE job_id = ?", (job_id,)
        ).fetchone()
        (usage,) = db.execute("SELECT COUNT(*) FROM usage WHERE job_id = ?", (job_id,)).fetchone()
        (held,) = db.execute(
            "SELECT COUNT(*) FROM mod_reservations WHERE job_id = ?", (job_id,)
        ).fetchone()
    return {"closed": delivered_at is not None, "usage": usage, "reserved": held}


def stuck_at(released: asyncio.Event) -> Callable[..., Awaitable[None]]:
    """A stand-in for a ledger write that never returns: the process "dies" right there,
    after what came before it (a send to Discord) and before anything is noted."""

    async def never_returns(*args: object, **kwargs: object) -> None:
        await released.wait()

    return never_returns


def open_sends(bot_db: Path) -> list[str]:
    """The sends noted as about to be made and not confirmed yet, by kind."""
    with sqlite3.connect(bot_db) as db:
        return [kind for (kind,) in db.execute("SELECT kind FROM send_intents ORDER BY kind")]


def token_times_passed(interaction: FakeInteraction, bot_db: Path) -> None:
    """Fifteen minutes on: Discord refuses the interaction's token, and the time the bot
    noted for it has passed."""
    interaction.expire()
    with sqlite3.connect(bot_db) as db:
        db.execute("UPDATE deliveries SET token_expires = 0 WHERE job_id = ?", (interaction.id,))
