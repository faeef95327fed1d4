"""The fake's data model: snowflakes, users, guilds, channels, stored messages, interactions."""

from __future__ import annotations

import copy
import itertools
import mimetypes
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import FakeDiscord

JSON = dict[str, Any]
DISCORD_EPOCH_MS = 1420070400000
INTERACTION_TTL = 15 * 60.0  # seconds an interaction token lives
EPHEMERAL, LOADING = 1 << 6, 1 << 7
# What an ordinary member (and the bot) may do: view, send, embed links, attach files, read
# history, use application commands.
DEFAULT_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 31)

_counter = itertools.count()


def snowflake(at: datetime | None = None) -> str:
    """A new unique snowflake whose timestamp is ``at`` (default: now)."""
    ms = int((at.timestamp() if at is not None else time.time()) * 1000)
    return str(((ms - DISCORD_EPOCH_MS) << 22) | (next(_counter) & 0x3FFFFF))


def snowflake_time(value: str | int) -> float:
    """The Unix time (seconds) encoded in a snowflake."""
    return ((int(value) >> 22) + DISCORD_EPOCH_MS) / 1000


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, read from its IHDR chunk; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None


def guess_type(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


@dataclass
class FakeUser:
    id: str
    name: str
    bot: bool = False
    roles: list[str] = field(default_factory=list)  # role ids, sent as the member's roles

    def payload(self) -> JSON:
        return {
            "id": self.id,
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class FakeChannel:
    id: str
    guild_id: str
    name: str
    type: int = 0  # 0 = guild text channel
    position: int = 0

    def payload(self) -> JSON:
        return {
            "id": self.id,
            "type": self.type,
            "guild_id": self.guild_id,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }


@dataclass
class FakeGuild:
    id: str
    name: str
    locale: str = "en-US"
    channels: dict[str, FakeChannel] = field(default_factory=dict)
    roles: list[JSON] = field(default_factory=list)

    def payload(self, bot: FakeUser) -> JSON:
        """A full GUILD_CREATE payload; its only member is the bot (no members intent)."""
        me = {
            "user": bot.payload(),
            "roles": [],
            "joined_at": iso_now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
        }
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "owner_id": self.id,
            "unavailable": False,
            "preferred_locale": self.locale,
            "features": [],
            "roles": self.roles,
            "channels": [c.payload() for c in self.channels.values()],
            "members": [me],
            "member_count": 2,
            "large": False,
            "threads": [],
            "emojis": [],
            "stickers": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "joined_at": iso_now(),
            "verification_level": 0,
            "mfa_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_id": None,
            "afk_timeout": 300,
        }


@dataclass(frozen=True)
class Upload:
    """A file a user attaches to a slash command (sent as an option of type 11)."""

    filename: str
    data: bytes
    content_type: str | None = None


@dataclass(frozen=True)
class Option:
    """An option value with a forced Discord option type (3 str, 4 int, 5 bool, 10 float...)."""

    value: Any
    type: int


@dataclass(frozen=True)
class UploadedFile:
    """One ``files[N]`` part of a multipart request."""

    index: int
    filename: str
    data: bytes


@dataclass
class RequestRecord:
    """One REST call as the fake saw it. ``auth`` is "bot", "bad" or "none" (never the token)."""

    method: str
    path: str
    query: dict[str, str]
    auth: str
    json: Any = None
    files: list[tuple[str, int]] = field(default_factory=list)
    status: int = 0
    known: bool = True  # False when no route matched (answered 404 "Unknown")
    fault: bool = False  # True when answered by an injected fault


@dataclass(eq=False)
class FakeMessage:
    """A stored message: ``data`` is the current Discord message object, ``history`` the
    earlier versions (oldest first), ``edit_times`` the monotonic times of each edit."""

    data: JSON
    blobs: dict[str, bytes]
    interaction_id: str | None = None
    history: list[JSON] = field(default_factory=list)
    edit_times: list[float] = field(default_factory=list)
    deleted: bool = False
    nonce: str | None = None  # echoed in the answer to the send only, as on Discord
    created: float = field(default_factory=time.monotonic)
    # Who got a notification for this message: only a new message pings, never an edit.
    pinged: list[str] = field(default_factory=list)
    allowed_mentions: JSON | None = None  # as sent with the message (None: not sent)

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def channel_id(self) -> str:
        return str(self.data["channel_id"])

    @property
    def content(self) -> str:
        return str(self.data["content"])

    @property
    def flags(self) -> int:
        return int(self.data["flags"])

    @property
    def embeds(self) -> list[JSON]:
        return list(self.data["embeds"])

    @property
    def attachments(self) -> list[JSON]:
        return list(self.data["attachments"])

    @property
    def components(self) -> list[JSON]:
        return list(self.data["components"])

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)

    @property
    def versions(self) -> list[JSON]:
        return [*self.history, self.data]

    @property
    def custom_ids(self) -> list[str]:
        """Every component custom_id on the message, depth first."""
        found: list[str] = []

        def walk(items: list[JSON]) -> None:
            for item in items:
                if "custom_id" in item:
                    found.append(str(item["custom_id"]))
                walk(item.get("components", []))

        walk(self.components)
        return found

    @property
    def reference_id(self) -> str | None:
        """The message this one replies to, if any."""
        reference = self.data.get("message_reference")
        return str(reference["message_id"]) if reference else None

    def attachment_bytes(self, index: int = 0) -> bytes:
        return self.blobs[str(self.attachments[index]["id"])]

    def edit(self, changes: JSON) -> None:
        self.history.append(copy.deepcopy(self.data))
        self.data.update(changes)
        self.data["edited_timestamp"] = iso_now()
        self.edit_times.append(time.monotonic())

    def max_edits_within(self, window: float = 5.0) -> int:
        """The most edits that fell inside any ``window`` seconds."""
        times, best, start = self.edit_times, 0, 0
        for end in range(len(times)):
            while times[end] - times[start] > window:
                start += 1
            best = max(best, end - start + 1)
        return best


