"""What a failed Discord request means for a delivery: try again later, or stop.

Discord's JSON error codes: https://discord.com/developers/docs/topics/opcodes-and-status-codes
"""

from __future__ import annotations

from enum import Enum

import aiohttp
import discord

UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027
TOO_LARGE = 413
# Discord restricts an IP that makes too many of these (10,000 in 10 minutes).
INVALID_STATUSES = frozenset({401, 403, 429})


class Verdict(Enum):
    TRANSIENT = "transient"  # rate limited, Discord's own trouble, the network: try later
    TOKEN_DEAD = "token dead"  # the interaction token: use the bot's own token instead
    TOO_LARGE = "too large"  # the upload: encode it smaller
    MESSAGE_GONE = "message gone"  # deleted (by a moderator): post anew
    UNREACHABLE = "unreachable"  # channel deleted, access or permission lost, bot removed
    REJECTED = "rejected"  # any other refusal: asking again the same way cannot help

    @property
    def permanent(self) -> bool:
        return self in (Verdict.UNREACHABLE, Verdict.REJECTED)


def classify(error: BaseException) -> Verdict:
    if not isinstance(error, discord.HTTPException):
        return Verdict.TRANSIENT  # a dropped connection, a timeout, or a bug: try later
    status, code = error.status, error.code
    if code in (INVALID_WEBHOOK_TOKEN, UNKNOWN_WEBHOOK):
        return Verdict.TOKEN_DEAD
    if code == UNKNOWN_MESSAGE:
        return Verdict.MESSAGE_GONE
    if status == TOO_LARGE:
        return Verdict.TOO_LARGE
    # 401 with the bot token would mean the token itself was reset: the gateway drops
    # the bot then; retried later rather than closing every open delivery.
    if status in (401, 408, 429) or status >= 500:
        return Verdict.TRANSIENT
    if status in (403, 404) or code in (UNKNOWN_CHANNEL, UNKNOWN_GUILD, MISSING_ACCESS):
        return Verdict.UNREACHABLE
    return Verdict.REJECTED


def is_invalid(error: BaseException) -> bool:
    """Counts toward Discord's limit on invalid requests. A 404 does not, but a 404 for
    a channel or message is as much a request made in vain: it is counted too."""
    if not isinstance(error, discord.HTTPException):
        return False
    return error.status in INVALID_STATUSES or error.status == 404


def is_expected(error: BaseException) -> bool:
    """A failure of Discord or of the network, as opposed to a bug of ours."""
    return isinstance(error, (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError))


def describe(error: BaseException) -> str:
    """One short line: "403 Missing Access (code 50001)"."""
    if isinstance(error, discord.HTTPException):
        text = error.text.splitlines()[0] if error.text else (error.response.reason or "")
        return f"{error.status} {text} (code {error.code})"
    return f"{type(error).__name__}: {error}"
