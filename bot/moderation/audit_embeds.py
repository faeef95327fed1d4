"""What an audit post shows, as an embed that Discord always takes.

Discord refuses a whole message whose embed breaks one of its limits (a field value over
1024 characters, a description over 4096, 6000 in all), so every text is cut to fit.
What a member wrote and moderators hide behind a spoiler has its markdown escaped: a
`||` in a prompt would otherwise close the spoiler early and show the rest.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.i18n import t

TITLE_CHARS = 256
FIELD_NAME_CHARS = 256
FIELD_VALUE_CHARS = 1024
DESCRIPTION_CHARS = 4096
EMBED_CHARS = 6000  # title, description, and every field's name and value together
ELLIPSIS = "…"


def result_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def job_embed(body: dict[str, Any]) -> discord.Embed:
    """A delivered job: its prompt, requester, result link and negative prompt."""
    locale = body["locale"]
    fields = [
        (t("audit_requester", locale), f"<@{body['user_id']}>", True),
        (t("audit_result", locale), body["link"], True),
    ]
    if body["negative_prompt"]:
        fields.append((t("field_negative", locale), clip(body["negative_prompt"]), False))
    return _embed(t("audit_job_title", locale), body["prompt"], fields, hidden=False)


def refusal_embed(body: dict[str, Any]) -> discord.Embed:
    """A refused prompt, and the banned words found in it, each behind a spoiler (the
    moderators choose whether to read them)."""
    locale = body["locale"]
    fields = [
        (t("audit_requester", locale), f"<@{body['user_id']}>", True),
        (t("audit_words", locale), spoiler(", ".join(body["found"])), True),
    ]
    if body["unposted"]:
        note = t("audit_unposted", locale, count=body["unposted"])
        fields.append((t("audit_unposted_title", locale), note, False))
    return _embed(t("audit_refused_title", locale), body["prompt"], fields, hidden=True)


def _embed(
    title: str, text: str, fields: list[tuple[str, str, bool]], *, hidden: bool
) -> discord.Embed:
    """The embed, with the description cut to what the other parts leave of 6000."""
    title = clip(title, TITLE_CHARS)
    fields = [(clip(name, FIELD_NAME_CHARS), clip(value), inline) for name, value, inline in fields]
    used = len(title) + sum(len(name) + len(value) for name, value, _ in fields)
    room = min(DESCRIPTION_CHARS, EMBED_CHARS - used)
    description = spoiler(text, room) if hidden else clip(text, room)
    embed = discord.Embed(title=title, description=description)
    for name, value, inline in fields:
        embed.add_field(name=name, value=value, inline=inline)
    return embed


def clip(text: str, limit: int = FIELD_VALUE_CHARS) -> str:
    """`text`, ending in an ellipsis if it had to be cut to `limit` characters."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def spoiler(text: str, limit: int = FIELD_VALUE_CHARS) -> str:
    """`text` behind a spoiler nothing in it can close early, in `limit` characters."""
    # ignore_links=False: a link is escaped too, or a `||` inside one would close it.
    escaped = discord.utils.escape_markdown(text, ignore_links=False)
    return f"||{clip(escaped, limit - 4)}||"  # the spoiler's own four bars
