"""The web-chat channel: widget assets, anonymous sessions and the chat WebSocket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import WSMessage, WSMsgType, web

from bot.messages import InboundMessage, OutboundMessage, Turn
from channels.webchat.assets import WidgetAssets
from channels.webchat.continue_elsewhere import BotUsername, ContinueOnTelegram, IssueLinkCode
from channels.webchat.demo_page import DemoCustomers, render_demo_page
from channels.webchat.identity import (
    IdentityError,
    WebchatUser,
    new_session_token,
    verify_customer,
    verify_session_token,
)
from channels.webchat.protocol import (
    CLOSE_BAD_INPUT,
    CLOSE_UNAUTHORIZED,
    ChatText,
    ClientFrame,
    CustomerHello,
    ProtocolError,
    SessionHello,
    TextRejected,
    ack_frame,
    error_frame,
    history_frame,
    message_frame,
    parse_client_frame,
    quick_replies_of,
    ready_frame,
)
from channels.webchat.sockets import Connection, RateWindow, SocketHub

log = logging.getLogger(__name__)

Ingest = Callable[[InboundMessage], Awaitable[bool]]
History = Callable[[str, int], Awaitable[list[Turn]]]

HELLO_TIMEOUT_S = 10.0
HEARTBEAT_S = 30.0
HISTORY_LIMIT = 50
RATE_WINDOW_S = 10.0  # the window of the per-socket message limit
CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011


class _Closed(Exception):
    """The connection was closed while handling a frame; stop reading."""


class WebchatChannel:
    """Web chat for a shop's site: one adapter object, mounted by the app via :meth:`routes`."""

    name = "webchat"

    def __init__(
        self,
        *,
        secret: str,
        ingest: Ingest,
        history: History,
        max_message_chars: int = 4000,
        rate_limit: int = 20,
        demo_customers: DemoCustomers | None = None,
        issue_link_code: IssueLinkCode | None = None,
        telegram_bot_username: BotUsername | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the web chat needs a non-empty secret")
        self._secret = secret
        self._ingest = ingest
        self._history = history
        self._max_chars = max_message_chars
        self._rate_limit = rate_limit  # messages per socket in any 10 s
        self._demo_customers = demo_customers
        # Room for the longest allowed text even when every character is JSON-escaped.
        self._max_frame_bytes = max_message_chars * 12 + 4096
        self._hub = SocketHub()
        self._unidentified: set[Connection] = set()
        self._assets = WidgetAssets()
        self._closing = False
        self._telegram = (
            ContinueOnTelegram(
                secret=secret,
                issue=issue_link_code,
                bot_username=telegram_bot_username,
                cors=_CORS,
            )
            if issue_link_code is not None and telegram_bot_username is not None
            else None
        )

    def routes(self) -> list[web.AbstractRouteDef]:
        routes: list[web.AbstractRouteDef] = [
            web.get("/widget/widget.js", self._assets.script),
            web.get("/widget/widget.css", self._assets.stylesheet),
            web.post("/webchat/session", self._new_session),
            web.options("/webchat/session", self._session_preflight),
            web.get("/webchat/ws", self._socket),
        ]
        if self._demo_customers is not None:
            routes.append(web.get("/", self._demo_page))
        if self._telegram is not None:
            routes.extend(self._telegram.routes())
        return routes

    async def startup(self) -> None:
        self._closing = False

    async def shutdown(self) -> None:
        """Close every socket with 1001 so widgets reconnect to another process or later."""
        self._closing = True
        pending = list(self._unidentified)
        await asyncio.gather(*(c.close(CLOSE_GOING_AWAY, "server shutting down") for c in pending))
        await self._hub.close_all(CLOSE_GOING_AWAY, "server shutting down")

    async def send(self, msg: OutboundMessage) -> str | None:
        """Push a reply to every open tab of the user in this process.

        Returns a delivery id, or None when the user has no open socket here; the
        message is stored either way and reaches the widget with the history on
        its next connect.
        """
        frame = message_frame(
            message_id=msg.message_id,
            author=msg.author.value,
            text=msg.text,
            created_at=datetime.now(UTC),
            quick_replies=quick_replies_of(msg),
        )
        delivered = await self._hub.send_to(msg.external_user_id, frame)
        return f"webchat:{msg.message_id}:{delivered}" if delivered else None

    def open_sockets(self, external_user_id: str) -> int:
        return self._hub.count(external_user_id)

    # --- HTTP -----------------------------------------------------------------

    async def _new_session(self, request: web.Request) -> web.Response:
        user, token = new_session_token(self._secret)
        return web.json_response({"session": token, "user": user}, headers=_CORS)

    async def _session_preflight(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers=_CORS)

    async def _demo_page(self, request: web.Request) -> web.Response:
        assert self._demo_customers is not None
        customers = await self._demo_customers()
        ref = request.query.get("customer")
        if ref is not None and not any(c.get("ref") == ref for c in customers):
            raise web.HTTPNotFound(text=f"no demo customer {ref!r}")
        html = render_demo_page(customers, current_ref=ref, secret=self._secret)
        return web.Response(text=html, content_type="text/html", headers=_NO_STORE)

    # --- WebSocket ------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=self._max_frame_bytes)
        await ws.prepare(request)
        conn = Connection(ws, RateWindow(limit=self._rate_limit, seconds=RATE_WINDOW_S))
        if self._closing:
            await conn.close(CLOSE_GOING_AWAY, "server shutting down")
            return ws
        self._unidentified.add(conn)
        try:
            user = await self._greet(conn)
        finally:
            self._unidentified.discard(conn)
        if user is None:
            return ws
        if self._closing:  # shut down while this socket said hello
            await conn.close(CLOSE_GOING_AWAY, "server shutting down")
            return ws
        self._hub.add(user.external_user_id, conn)
        try:
            if await self._replay_history(conn, user):
                await self._read_messages(conn, user)
        except _Closed:
            pass
        finally:
            self._hub.remove(user.external_user_id, conn)
        return ws

    async def _greet(self, conn: Connection) -> WebchatUser | None:
        """Wait for the hello frame and check the identity it claims."""
        try:
            msg = await conn.ws.receive(timeout=HELLO_TIMEOUT_S)
        except TimeoutError:
            reason = f"expected a hello frame within {HELLO_TIMEOUT_S:g} s"
            await self._refuse(conn, CLOSE_BAD_INPUT, reason)
            return None
        try:
            frame = await self._decode(conn, msg)
        except TextRejected:  # a message before hello
            frame = None
            await self._refuse(conn, CLOSE_BAD_INPUT, "the first frame must be hello")
        if frame is None:
            return None
        try:
            if isinstance(frame, SessionHello):
                return verify_session_token(self._secret, frame.token)
            if isinstance(frame, CustomerHello):
                return verify_customer(self._secret, frame.customer_id, frame.hmac)
        except IdentityError as exc:
            await self._refuse(conn, CLOSE_UNAUTHORIZED, str(exc))
            return None
        await self._refuse(conn, CLOSE_BAD_INPUT, "the first frame must be hello")
        return None

    async def _replay_history(self, conn: Connection, user: WebchatUser) -> bool:
        try:
            turns = await self._history(user.external_user_id, HISTORY_LIMIT)
        except Exception:
            log.exception("webchat: loading history for %s failed", user.external_user_id)
            await self._refuse(conn, CLOSE_INTERNAL_ERROR, "history is unavailable; retry")
            return False
        verified = user.verified_customer_ref is not None
        elsewhere = ["telegram"] if self._telegram and self._telegram.available() else []
        return await conn.release(
            ready_frame(
                user.external_user_id,
                verified=verified,
                max_chars=self._max_chars,
                continue_on=elsewhere,
            ),
            history_frame(turns),
        )

    async def _read_messages(self, conn: Connection, user: WebchatUser) -> None:
        while not conn.ws.closed:
            msg = await conn.ws.receive()
            try:
                frame = await self._decode(conn, msg)
            except TextRejected as exc:
                await conn.send(error_frame(str(exc), client_id=exc.client_id))
                continue
            if frame is None:
                return
            if not isinstance(frame, ChatText):
                await self._refuse(conn, CLOSE_BAD_INPUT, "hello was already received")
                return
            if not conn.rate.allow():
                reason = "too many messages at once; wait a few seconds and send it again"
                await conn.send(error_frame(reason, client_id=frame.client_id))
                continue
            await self._store(conn, user, frame)

    async def _store(self, conn: Connection, user: WebchatUser, frame: ChatText) -> None:
        received_at = datetime.now(UTC)
        inbound = InboundMessage(
            channel=self.name,
            external_event_id=f"{user.external_user_id}/{frame.client_id}",
            external_user_id=user.external_user_id,
            text=frame.text,
            received_at=received_at,
            verified_customer_ref=user.verified_customer_ref,
            metadata={"client_id": frame.client_id},
        )
        try:
            is_new = await self._ingest(inbound)
        except ValueError as exc:
            await conn.send(error_frame(f"message rejected: {exc}", client_id=frame.client_id))
            return
        except Exception:
            log.exception("webchat: storing a message of %s failed", user.external_user_id)
            # No client_id on this error: the message is not refused, only delayed. Closing
            # makes the widget reconnect and resend it with the same client_id.
            await self._refuse(conn, CLOSE_INTERNAL_ERROR, "message could not be stored; resending")
            raise _Closed from None
        await conn.send(ack_frame(frame.client_id, duplicate=not is_new))
        if is_new:
            echo = message_frame(
                message_id=None,
                author="customer",
                text=frame.text,
                created_at=received_at,
                client_id=frame.client_id,
            )
            await self._hub.send_to(user.external_user_id, echo, exclude=conn)

    async def _decode(self, conn: Connection, msg: WSMessage) -> ClientFrame | None:
        """Turn one WebSocket message into a client frame.

        None means the connection is over: the peer closed, aiohttp closed it
        (oversized frame 1009, invalid UTF-8 1007), or the frame broke the protocol
        and this closes it with 4400. :class:`TextRejected` passes through.
        """
        if msg.type is WSMsgType.TEXT:
            try:
                return parse_client_frame(msg.data, max_chars=self._max_chars)
            except ProtocolError as exc:
                await self._refuse(conn, CLOSE_BAD_INPUT, str(exc))
                return None
        if msg.type is WSMsgType.BINARY:
            await self._refuse(
                conn, CLOSE_BAD_INPUT, "binary frames are not accepted; send JSON text"
            )
        elif msg.type is WSMsgType.ERROR:
            log.info("webchat: socket closed on a bad frame: %s", msg.data)
        return None

    async def _refuse(self, conn: Connection, code: int, reason: str) -> None:
        """Tell the client why in an error frame, then close with ``code``."""
        await conn.send_now(error_frame(reason))
        await conn.close(code, reason)


_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Max-Age": "86400",
}
_NO_STORE = {"Cache-Control": "no-store"}
