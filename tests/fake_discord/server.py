"""FakeDiscord: the REST API, a CDN for attachments, the gateway and the API tests drive it with."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from .gateway import Gateway
from .state import (
    DEFAULT_PERMISSIONS,
    EPHEMERAL,
    JSON,
    LOADING,
    Callback,
    FakeChannel,
    FakeGuild,
    FakeInteraction,
    FakeMessage,
    FakeUser,
    Option,
    RequestRecord,
    Upload,
    UploadedFile,
    guess_type,
    image_size,
    iso_now,
    pinged_users,
    snowflake,
)

_T = TypeVar("_T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API = "/api/v10"
PAYLOAD: web.RequestKey[Any] = web.RequestKey("payload")
FILES = web.RequestKey("files", list[UploadedFile])
UNKNOWN = web.RequestKey("unknown", bool)
_ERRORS: dict[int, tuple[str, int]] = {
    401: ("Invalid Webhook Token", 50027),
    404: ("Unknown", 0),
    413: ("Request entity too large", 40005),
    500: ("500: Internal Server Error", 0),
    502: ("502: Bad Gateway", 0),
}


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json`` (no charset)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def error(status: int, message: str, code: int) -> web.Response:
    return json_response({"message": message, "code": code}, status)


# Discord's limits on an embed; a message with one embed past them is refused whole.
EMBED_LIMITS = {"title": 256, "description": 4096, "field_name": 256, "field_value": 1024}
EMBED_TOTAL, EMBED_FIELDS = 6000, 25


def embeds_too_large(payload: Any) -> bool:
    """Whether a message payload (or an interaction callback's `data`) holds an embed
    Discord would refuse with 400 Invalid Form Body (code 50035)."""
    if not isinstance(payload, dict):
        return False
    data = payload.get("data")
    embeds = list(payload.get("embeds") or []) + list(
        (data.get("embeds") or []) if isinstance(data, dict) else []
    )
    return any(_embed_too_large(embed) for embed in embeds)


def _embed_too_large(embed: JSON) -> bool:
    texts = {"title": embed.get("title") or "", "description": embed.get("description") or ""}
    fields = embed.get("fields") or []
    parts = [
        *((len(texts[key]), EMBED_LIMITS[key]) for key in texts),
        *((len(f["name"]), EMBED_LIMITS["field_name"]) for f in fields),
        *((len(f["value"]), EMBED_LIMITS["field_value"]) for f in fields),
    ]
    footer = (embed.get("footer") or {}).get("text") or ""
    author = (embed.get("author") or {}).get("name") or ""
    total = sum(size for size, _ in parts) + len(footer) + len(author)
    over = any(size > limit for size, limit in parts)
    return over or len(fields) > EMBED_FIELDS or total > EMBED_TOTAL


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


@dataclass
class FaultRule:
    """Answers the next ``times`` requests matching ``method`` and ``pattern`` with ``status``."""

    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: float
    is_global: bool
    body: JSON = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.hits < self.times
            and self.method in ("*", method)
            and self.pattern.search(path) is not None
        )

    def response(self) -> web.Response:
        self.hits += 1
        if self.status != 429:
            return json_response(self.body, self.status)
        headers = {
            "Retry-After": str(math.ceil(self.retry_after)),
            "Via": "1.1 google",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + self.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{self.retry_after:.3f}",
            "X-RateLimit-Bucket": "fakebucket",
            "X-RateLimit-Scope": "global" if self.is_global else "user",
        }
        if self.is_global:
            headers["X-RateLimit-Global"] = "true"
        return json_response(self.body, 429, headers)


@dataclass
class Hold:
    """Keeps the next request matching ``method`` and ``pattern`` waiting until released."""

    method: str
    pattern: re.Pattern[str]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, method: str, path: str) -> bool:
        return (
            not self.arrived.is_set()
            and self.method in ("*", method)
            and self.pattern.search(path) is not None
        )


class FakeDiscord:
    """A local Discord for a real discord.py client. Use ``async with FakeDiscord() as fake``."""

    def __init__(
        self,
        token: str = "fake-bot-token",
        *,
        upload_limit: int = 10 * 1024 * 1024,
        heartbeat_interval: float = 41.25,
        followup_replaces_deferred: bool = True,
        callback_deadline: float | None = None,
    ) -> None:
        self.token = token
        self.upload_limit = upload_limit
        self.heartbeat_interval = heartbeat_interval
        # Like Discord: the first follow-up after a "thinking" defer fills the loading message.
        self.followup_replaces_deferred = followup_replaces_deferred
        self.callback_deadline = callback_deadline  # None: never "Unknown interaction" for lateness
        self.bot_user = FakeUser(snowflake(), "FakeBot", bot=True)
        self.application_id = self.bot_user.id
        self.user = FakeUser(snowflake(), "alice")
        self.guilds: dict[str, FakeGuild] = {}
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[str, list[JSON]] = {}
        self.requests: list[RequestRecord] = []
        self.interactions: list[FakeInteraction] = []
        self.faults: list[FaultRule] = []
        self.holds: list[Hold] = []
        # Discord keeps a nonce sent with enforce_nonce unique for "a few minutes".
        self.nonce_window = 120.0
        self.denied: dict[str, int] = {}  # channel id -> the 403 code the bot gets there
        self.kicked: set[str] = set()  # guilds the bot was removed from
        self.history_hidden: set[str] = set()  # channels without "Read Message History"
        self.gateway = Gateway(self)
        self._messages: dict[str, FakeMessage] = {}
        self._blobs: dict[str, bytes] = {}
        self._by_token: dict[str, FakeInteraction] = {}
        self._cond = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.guild = self.add_guild("Test Guild")
        self.channel = self.add_channel(self.guild, "general")

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, port: int = 0) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 30)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{aid}/{filename}", self._cdn)
        for method, path, handler in self._routes():
            app.router.add_route(method, API + path, handler)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def env(self) -> dict[str, str]:
        """Settings that point a ``python -m bot`` subprocess at this fake."""
        return {
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
            "DISCORD_TOKEN": self.token,
        }

    # -- world building ----------------------------------------------------------------------

    def add_guild(self, name: str = "Guild", *, locale: str = "en-US") -> FakeGuild:
        """Add a guild (before the client connects: it is announced at IDENTIFY)."""
        guild = FakeGuild(snowflake(), name, locale)
        guild.roles.append(
            {
                "id": guild.id,
                "name": "@everyone",
                "permissions": str(DEFAULT_PERMISSIONS),
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        )
        self.guilds[guild.id] = guild
        return guild

    def add_channel(self, guild: FakeGuild, name: str = "channel") -> FakeChannel:
        channel = FakeChannel(snowflake(), guild.id, name, position=len(guild.channels))
        guild.channels[channel.id] = channel
        return channel

    def deny(self, channel: FakeChannel, code: int = 50001) -> None:
        """The bot loses access to ``channel``: its own token gets 403 there (50001 Missing
        Access, or 50013 Missing Permissions); interaction tokens still work."""
        self.denied[channel.id] = code

    def hide_history(self, channel: FakeChannel) -> None:
        """The bot may still send in ``channel`` but no longer read its past messages."""
        self.history_hidden.add(channel.id)

    def remove_channel(self, channel: FakeChannel) -> None:
        """The channel is deleted: every route to it answers 404 Unknown Channel (10003)."""
        self.guilds[channel.guild_id].channels.pop(channel.id, None)

    def kick_bot(self, guild: FakeGuild) -> None:
        """The bot is removed from ``guild``: its token gets 403 Missing Access there."""
        self.kicked.add(guild.id)

    async def delete_message(self, message: FakeMessage) -> None:
        """A moderator deletes ``message``."""
        message.deleted = True
        await self._notify()

    def add_user(self, name: str) -> FakeUser:
        return FakeUser(snowflake(), name)

    def channel_by_id(self, channel_id: str) -> FakeChannel | None:
        return next(
            (g.channels[channel_id] for g in self.guilds.values() if channel_id in g.channels), None
        )

    # -- observing ---------------------------------------------------------------------------

    def message(self, message_id: str) -> FakeMessage | None:
        return self._messages.get(str(message_id))

    def messages(
        self, channel: FakeChannel | str | None = None, *, include_deleted: bool = False
    ) -> list[FakeMessage]:
        """Messages in a channel (default: the default channel), oldest first."""
        cid = (channel or self.channel).id if not isinstance(channel, str) else channel
        return [
            m
            for m in self._messages.values()
            if m.channel_id == cid and (include_deleted or not m.deleted)
        ]

    def blob(self, attachment_id: str) -> bytes:
        """The bytes received for an attachment."""
        return self._blobs[str(attachment_id)]

    def replies_to(self, message: FakeMessage) -> list[FakeMessage]:
        """Messages (deleted ones too) that reply to ``message``, oldest first."""
        return [m for m in self._messages.values() if m.reference_id == message.id]

    def pings(self, user: FakeUser | str) -> list[FakeMessage]:
        """Messages (deleted ones too) that notified ``user``, oldest first."""
        uid = user.id if isinstance(user, FakeUser) else str(user)
        return [m for m in self._messages.values() if uid in m.pinged]

    @property
    def unknown_requests(self) -> list[RequestRecord]:
        return [r for r in self.requests if not r.known]

    async def wait_for(
        self,
        predicate: Callable[[], _T | None],
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> _T:
        """Wait until ``predicate()`` is truthy (re-checked on every state change); return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"fake Discord: condition not met within {timeout}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), remaining)

    async def wait_until_identified(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until a client has a live, identified (or resumed) gateway session."""
        await self.wait_for(
            lambda: self.gateway.active is not None and self.gateway.active.live, timeout
        )

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    # -- fault injection ---------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        message: str | None = None,
        code: int | None = None,
    ) -> FaultRule:
        """Answer the next ``times`` requests whose method is ``method`` ("*" = any) and whose
        path after /api/v10 matches ``path_regex`` (re.search) with ``status``."""
        if status == 429:
            body: JSON = {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": is_global,
            }
        else:
            default_message, default_code = _ERRORS.get(status, (f"{status}: Error", 0))
            body = {
                "message": message or default_message,
                "code": default_code if code is None else code,
            }
        rule = FaultRule(
            method.upper(), re.compile(path_regex), status, times, retry_after, is_global, body
        )
        self.faults.append(rule)
        return rule

    def hold_next(self, method: str, path_regex: str) -> Hold:
        """Keep the next matching request (path after /api/v10) waiting: ``arrived`` is set
        when it comes, and it is answered once ``release`` is set."""
        hold = Hold(method.upper(), re.compile(path_regex))
        self.holds.append(hold)
        return hold

    async def drop_gateway(self, *, code: int | None = None, resumable: bool = True) -> None:
        await self.gateway.drop(code=code, resumable=resumable)

    # -- users' actions ----------------------------------------------------------------------

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        *,
        guild: FakeGuild | None = None,
        channel: FakeChannel | None = None,
        user: FakeUser | None = None,
        permissions: int = DEFAULT_PERMISSIONS,
        locale: str = "en-US",
        attachment_size_limit: int | None = None,
        created_at: datetime | None = None,
        resolved: JSON | None = None,
    ) -> FakeInteraction:
        """Send INTERACTION_CREATE for ``/name``. ``options`` is a dict (types inferred: str 3,
        int 4, bool 5, float 10, Upload 11; wrap in Option to force one) or a raw option list."""
        guild = guild or self.guild
        channel = channel or next(iter(guild.channels.values()))
        command = next(
            (c for c in self.guild_commands.get(guild.id, []) if c["name"] == name), None
        )
        data: JSON = (
            {"id": command["id"], "guild_id": guild.id}
            if command
            else {
                "id": next(
                    (c["id"] for c in self.global_commands if c["name"] == name), snowflake()
                )
            }
        )
        opts, found = self._options(options)
        data.update(name=name, type=1, options=opts, resolved={**found, **(resolved or {})})
        return await self._interact(
            2, data, guild, channel, user, permissions, locale, attachment_size_limit, created_at
        )

    async def dm_slash(
        self, name: str, options: Mapping[str, Any] | None = None, *, user: FakeUser | None = None
    ) -> FakeInteraction:
        """``/name`` sent from a direct message with the bot, as a client may send even a
        command registered for servers only."""
        user = user or self.user
        command_id = next((c["id"] for c in self.global_commands if c["name"] == name), None)
        opts, found = self._options(options)
        data: JSON = {"id": command_id or snowflake(), "name": name, "type": 1}
        data.update(options=opts, resolved=found)
        dm = FakeChannel(snowflake(), "", "dm", type=1)
        return await self._interact(
            2, data, self.guild, dm, user, DEFAULT_PERMISSIONS, "en-US", None, None, dm=True
        )

    async def click(
        self,
        message: FakeMessage,
        custom_id: str,
        *,
        user: FakeUser | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
        permissions: int = DEFAULT_PERMISSIONS,
    ) -> FakeInteraction:
        """Click a button (or pick ``values`` in a select) on a stored message."""
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        channel = self.channel_by_id(message.channel_id)
        if channel is None:
            raise LookupError(f"unknown channel {message.channel_id}")
        return await self._interact(
            3,
            data,
            self.guilds[channel.guild_id],
            channel,
            user,
            permissions,
            "en-US",
            None,
            None,
            message,
        )

    def _options(
        self, options: Mapping[str, Any] | Sequence[JSON] | None
    ) -> tuple[list[JSON], JSON]:
        if options is None:
            return [], {}
        if not isinstance(options, Mapping):
            return [dict(o) for o in options], {}
        out: list[JSON] = []
        attachments: JSON = {}
        for name, value in options.items():
            if isinstance(value, Upload):
                file = UploadedFile(0, value.filename, value.data)
                att = self._store_blob(file, content_type=value.content_type)
                attachments[att["id"]] = att
                out.append({"name": name, "type": 11, "value": att["id"]})
                continue
            if isinstance(value, Option):
                kind, value = value.type, value.value
            elif isinstance(value, bool):
                kind = 5
            elif isinstance(value, int):
                kind = 4
            elif isinstance(value, float):
                kind = 10
            elif isinstance(value, str):
                kind = 3
            else:
                raise TypeError(f"option {name!r}: wrap {type(value).__name__} in Option")
            out.append({"name": name, "type": kind, "value": value})
        return out, ({"attachments": attachments} if attachments else {})

    async def _interact(
        self,
        kind: int,
        data: JSON,
        guild: FakeGuild,
        channel: FakeChannel,
        user: FakeUser | None,
        permissions: int,
        locale: str,
        limit: int | None,
        created_at: datetime | None,
        message: FakeMessage | None = None,
        *,
        dm: bool = False,
    ) -> FakeInteraction:
        user = user or self.user
        limit = self.upload_limit if limit is None else limit
        iid, token = snowflake(created_at), secrets.token_urlsafe(48)
        member = {
            "user": user.payload(),
            "roles": list(user.roles),
            "permissions": str(permissions),
            "flags": 0,
            "joined_at": iso_now(),
            "nick": None,
            "avatar": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "premium_since": None,
        }
        payload: JSON = {
            "id": iid,
            "type": kind,
            "token": token,
            "version": 1,
            "application_id": self.application_id,
            "guild_id": guild.id,
            "channel_id": channel.id,
            "channel": channel.payload(),
            "member": member,
            "locale": locale,
            "guild_locale": guild.locale,
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild.id},
            "context": 0,
            "app_permissions": str(DEFAULT_PERMISSIONS),
            "attachment_size_limit": limit,
            "data": data,
        }
        if message is not None:
            payload["message"] = message.data
        if dm:  # no guild, no member: the user, and a private channel
            for key in ("guild_id", "member", "guild_locale"):
                del payload[key]
            payload.update(
                user=user.payload(),
                channel={"id": channel.id, "type": 1, "recipients": [user.payload()]},
                context=1,
                authorizing_integration_owners={"1": user.id},
            )
        interaction = FakeInteraction(
            self,
            iid,
            token,
            kind,
            channel.id,
            "" if dm else guild.id,
            user,
            payload,
            limit,
            message_id=message.id if message else None,
        )
        self.interactions.append(interaction)
        self._by_token[token] = interaction
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        interaction.sent_at = time.monotonic()
        return interaction

    # -- HTTP plumbing -----------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        path = request.path.removeprefix(API)
        auth_header = request.headers.get("Authorization")
        auth = (
            "none"
            if auth_header is None
            else ("bot" if auth_header == f"Bot {self.token}" else "bad")
        )
        payload, files = await self._read_body(request)
        record = RequestRecord(
            request.method,
            path,
            dict(request.query),
            auth,
            payload,
            [(f.filename, len(f.data)) for f in files],
        )
        hold = next((h for h in self.holds if h.matches(request.method, path)), None)
        if hold is not None:
            hold.arrived.set()
            await hold.release.wait()
        rule = next((r for r in self.faults if r.matches(request.method, path)), None)
        response: web.StreamResponse
        if rule is not None:
            record.fault, response = True, rule.response()
        elif embeds_too_large(payload):
            response = error(400, "Invalid Form Body", 50035)
        elif (
            auth != "bot"
            and request.path.startswith(API)
            and not path.startswith(("/webhooks/", "/interactions/", "/gateway"))
        ):
            response = error(401, "401: Unauthorized", 0)
        else:
            request[PAYLOAD], request[FILES] = payload or {}, files
            response = await handler(request)
        record.status, record.known = response.status, not request.get(UNKNOWN, False)
        self.requests.append(record)
        await self._notify()
        return response

    async def _read_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if request.content_type == "application/json":
            raw = await request.read()
            return (json.loads(raw) if raw else None), []
        if not request.content_type.startswith("multipart/"):
            return None, []
        payload: Any = None
        files: list[UploadedFile] = []
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue
            raw = bytes(await part.read())
            if part.name == "payload_json":
                payload = json.loads(raw)
            elif part.name and (m := re.fullmatch(r"files\[(\d+)\]", part.name)):
                files.append(UploadedFile(int(m[1]), part.filename or "file", raw))
        return payload, files

    def _routes(self) -> list[tuple[str, str, Handler]]:
        hook = "/webhooks/{app}/{token}"
        return [
            ("GET", "/users/@me", self._users_me),
            ("GET", "/oauth2/applications/@me", self._application),
            ("GET", "/applications/@me", self._application),
            ("GET", "/gateway", self._gateway_info),
            ("GET", "/gateway/bot", self._gateway_info),
            ("*", "/applications/{app}/commands", self._commands),
            ("*", "/applications/{app}/guilds/{guild}/commands", self._commands),
            ("POST", "/interactions/{iid}/{token}/callback", self._callback),
            ("POST", hook, self._webhook_execute),
            ("*", hook + "/messages/{mid}", self._webhook_message),
            ("GET", "/channels/{cid}", self._channel),
            ("POST", "/channels/{cid}/messages", self._channel_post),
            ("GET", "/channels/{cid}/messages", self._channel_history),
            ("*", "/channels/{cid}/messages/{mid}", self._channel_message),
        ]

    # -- REST handlers -----------------------------------------------------------------------

    async def _unknown(self, request: web.Request) -> web.Response:
        request[UNKNOWN] = True
        return error(404, "Unknown", 0)

    async def _cdn(self, request: web.Request) -> web.Response:
        blob = self._blobs.get(request.match_info["aid"])
        if blob is None:
            return web.Response(status=404)
        return web.Response(body=blob, content_type=guess_type(request.match_info["filename"]))

    async def _users_me(self, request: web.Request) -> web.Response:
        return json_response(
            {**self.bot_user.payload(), "verified": True, "flags": 0, "mfa_enabled": False}
        )

    async def _application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": self.application_id,
                "name": self.bot_user.name,
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.user.payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": self.bot_user.payload(),
                "interactions_endpoint_url": None,
            }
        )

    async def _gateway_info(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _commands(self, request: web.Request) -> web.Response:
        if request.match_info["app"] != self.application_id:
            return error(404, "Unknown Application", 10002)
        guild_id = request.match_info.get("guild")
        stored = self.guild_commands.get(guild_id, []) if guild_id else self.global_commands
        if request.method == "PUT":
            old = {c["name"]: c["id"] for c in stored}
            stored = [
                {
                    "type": 1,
                    "description": "",
                    "options": [],
                    "nsfw": False,
                    "default_member_permissions": None,
                    **cmd,
                    "id": old.get(cmd["name"]) or snowflake(),
                    "version": snowflake(),
                    "application_id": self.application_id,
                }
                | ({"guild_id": guild_id} if guild_id else {})
                for cmd in request[PAYLOAD] or []
            ]
            if guild_id:
                self.guild_commands[guild_id] = stored
            else:
                self.global_commands = stored
        elif request.method != "GET":
            return error(405, "405: Method Not Allowed", 0)
        return json_response(stored)

    def _interaction_for(self, request: web.Request) -> FakeInteraction | web.Response:
        if request.match_info["app"] != self.application_id:
            return error(404, "Unknown Webhook", 10015)
        interaction = self._by_token.get(request.match_info["token"])
        if interaction is None or interaction.is_expired:
            return error(401, "Invalid Webhook Token", 50027)
        return interaction

    def _too_large(self, request: web.Request, limit: int) -> web.Response | None:
        if any(len(f.data) > limit for f in request[FILES]):
            return error(413, "Request entity too large", 40005)
        return None

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self._by_token.get(request.match_info["token"])
        late = (
            self.callback_deadline is not None
            and interaction is not None
            and time.monotonic() - interaction.sent_at > self.callback_deadline
        )
        if (
            interaction is None
            or interaction.id != request.match_info["iid"]
            or late
            or interaction.is_expired
        ):
            return error(404, "Unknown interaction", 10062)
        if interaction.callbacks:
            return error(400, "Interaction has already been acknowledged.", 40060)
        if (too_large := self._too_large(request, interaction.attachment_size_limit)) is not None:
            return too_large
        kind = int(request[PAYLOAD].get("type") or 0)
        data: JSON = request[PAYLOAD].get("data") or {}
        files: list[UploadedFile] = request[FILES]
        interaction.callbacks.append(Callback(kind, data, [f.filename for f in files]))
        message: FakeMessage | None = None
        if kind == 4:
            message = self._create(interaction.channel_id, data, files, interaction)
        elif kind == 5:
            flags = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            message = self._create(interaction.channel_id, {"flags": flags}, [], interaction)
        elif kind in (6, 7) and interaction.message_id is not None:
            message = self._messages[interaction.message_id]
            if kind == 7:
                self._edit(message, data, files)
        if message is not None:
            interaction.original_id = message.id
        await self._notify()
        if not _truthy(request.query.get("with_response")):
            return web.Response(status=204)
        resource: JSON = {"type": kind}
        if message is not None and kind != 6:
            resource["message"] = message.data
        return json_response(
            {
                "interaction": {
                    "id": interaction.id,
                    "type": interaction.type,
                    "activity_instance_id": None,
                    "response_message_id": message.id if message else None,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(message and message.ephemeral),
                },
                "resource": resource,
            }
        )

    async def _webhook_execute(self, request: web.Request) -> web.Response:
        interaction = self._interaction_for(request)
        if isinstance(interaction, web.Response):
            return interaction
        if (too_large := self._too_large(request, interaction.attachment_size_limit)) is not None:
            return too_large
        payload: JSON = request[PAYLOAD]
        original = interaction.original
        callback = interaction.callback
        if (
            self.followup_replaces_deferred
            and original is not None
            and original.loading
            and callback is not None
            and callback.type == 5
        ):
            # The defer's ephemerality wins, as on Discord.
            flags = int(payload.get("flags") or 0) & ~EPHEMERAL
            self._edit(original, {**payload, "flags": flags}, request[FILES])
            message = original
        else:
            message = self._create(interaction.channel_id, payload, request[FILES], interaction)
        interaction.followup_ids.append(message.id)
        await self._notify()
        if not _truthy(request.query.get("wait")):
            return web.Response(status=204)
        return json_response(message.data)

    async def _webhook_message(self, request: web.Request) -> web.StreamResponse:
        interaction = self._interaction_for(request)
        if isinstance(interaction, web.Response):
            return interaction
        if self.channel_by_id(interaction.channel_id) is None:
            return error(404, "Unknown Channel", 10003)
        mid = request.match_info["mid"]
        mid = (interaction.original_id or "") if mid == "@original" else mid
        message = self._messages.get(mid)
        if (
            message is None
            or message.deleted
            or (message.interaction_id != interaction.id and mid != interaction.original_id)
        ):
            return error(404, "Unknown Message", 10008)
        if request.method == "PATCH":
            limit = interaction.attachment_size_limit
            if (too_large := self._too_large(request, limit)) is not None:
                return too_large
        return await self._message_op(request, message)

    async def _message_op(self, request: web.Request, message: FakeMessage) -> web.StreamResponse:
        if request.method == "GET":
            return json_response(message.data)
        if request.method == "PATCH":
            self._edit(message, request[PAYLOAD], request[FILES])
            await self._notify()
            return json_response(message.data)
        if request.method == "DELETE":
            message.deleted = True
            await self._notify()
            return web.Response(status=204)
        return error(405, "405: Method Not Allowed", 0)

    def _refused(self, channel_id: str) -> web.Response | None:
        """Why the bot's own token may not use a channel, if it may not."""
        channel = self.channel_by_id(channel_id)
        if channel is None:
            return error(404, "Unknown Channel", 10003)
        if channel.guild_id in self.kicked:
            return error(403, "Missing Access", 50001)
        if (code := self.denied.get(channel_id)) is not None:
            return error(403, "Missing Access" if code == 50001 else "Missing Permissions", code)
        return None

    async def _channel(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request.match_info["cid"])) is not None:
            return refused
        channel = self.channel_by_id(request.match_info["cid"])
        assert channel is not None
        return json_response(channel.payload())

    async def _channel_post(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        if (refused := self._refused(cid)) is not None:
            return refused
        if (too_large := self._too_large(request, self.upload_limit)) is not None:
            return too_large
        payload: JSON = request[PAYLOAD]
        if (same := self._same_nonce(cid, payload)) is not None:
            return json_response({**same.data, "nonce": same.nonce})
        reference = payload.get("message_reference")
        if reference and reference.get("fail_if_not_exists", True):
            replied = self._messages.get(str(reference.get("message_id")))
            if replied is None or replied.deleted:
                return json_response(
                    {"message": "Invalid Form Body", "code": 50035, "errors": {}}, 400
                )
        message = self._create(cid, payload, request[FILES])
        message.nonce = str(payload["nonce"]) if payload.get("nonce") is not None else None
        await self._notify()
        return json_response({**message.data, "nonce": message.nonce})

    def _same_nonce(self, channel_id: str, payload: JSON) -> FakeMessage | None:
        """With enforce_nonce, the bot's message sent with the same nonce a short while ago."""
        nonce = payload.get("nonce")
        if nonce is None or not payload.get("enforce_nonce"):
            return None
        return next(
            (
                m
                for m in self._messages.values()
                if m.nonce == str(nonce)
                and m.channel_id == channel_id
                and time.monotonic() - m.created <= self.nonce_window
            ),
            None,
        )

    async def _channel_history(self, request: web.Request) -> web.Response:
        """GET /channels/{cid}/messages with ``after`` or ``before`` and ``limit``, newest
        first, as Discord answers it."""
        cid = request.match_info["cid"]
        if (refused := self._refused(cid)) is not None:
            return refused
        if cid in self.history_hidden:
            return error(403, "Missing Access", 50001)
        limit = min(100, int(request.query.get("limit", "50")))
        found = sorted(
            (m for m in self._messages.values() if m.channel_id == cid and not m.deleted),
            key=lambda m: int(m.id),
        )
        if "after" in request.query:
            after = int(request.query["after"])
            found = [m for m in found if int(m.id) > after][:limit]
        else:
            before = int(request.query.get("before", str(1 << 63)))
            found = [m for m in found if int(m.id) < before][-limit:]
        return json_response([m.data for m in reversed(found)])

    async def _channel_message(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refused(request.match_info["cid"])) is not None:
            return refused
        message = self._messages.get(request.match_info["mid"])
        if (
            message is None
            or message.deleted
            or message.ephemeral
            or message.channel_id != request.match_info["cid"]
        ):
            return error(404, "Unknown Message", 10008)
        if (
            request.method == "PATCH"
            and (too_large := self._too_large(request, self.upload_limit)) is not None
        ):
            return too_large
        return await self._message_op(request, message)

    # -- messages ----------------------------------------------------------------------------

    def _store_blob(
        self, file: UploadedFile, description: str | None = None, content_type: str | None = None
    ) -> JSON:
        aid = snowflake()
        self._blobs[aid] = file.data
        url = f"{self.base_url}/attachments/{aid}/{quote(file.filename)}"
        att: JSON = {
            "id": aid,
            "filename": file.filename,
            "size": len(file.data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type or guess_type(file.filename),
        }
        if (size := image_size(file.data)) is not None:
            att["width"], att["height"] = size
        if description is not None:
            att["description"] = description
        return att

    def _attachments(
        self, payload: JSON, files: list[UploadedFile], existing: list[JSON]
    ) -> list[JSON] | None:
        """The attachment list after a create/edit; None means "unchanged"."""
        spec = payload.get("attachments")
        if spec is None:
            return [*existing, *map(self._store_blob, files)] if files else None
        kept = {str(a["id"]): a for a in existing}
        by_index = {f.index: f for f in files}
        out: list[JSON] = []
        for item in spec:
            key = str(item.get("id"))
            if key in kept:
                out.append(kept[key])
            elif key.isdigit() and int(key) in by_index:
                out.append(self._store_blob(by_index[int(key)], item.get("description")))
        return out

    def _create(
        self,
        channel_id: str,
        payload: JSON,
        files: list[UploadedFile],
        interaction: FakeInteraction | None = None,
    ) -> FakeMessage:
        data: JSON = {
            "id": snowflake(),
            "channel_id": channel_id,
            "author": self.bot_user.payload(),
            "content": payload.get("content") or "",
            "embeds": payload.get("embeds") or [],
            "attachments": self._attachments(payload, files, []) or [],
            "components": payload.get("components") or [],
            "flags": int(payload.get("flags") or 0),
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "type": 0,
            "tts": bool(payload.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
        }
        if interaction is not None:
            data.update(
                type=20 if interaction.type == 2 else 0,
                webhook_id=self.application_id,
                application_id=self.application_id,
                interaction_metadata={
                    "id": interaction.id,
                    "type": interaction.type,
                    "user": interaction.user.payload(),
                    "authorizing_integration_owners": {"0": interaction.guild_id},
                },
            )
        reference = payload.get("message_reference")
        replied = self._messages.get(str(reference.get("message_id"))) if reference else None
        if replied is not None and not replied.deleted:
            data["message_reference"] = {
                "type": 0,
                "message_id": replied.id,
                "channel_id": replied.channel_id,
            }
            data["referenced_message"] = replied.data
            data["type"] = 19  # a reply
        message = FakeMessage(data, self._blobs, interaction.id if interaction else None)
        author = None if replied is None else str(replied.data["author"]["id"])
        message.pinged = pinged_users(payload, author)
        message.allowed_mentions = payload.get("allowed_mentions")
        self._messages[message.id] = message
        return message

    def _edit(self, message: FakeMessage, payload: JSON, files: list[UploadedFile]) -> None:
        changes: JSON = {}
        for key in ("content", "embeds", "components"):
            if key in payload:
                changes[key] = payload[key] or ("" if key == "content" else [])
        if "flags" in payload:
            changes["flags"] = (message.flags & EPHEMERAL) | int(payload["flags"] or 0)
        attachments = self._attachments(payload, files, message.attachments)
        if attachments is not None:
            changes["attachments"] = attachments
        changes["flags"] = changes.get("flags", message.flags) & ~LOADING
        message.edit(changes)
