"""The gateway half of the fake Discord: HELLO, heartbeat ACK, IDENTIFY -> READY +
GUILD_CREATE, RESUME -> replay + RESUMED, RECONNECT, zlib-stream frames, sharding.

Each session keeps a log of the events sent to it; a RESUME replays those after the
client's last sequence number, which is how Discord keeps an acknowledged event from being
lost across a reconnect. Events dispatched while a session is disconnected wait in its log.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakes.discord_api import FakeDiscord

HELLO, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, HEARTBEAT_ACK = 10, 1, 2, 6, 7, 11
# Events Discord sends only to sessions that asked for them: (guild intent, DM intent).
GATED = {"TYPING_START": (1 << 11, 1 << 14)}  # GUILD_MESSAGE_TYPING, DIRECT_MESSAGE_TYPING


@dataclass
class Session:
    session_id: str
    shard: tuple[int, int]
    intents: int
    seq: int = 0
    log: list[tuple[int, str]] = field(default_factory=list)  # (seq, encoded frame)
    ws: web.WebSocketResponse | None = None
    zlib: Any = None  # zlib compressobj of the current connection, or None for text frames
    resumes: int = 0

    def wants(self, name: str, guild_id: str | None) -> bool:
        gate = GATED.get(name)
        return gate is None or bool(self.intents & gate[guild_id is None])

    def owns(self, guild_id: str | None) -> bool:
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0  # DMs arrive on shard 0
        return (int(guild_id) >> 22) % count == shard_id


class Gateway:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: dict[str, Session] = {}
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.reject_identify: int | None = None  # close code, e.g. 4014
        self.heartbeat_interval_ms = 41_250
        # Tests: hold RESUMEs until this is set (to queue events meanwhile), and replay
        # this many already-acknowledged events too (a redelivery the bot must not answer).
        self.resume_gate: asyncio.Event | None = None
        self.replay_overlap = 0

    # -- sending ------------------------------------------------------------------------------
    @staticmethod
    async def _send(session: Session, frame: str) -> None:
        ws = session.ws
        if ws is None or ws.closed:
            return
        try:
            if session.zlib is not None:
                raw = session.zlib.compress(frame.encode()) + session.zlib.flush(zlib.Z_SYNC_FLUSH)
                await ws.send_bytes(raw)
            else:
                await ws.send_str(frame)
        except ConnectionError:
            session.ws = None

    async def _op(self, session: Session, op: int, d: Any) -> None:
        await self._send(session, json.dumps({"op": op, "d": d, "s": None, "t": None}))

    async def event(self, session: Session, name: str, data: Any) -> None:
        session.seq += 1
        frame = json.dumps({"op": 0, "d": data, "s": session.seq, "t": name})
        session.log.append((session.seq, frame))
        await self._send(session, frame)

    async def dispatch(self, name: str, data: Any) -> None:
        """Send an event to every session whose shard owns it (queued if disconnected);
        ``data`` need not be a valid payload (tests of malformed events)."""
        guild_id = data.get("guild_id") if isinstance(data, dict) else None
        for session in list(self.sessions.values()):
            if session.owns(guild_id) and session.wants(name, guild_id):
                await self.event(session, name, data)

    # -- control ------------------------------------------------------------------------------
    async def reconnect_all(self) -> None:
        """Ask every client to reconnect (op 7): discord.py then RESUMEs."""
        for session in list(self.sessions.values()):
            await self._op(session, RECONNECT, None)

    async def drop_all(self, code: int = 4000) -> None:
        for session in list(self.sessions.values()):
            if session.ws is not None:
                await session.ws.close(code=code)

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=1001)

    # -- the websocket ------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress") == "zlib-stream"
        conn = Session("", (0, 1), 0, ws=ws, zlib=zlib.compressobj() if compress else None)
        await self._op(conn, HELLO, {"heartbeat_interval": self.heartbeat_interval_ms})
        session: Session | None = None
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op, d = payload.get("op"), payload.get("d")
            if op == HEARTBEAT:
                await self._op(session or conn, HEARTBEAT_ACK, None)
            elif op == IDENTIFY:
                self.identifies.append(d)
                if d.get("token") != self.fake.token:
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                if self.reject_identify is not None:
                    await ws.close(code=self.reject_identify)
                    break
                session = await self._identify(conn, d)
                await self.fake.notify()
            elif op == RESUME:
                self.resumes.append(d)
                session = await self._resume(conn, d)
                await self.fake.notify()
                if session is None:
                    break
        if session is not None and session.ws is ws:
            session.ws = None
        await self.fake.notify()
        return ws

    async def _identify(self, conn: Session, d: dict[str, Any]) -> Session:
        shard = d.get("shard") or [0, 1]
        session = Session(
            secrets.token_hex(16), (int(shard[0]), int(shard[1])), int(d.get("intents", 0))
        )
        session.ws, session.zlib = conn.ws, conn.zlib
        self.sessions[session.session_id] = session
        fake = self.fake
        guilds = [g for g in fake.guilds.values() if session.owns(g["id"])]
        ready = {
            "v": 10,
            "user": fake.bot_user,
            "session_id": session.session_id,
            "resume_gateway_url": fake.gateway_url,
            "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
            "application": {"id": fake.app_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "shard": list(session.shard),
        }
        await self.event(session, "READY", ready)
        for g in guilds:
            await self.event(session, "GUILD_CREATE", fake.guild_payload(g["id"]))
        return session

    async def _resume(self, conn: Session, d: dict[str, Any]) -> Session | None:
        if self.resume_gate is not None:
            await self.fake.notify()
            await self.resume_gate.wait()
        session = self.sessions.get(d.get("session_id", ""))
        if session is None or d.get("token") != self.fake.token:
            await self._op(conn, 9, False)  # INVALID_SESSION, not resumable
            return None
        session.ws, session.zlib = conn.ws, conn.zlib
        session.resumes += 1
        last = int(d.get("seq") or 0) - self.replay_overlap
        for seq, frame in session.log:
            if seq > last:
                await self._send(session, frame)
        await self.event(session, "RESUMED", {})
        return session
