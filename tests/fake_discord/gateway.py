"""The fake gateway: HELLO, heartbeats, IDENTIFY -> READY + GUILD_CREATE, RESUME, dispatch.

Frames are sent as TEXT (discord.py only inflates binary frames), so the ``compress``
query parameter is ignored.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .state import JSON

if TYPE_CHECKING:
    from .server import FakeDiscord

REPLAY_LIMIT = 1000  # dispatches kept per session for RESUME


class GatewaySession:
    def __init__(self, identify: JSON) -> None:
        self.id = secrets.token_hex(16)
        self.intents = int(identify.get("intents") or 0)
        self.shard: list[int] = list(identify.get("shard") or [0, 1])
        self.seq = 0
        self.sent: list[JSON] = []
        self.ws: web.WebSocketResponse | None = None
        self.request: web.Request | None = None
        self.resumable = True

    @property
    def live(self) -> bool:
        return self.ws is not None and not self.ws.closed


async def _send(ws: web.WebSocketResponse, frame: JSON) -> None:
    # A dispatch lost to a dying socket is replayed on RESUME.
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(json.dumps(frame))


class Gateway:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: dict[str, GatewaySession] = {}
        self.active: GatewaySession | None = None
        self.identifies: list[JSON] = []  # IDENTIFY payloads, token removed
        self.resumes = 0
        self.connections = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, timeout=2.0)
        await ws.prepare(request)
        self.connections += 1
        session: GatewaySession | None = None
        interval = int(self.fake.heartbeat_interval * 1000)
        await _send(ws, {"op": 10, "d": {"heartbeat_interval": interval}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    session = await self._on_frame(ws, request, json.loads(msg.data)) or session
        finally:
            if session is not None and session.ws is ws:
                session.ws = session.request = None
            await self.fake._notify()
        return ws

    async def _on_frame(
        self, ws: web.WebSocketResponse, request: web.Request, frame: JSON
    ) -> GatewaySession | None:
        op, data = frame.get("op"), frame.get("d") or {}
        if op == 1:  # heartbeat
            await _send(ws, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:  # identify
            if data.get("token") != self.fake.token:
                await ws.close(code=4004, message=b"Authentication failed.")
                return None
            self.identifies.append({k: v for k, v in data.items() if k != "token"})
            session = GatewaySession(data)
            self.sessions[session.id] = session
            self._attach(session, ws, request)
            await self._dispatch(session, "READY", self._ready(session))
            for guild in self.fake.guilds.values():
                await self._dispatch(session, "GUILD_CREATE", guild.payload(self.fake.bot_user))
            await self.fake._notify()
            return session
        elif op == 6:  # resume
            found = self.sessions.get(str(data.get("session_id")))
            if found is None or not found.resumable or data.get("token") != self.fake.token:
                await _send(ws, {"op": 9, "d": False, "s": None, "t": None})
                return None
            self.resumes += 1
            self._attach(found, ws, request)
            last_seen = int(data.get("seq") or 0)
            for old in [f for f in found.sent if f["s"] > last_seen]:
                await _send(ws, old)
            await self._dispatch(found, "RESUMED", {})
            await self.fake._notify()
            return found
        elif op == 8:  # request guild members: there are none to send
            chunk: JSON = {
                "guild_id": data.get("guild_id"),
                "members": [],
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
                "nonce": data.get("nonce"),
            }
            for session in self.sessions.values():
                if session.ws is ws:
                    await self._dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)
        return None

    def _attach(self, session: GatewaySession, ws: web.WebSocketResponse, req: web.Request) -> None:
        session.ws, session.request = ws, req
        self.active = session

    def _ready(self, session: GatewaySession) -> JSON:
        user = {**self.fake.bot_user.payload(), "verified": True, "mfa_enabled": False, "flags": 0}
        return {
            "v": 10,
            "user": user,
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.fake.gateway_url,
            "shard": session.shard,
            "guilds": [{"id": g, "unavailable": True} for g in self.fake.guilds],
            "application": {"id": self.fake.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
        }

    async def _dispatch(self, session: GatewaySession, event: str, data: Any) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        if event != "RESUMED":
            session.sent = [*session.sent[-REPLAY_LIMIT:], frame]
        if session.ws is not None:
            await _send(session.ws, frame)

    async def dispatch(
        self,
        event: str,
        data: JSON,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> None:
        """Send an event to the current session, waiting (up to ``timeout``) for one to be live."""
        session = await self.fake.wait_for(
            lambda: self.active if self.active is not None and self.active.live else None, timeout
        )
        await self._dispatch(session, event, data)

    async def drop(self, *, code: int | None = None, resumable: bool = True) -> None:
        """Kill the live connection: abort the TCP stream (``code=None``) or close with ``code``.
        With ``resumable=False`` the session is forgotten, so a RESUME gets op 9."""
        session = self.active
        if session is None or session.ws is None:
            return
        session.resumable = resumable
        ws, req = session.ws, session.request
        session.ws = session.request = None
        if code is not None:
            await ws.close(code=code)
        elif req is not None and req.transport is not None:
            req.transport.abort()
        await self.fake._notify()

    async def close_all(self) -> None:
        for session in self.sessions.values():
            if session.ws is not None:
                await session.ws.close(code=1001)
