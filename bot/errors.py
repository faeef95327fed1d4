"""One error handler for every command: a short sentence for the member, in their
language; the traceback, under an id they can report, for the log."""

from __future__ import annotations

import logging
import secrets

import discord
from discord import app_commands

from bot.i18n import t

log = logging.getLogger(__name__)

# Errors a member can cause (or a client that sent what Discord would not), by message key.
_KNOWN: tuple[tuple[type[app_commands.AppCommandError], str], ...] = (
    (app_commands.CommandNotFound, "unknown_command"),
    (app_commands.CommandSignatureMismatch, "bad_options"),
    (app_commands.TransformerError, "bad_options"),
    (app_commands.NoPrivateMessage, "guild_only"),
    (app_commands.CheckFailure, "not_allowed"),
)


class ImagineTree(app_commands.CommandTree[discord.Client]):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        await reply_to_error(interaction, error)


async def reply_to_error(interaction: discord.Interaction, error: Exception) -> None:
    locale = str(interaction.locale)
    key = next((key for kind, key in _KNOWN if isinstance(error, kind)), None)
    if key is None:
        error_id = secrets.token_hex(4)
        log.error("Error %s in %s", error_id, _describe(interaction), exc_info=error)
        text = t("unexpected", locale, error_id=error_id)
    else:
        log.info("Refused %s: %s", _describe(interaction), type(error).__name__)
        text = t(key, locale)
    await reply(interaction, text)


async def reply(interaction: discord.Interaction, text: str) -> None:
    """Answers privately if the interaction is unanswered, else in its deferred message."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
        else:
            await interaction.edit_original_response(content=text, embed=None, attachments=[])
    except discord.HTTPException:
        log.warning("Could not tell %s about an error", _describe(interaction))


def _describe(interaction: discord.Interaction) -> str:
    name = interaction.command.qualified_name if interaction.command else "an interaction"
    return f"{name} (guild {interaction.guild_id}, user {interaction.user.id})"