USER_MENTION = re.compile(r"<@!?(\d+)>")


def pinged_users(payload: JSON, replied_author: str | None) -> list[str]:
    """The users a new message notifies, as Discord decides it: the users mentioned in its
    content, narrowed by `allowed_mentions` (no `allowed_mentions`: everyone mentioned),
    and the author of the message it replies to when `replied_user` allows it."""
    mentioned = USER_MENTION.findall(str(payload.get("content") or ""))
    allowed: JSON | None = payload.get("allowed_mentions")
    if allowed is None or "users" in (allowed.get("parse") or []):
        found = mentioned
    else:
        listed = {str(user) for user in allowed.get("users") or []}
        found = [user for user in mentioned if user in listed]
    if replied_author is not None and (allowed is None or allowed.get("replied_user")):
        found.append(replied_author)
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Callback:
    """An interaction callback: type 4 message, 5 deferred, 6 deferred update, 7 update, 9 modal."""

    type: int
    data: JSON
    files: list[str]

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL)


@dataclass(eq=False)
class FakeInteraction:
    """An interaction the fake sent, and everything the bot did with its token."""

    fake: FakeDiscord = field(repr=False)
    id: str
    token: str
    type: int  # 2 slash command, 3 component
    channel_id: str
    guild_id: str
    user: FakeUser
    payload: JSON = field(repr=False)
    attachment_size_limit: int
    message_id: str | None = None  # the message a clicked component is on
    callbacks: list[Callback] = field(default_factory=list)
    original_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)
    expired: bool = False
    sent_at: float = field(default_factory=time.monotonic)

    @property
    def is_expired(self) -> bool:
        return self.expired or time.time() - snowflake_time(self.id) > INTERACTION_TTL

    def expire(self) -> None:
        """From now on every webhook call with this token gets 401/50027."""
        self.expired = True

    @property
    def callback(self) -> Callback | None:
        return self.callbacks[0] if self.callbacks else None

    @property
    def original(self) -> FakeMessage | None:
        return self.fake.message(self.original_id) if self.original_id else None

    @property
    def followups(self) -> list[FakeMessage]:
        return [m for m in map(self.fake.message, self.followup_ids) if m is not None]

    async def wait_callback(self, timeout: float = 10.0) -> Callback:  # noqa: ASYNC109
        return await self.fake.wait_for(lambda: self.callback, timeout)

    async def wait_original(
        self,
        predicate: Callable[[FakeMessage], bool] = lambda m: True,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> FakeMessage:
        """Wait until the @original message exists and satisfies ``predicate``."""

        def check() -> FakeMessage | None:
            msg = self.original
            return msg if msg is not None and predicate(msg) else None

        return await self.fake.wait_for(check, timeout)

    async def wait_followups(
        self,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[FakeMessage]:
        return await self.fake.wait_for(
            lambda: self.followups if len(self.followups) >= count else None, timeout
        )
