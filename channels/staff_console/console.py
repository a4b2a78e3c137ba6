"""The built-in staff console: a page at ``/staff``, a JSON API and a live WebSocket.

Staff sign in with their token and get a signed, HttpOnly session cookie. The page
lists waiting and claimed handoffs with their cards and offers Claim, Reply, Note,
Resolve and Back to bot. The console knows nothing of the store: what it shows and
what the buttons do are injected as :class:`ConsoleBackend` callables.

Live updates: while a console socket is open, the store's version (the newest
message id) is polled every ``poll_interval`` seconds; when it moves, every socket
gets the fresh list. An action taken here wakes the poll at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from channels.staff_console.assets import ConsoleAssets
from channels.staff_console.auth import LoginLimiter, SessionSigner, StaffTokens

log = logging.getLogger(__name__)

COOKIE = "threadline_staff"
ACTIONS = frozenset({"claim", "reply", "note", "assign", "resolve", "back-to-bot"})
NEEDS_TEXT = frozenset({"reply", "note", "assign"})  # assign: the colleague's name
HEARTBEAT_S = 30.0
CLOSE_GOING_AWAY = 1001
CLOSE_UNAUTHORIZED = 4401
_NO_STORE = {"Cache-Control": "no-store"}


class ActionRefused(Exception):
    """A staff action the service refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class ConsoleBackend:
    """What the console may ask: the open handoffs' cards, a cheap change marker, the
    outcome figures, and ``act(action, handoff_id, staff, text)`` (raises
    :class:`ActionRefused`)."""

    cards: Callable[[], Awaitable[list[dict[str, Any]]]]
    version: Callable[[], Awaitable[int]]
    outcomes: Callable[[], Awaitable[dict[str, Any]]]
    act: Callable[[str, int, str, str], Awaitable[dict[str, Any]]]


