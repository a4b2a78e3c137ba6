"""A fake Slack Web API: a real aiohttp server on 127.0.0.1 that records every call.

It answers ``auth.test``, ``chat.postMessage`` (thread replies too), ``chat.update``,
``chat.postEphemeral``, ``chat.getPermalink``, ``users.info`` and ``conversations.open`` the
way Slack does (JSON with ``ok``); a test can queue failures per method (an error code, HTTP
500, or HTTP 429 with ``Retry-After``), slow a method down, or stop the server and start it
again on the same port (connection refused in between). Also: helpers that sign requests the
way Slack signs them, and load the recorded payloads under ``tests/payloads/slack``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads" / "slack"
TEAM_ID = "T0SHOP0001"
BOT_USER_ID = "U0BOT00001"
BOT_ID = "B0BOT00001"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1111-2222-fake"
APP_TOKEN = "xapp-1-A0THREAD01-3333-fake"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    at: float  # time.monotonic() when the call arrived
    answer: dict[str, Any] = field(default_factory=dict)
    done_at: float | None = None  # time.monotonic() when the answer went back


@dataclass
class Failure:
    error: str = "ratelimited"
    status: int = 200
    retry_after: int | None = None


@dataclass
class FakeSlack:
    """Start with :meth:`start`; point clients at :attr:`api_url`."""

    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    delays: dict[str, float] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ts: count[int] = field(default_factory=lambda: count(1))
    _runner: web.AppRunner | None = None
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    # Socket Mode: envelopes pushed to the app and the acks it sent back.
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _socket_changed: asyncio.Event = field(default_factory=asyncio.Event)
    api_url: str = ""
    port: int = 0
    # ts → the message as it stands (posted, then edited by chat.update)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def start(self, port: int = 0) -> None:
        """Listen on ``port`` (0: any free one; pass the old port to come back after stop)."""
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.api_url = f"http://127.0.0.1:{self.port}/api/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fail(self, method: str, failure: Failure) -> None:
        """The next call of ``method`` fails this way (queue several for several calls)."""
        self.failures[method].append(failure)

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def replies(self, thread_ts: str) -> list[dict[str, Any]]:
        """The accepted thread replies under ``thread_ts``, in order."""
        return [p for p in self.posted() if p.get("thread_ts") == thread_ts]

    def told(self, user: str) -> list[str]:
        """The texts only ``user`` was shown (``chat.postEphemeral``)."""
        return [
            str(c.params.get("text"))
            for c in self.accepted("chat.postEphemeral")
            if c.params.get("user") == user
        ]

    def posted(self) -> list[dict[str, Any]]:
        """The messages ``chat.postMessage`` accepted (failed attempts are not included)."""
        return [c.params for c in self.accepted("chat.postMessage")]

    async def wait_accepted(self, method: str) -> list[Call]:
        """Wait until a call of ``method`` was accepted; callers bound the wait."""
        while not self.accepted(method):
            self._answered.clear()
            await self._answered.wait()
        return self.accepted(method)

    def accepted(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.answer.get("ok")]

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") or params.get("token")
        call = Call(method, params, token, time.monotonic())
        self.calls.append(call)
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        status, headers = 200, {}
        queued = self.failures.get(method)
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            call.answer = {"ok": False, "error": "invalid_auth"}
        elif queued:
            failure = queued.pop(0)
            status = failure.status
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            call.answer = {"ok": False, "error": failure.error}
        else:
            call.answer = self._answer(method, params)
        call.done_at = time.monotonic()
        self._answered.set()
        return web.json_response(call.answer, status=status, headers=headers)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Slack's Socket Mode endpoint: hello, then pushed envelopes; records the acks."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A0THREAD01"},
            }
        )
        self._socket_changed.set()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
                self._socket_changed.set()
        return ws

    async def push(self, envelope: dict[str, Any]) -> None:
        """Deliver one envelope over the app's Socket Mode connection (waits for it)."""
        while not self._sockets:
            self._socket_changed.clear()
            await self._socket_changed.wait()
        await self._sockets[-1].send_json(envelope)

    async def wait_socket_ack(self, envelope_id: str) -> dict[str, Any]:
        """The app's ack of ``envelope_id``; callers bound the wait."""
        while True:
            for ack in self.socket_acks:
                if ack.get("envelope_id") == envelope_id:
                    return ack
            self._socket_changed.clear()
            await self._socket_changed.wait()

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://shop.slack.com/",
                "team": "Shop",
                "user": "threadline",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            ts = f"{1764400000 + next(self._ts)}.000100"
            message = {"type": "message", "text": params.get("text"), "user": BOT_USER_ID}
            self.messages[ts] = {**params, "ts": ts}
            return {"ok": True, "channel": params["channel"], "ts": ts, "message": message}
        if method == "chat.update":
            ts = str(params.get("ts", ""))
            if ts not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[ts] = {**self.messages[ts], **params}
            return {"ok": True, "channel": params["channel"], "ts": ts, "text": params.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{1764400000 + next(self._ts)}.000200"}
        if method == "chat.getPermalink":
            ts = str(params.get("message_ts", ""))
            link = f"https://shop.slack.com/archives/{params.get('channel')}/p{ts.replace('.', '')}"
            return {"ok": True, "channel": params.get("channel"), "permalink": link}
        if method == "apps.connections.open":
            return {
                "ok": True,
                "url": self.api_url.replace("http://", "ws://").replace("/api/", "/link"),
            }
        if method == "conversations.open":
            user = str(params.get("users", ""))
            return {"ok": True, "channel": {"id": "D" + user.removeprefix("U")}}
        if method == "users.info":
            user = str(params.get("user", ""))
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": self.users[user]}
        return {"ok": False, "error": "unknown_method"}


async def _params(request: web.Request) -> dict[str, Any]:
    raw = await request.text()
    if request.content_type == "application/json":
        data = json.loads(raw) if raw else {}
        return dict(data)
    params: dict[str, Any] = dict(parse_qsl(raw, keep_blank_values=True))
    params.update(request.query)
    return params


def sign(
    body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    """The headers Slack sends with ``body``: ``v0=`` HMAC-SHA256 of ``v0:{ts}:{body}``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def payload(name: str) -> dict[str, Any]:
    """A recorded payload from ``tests/payloads/slack/<name>.json`` (a fresh copy).

    Form posts (slash command, interactivity) are kept as their fields; tests encode them.
    """
    data = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
