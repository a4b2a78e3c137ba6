""" "Continue on Telegram": a one-time code and deep link for the widget's visitor.

``POST /webchat/link`` with the same credentials as the socket's hello
(``{"session": "<token>"}`` or ``{"customer": {"id": "...", "hmac": "..."}}``)
answers ``{"code", "expires_at", "telegram"}``, where ``telegram`` is
``https://t.me/<bot>?start=<code>``. Opening it sends ``/start <code>`` to the
bot, which links the Telegram chat to this visitor. The route answers 404 while
Telegram is off, and the ``ready`` frame lists ``"telegram"`` in
``continue_on`` only when it is on, so the widget shows the button only then.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import quote

from aiohttp import web

from channels.webchat.identity import (
    IdentityError,
    WebchatUser,
    verify_customer,
    verify_session_token,
)

log = logging.getLogger(__name__)

# (external_user_id, verified shop customer id or None) -> (code, expires_at)
IssueLinkCode = Callable[[str, str | None], Awaitable[tuple[str, datetime]]]
BotUsername = Callable[[], str | None]

TELEGRAM_DEEP_LINK = "https://t.me/{bot}?start={code}"
MAX_BODY_BYTES = 4096


class ContinueOnTelegram:
    def __init__(
        self, *, secret: str, issue: IssueLinkCode, bot_username: BotUsername, cors: dict[str, str]
    ) -> None:
        self._secret = secret
        self._issue = issue
        self._bot_username = bot_username
        self._cors = cors

    def available(self) -> bool:
        return bool(self._bot_username())

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.post("/webchat/link", self._link),
            web.options("/webchat/link", self._preflight),
        ]

    async def _preflight(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers=self._cors)

    async def _link(self, request: web.Request) -> web.Response:
        bot = self._bot_username()
        if not bot:
            return self._error(404, "Telegram is not connected")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return self._error(413, "request body too large")
        try:
            user = self._user(json.loads(await request.read()))
        except IdentityError as exc:  # before ValueError: it is one
            return self._error(401, str(exc))
        except (ValueError, TypeError, KeyError):
            return self._error(400, 'send {"session": token} or {"customer": {"id", "hmac"}}')
        try:
            code, expires_at = await self._issue(user.external_user_id, user.verified_customer_ref)
        except Exception:
            log.exception("webchat: issuing a link code for %s failed", user.external_user_id)
            return self._error(503, "a link code could not be issued; try again")
        return web.json_response(
            {
                "code": code,
                "expires_at": expires_at.isoformat(),
                "telegram": TELEGRAM_DEEP_LINK.format(bot=quote(bot), code=code),
            },
            headers={**self._cors, "Cache-Control": "no-store"},
        )

    def _user(self, body: object) -> WebchatUser:
        if not isinstance(body, dict) or ("session" in body) == ("customer" in body):
            raise ValueError("exactly one of session or customer")
        if "session" in body:
            token = body["session"]
            if not isinstance(token, str):
                raise TypeError("session must be a string")
            return verify_session_token(self._secret, token)
        customer = body["customer"]
        if not isinstance(customer, dict):
            raise TypeError("customer must be an object")
        cid, signature = customer["id"], customer["hmac"]
        if not isinstance(cid, str) or not isinstance(signature, str):
            raise TypeError("customer id and hmac must be strings")
        return verify_customer(self._secret, cid, signature)

    def _error(self, status: int, reason: str) -> web.Response:
        return web.json_response({"error": reason}, status=status, headers=self._cors)