class StaffConsole:
    """Mounted by the app like a channel; it delivers nothing to customers."""

    name = "staff_console"

    def __init__(
        self,
        *,
        tokens: StaffTokens,
        secret: str,
        backend: ConsoleBackend,
        poll_interval: float = 1.0,
        limiter: LoginLimiter | None = None,
    ) -> None:
        self._tokens = tokens
        self._sessions = SessionSigner(secret)
        self._backend = backend
        self._poll_interval = poll_interval
        self._limiter = limiter or LoginLimiter()
        self._assets = ConsoleAssets()
        self._sockets: dict[web.WebSocketResponse, str] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/staff", self._page),
            web.get("/staff/console.js", self._assets.script),
            web.get("/staff/console.css", self._assets.stylesheet),
            web.post("/staff/login", self._login),
            web.post("/staff/logout", self._logout),
            web.get("/staff/api/me", self._me),
            web.get("/staff/api/handoffs", self._handoffs),
            web.post("/staff/api/handoffs/{handoff_id:\\d+}/{action}", self._act),
            web.get("/staff/ws", self._socket),
        ]

    async def startup(self) -> None:
        self._closing = False
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="staff-console-watch")

    async def shutdown(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        sockets = list(self._sockets)
        await asyncio.gather(
            *(ws.close(code=CLOSE_GOING_AWAY, message=b"server shutting down") for ws in sockets),
            return_exceptions=True,
        )

    def open_sockets(self) -> int:
        return len(self._sockets)

    # --- sign-in ----------------------------------------------------------------------

    def staff_of(self, request: web.Request) -> str | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        staff = self._sessions.verify(cookie)
        return staff if staff in self._tokens.names else None

    def _require(self, request: web.Request) -> str:
        staff = self.staff_of(request)
        if staff is None:
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": "sign in first"}), content_type="application/json"
            )
        return staff

    async def _login(self, request: web.Request) -> web.Response:
        address = request.remote or "unknown"
        wait = self._limiter.blocked(address)
        if wait is not None:
            return web.json_response(
                {"error": f"too many failed sign-ins; try again in {wait:.0f} s"},
                status=429,
                headers={"Retry-After": str(int(wait + 0.5))},
            )
        token = await _token_of(request)
        staff = self._tokens.who(token) if token else None
        if staff is None:
            self._limiter.failed(address)
            log.warning("staff console: failed sign-in from %s", address)
            return web.json_response({"error": "unknown staff token"}, status=401)
        log.info("staff console: %s signed in from %s", staff, address)
        response = web.json_response({"staff": staff}, headers=_NO_STORE)
        response.set_cookie(
            COOKIE,
            self._sessions.issue(staff),
            path="/staff",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            max_age=12 * 3600,
        )
        return response

    async def _logout(self, request: web.Request) -> web.Response:
        response = web.json_response({"staff": None}, headers=_NO_STORE)
        response.del_cookie(COOKIE, path="/staff")
        return response

    # --- page and API -----------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.Response:
        return self._assets.page(request)

    async def _me(self, request: web.Request) -> web.Response:
        return web.json_response({"staff": self._require(request)}, headers=_NO_STORE)

    async def _handoffs(self, request: web.Request) -> web.Response:
        staff = self._require(request)
        return web.json_response(await self._snapshot(staff), headers=_NO_STORE)

    async def _act(self, request: web.Request) -> web.Response:
        staff = self._require(request)
        if request.content_type != "application/json":
            # Browsers cannot send JSON across sites without asking first: no CSRF by form.
            return web.json_response({"error": "send application/json"}, status=415)
        action = request.match_info["action"]
        if action not in ACTIONS:
            return web.json_response({"error": f"no action {action!r}"}, status=404)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        text = body.get("text", "") if isinstance(body, dict) else ""
        if action in NEEDS_TEXT and (not isinstance(text, str) or not text.strip()):
            return web.json_response({"error": "write a message first"}, status=400)
        handoff_id = int(request.match_info["handoff_id"])
        try:
            result = await self._backend.act(action, handoff_id, staff, str(text))
        except ActionRefused as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        self._wake.set()
        return web.json_response({"ok": True, **result})

    async def _snapshot(self, staff: str) -> dict[str, Any]:
        cards, outcomes = await asyncio.gather(self._backend.cards(), self._backend.outcomes())
        return self._frame(staff, cards, outcomes)

    def _frame(
        self, staff: str, cards: list[dict[str, Any]], outcomes: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "type": "handoffs",
            "staff": staff,
            "colleagues": sorted(n for n in self._tokens.names if n != staff),
            "handoffs": cards,
            "outcomes": outcomes,
        }

    # --- live updates -------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            # Another site's page must not open a socket with the agent's cookie.
            raise web.HTTPForbidden(text="cross-site console sockets are not allowed")
        staff = self.staff_of(request)
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4096)
        await ws.prepare(request)
        if staff is None or self._closing:
            reason = "sign in first" if staff is None else "server shutting down"
            await ws.close(
                code=CLOSE_UNAUTHORIZED if staff is None else CLOSE_GOING_AWAY,
                message=reason.encode(),
            )
            return ws
        self._sockets[ws] = staff
        try:
            await ws.send_json(await self._snapshot(staff))
            self._wake.set()
            async for msg in ws:  # the page only listens; pings are answered by aiohttp
                if msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._sockets.pop(ws, None)
        return ws

    async def _watch(self) -> None:
        seen: int | None = None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval)
            self._wake.clear()
            if not self._sockets:
                seen = None
                continue
            try:
                version = await self._backend.version()
                if version != seen:
                    seen = version
                    await self._broadcast()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("staff console: refreshing the handoffs failed; retrying")

    async def _broadcast(self) -> None:
        cards, outcomes = await asyncio.gather(self._backend.cards(), self._backend.outcomes())
        for ws, staff in list(self._sockets.items()):
            frame = self._frame(staff, cards, outcomes)
            try:
                await asyncio.wait_for(ws.send_json(frame), 5.0)
            except (ConnectionError, TimeoutError, RuntimeError):
                self._sockets.pop(ws, None)
                with contextlib.suppress(Exception):
                    await ws.close()


async def _token_of(request: web.Request) -> str:
    try:
        if request.content_type == "application/json":
            body = await request.json()
            token = body.get("token") if isinstance(body, dict) else None
        else:
            token = (await request.post()).get("token")
    except ValueError:
        return ""
    return token.strip() if isinstance(token, str) else ""
