"""A message to put in Discord, kept as plain data until the moment it is sent.

A `discord.File` is read to its end by the request that carries it; a second request
with the same object (a retry through another route, after the interaction token died)
uploads empty files. A Draft makes new File objects for every request.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import discord

NamedFile = tuple[str, bytes]  # (filename, data)


@dataclass(frozen=True)
class Draft:
    content: str | None
    view: discord.ui.View | None
    embed: discord.Embed | None = None  # None: the embeds stay as they are
    files: tuple[NamedFile, ...] | None = None  # None: the attachments stay as they are
    mention: int | None = None  # the one user this message may notify, if any

    def edit_fields(self) -> dict[str, Any]:
        """Arguments for editing a message (webhook or channel route)."""
        fields: dict[str, Any] = {
            "content": self.content,
            "view": self.view,
            "allowed_mentions": self.allowed_mentions(),
        }
        if self.embed is not None:
            fields["embed"] = self.embed
        if self.files is not None:
            fields["attachments"] = self._files()
        return fields

    def send_fields(self) -> dict[str, Any]:
        """Arguments for sending it as a new message."""
        fields: dict[str, Any] = {
            "content": self.content,
            "allowed_mentions": self.allowed_mentions(),
            "files": self._files(),
        }
        if self.view is not None:
            fields["view"] = self.view
        if self.embed is not None:
            fields["embed"] = self.embed
        return fields

    def allowed_mentions(self) -> discord.AllowedMentions:
        if self.mention is None:
            return discord.AllowedMentions.none()
        return only_user(self.mention)

    def _files(self) -> list[discord.File]:
        return [discord.File(io.BytesIO(data), filename=name) for name, data in self.files or ()]


def only_user(user_id: int) -> discord.AllowedMentions:
    """May notify this one member, nobody else: no @everyone, no roles, no other users."""
    return discord.AllowedMentions(
        everyone=False, roles=False, users=[discord.Object(user_id)], replied_user=False
    )
