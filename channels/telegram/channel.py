"""The Telegram channel: a verified webhook in, the Bot API (python-telegram-bot) out."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from telegram import Bot, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.messages import InboundMessage, OutboundMessage, SendError
from channels.telegram.errors import send_error
from channels.telegram.limits import SendLimiter
from channels.telegram.outgoing import (
    no_keyboard,
    options_as_text,
    quick_reply_keyboard,
    split_text,
)
from channels.telegram.parse import (
    CHANNEL,
    UpdateError,
    bot_id_from_token,
    messages_of,
    update_from_json,
)
from channels.telegram.webhook_secret import check_secret

log = logging.getLogger(__name__)

Ingest = Callable[[InboundMessage], Awaitable[bool]]

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_API_URL = "https://api.telegram.org"
_REMEMBERED_PROGRESS = 1000


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one update came to: messages stored, redeliveries dropped, refused by ingest."""

    stored: int = 0
    duplicates: int = 0
    rejected: str | None = None


class TelegramChannel:
    """Customers on Telegram: one adapter object, mounted by the app via :meth:`routes`."""

    name = CHANNEL

    def __init__(
        self,
        *,
        token: str,
        ingest: Ingest,
        webhook_secret: str | None = None,
        api_url: str = DEFAULT_API_URL,
        limiter: SendLimiter | None = None,
    ) -> None:
        self.bot_id = bot_id_from_token(token)
        if webhook_secret is not None:
            check_secret(webhook_secret)
        self._secret = webhook_secret.encode() if webhook_secret else None
        self._ingest = ingest
        self.limiter = limiter or SendLimiter()
        api = api_url.rstrip("/")
        self._app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(token)
            .base_url(f"{api}/bot")
            .base_file_url(f"{api}/file/bot")
            .updater(None)
            .build()
        )
        self._bot: Bot = self._app.bot
        self._ready = False
        self._closed = False
        self._init_lock = asyncio.Lock()
        # Chunks of a long reply already delivered, so a retry resumes instead of repeating.
        self._progress: OrderedDict[int, int] = OrderedDict()

    @property
    def bot(self) -> Bot:
        return self._bot

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post(WEBHOOK_PATH, self._webhook)]

    async def startup(self) -> None:
        self._closed = False
        if self._secret is None:
            log.warning(
                "telegram: TELEGRAM_WEBHOOK_SECRET is not set: the webhook refuses every "
                "request (long polling still works)"
            )
        try:
            await self.connect()
        except SendError as exc:
            log.error("telegram: %s; sending is retried on the next reply", exc.reason)

    async def shutdown(self) -> None:
        self._closed = True
        async with self._init_lock:
            if self._ready:
                await self._app.shutdown()
            else:  # a failed start-up may have opened the HTTP client without getMe
                await self.bot.shutdown()
            self._ready = False

    # --- inbound --------------------------------------------------------------

    async def receive(self, update: Update) -> Receipt:
        """Store the customer messages of one update (the webhook and polling share this).

        Storage errors propagate: the update is not acknowledged and comes again.
        """
        stored = duplicates = 0
        for msg in messages_of(update, bot_id=self.bot_id):
            try:
                is_new = await self._ingest(msg)
            except ValueError as exc:
                log.warning("telegram: update %s refused: %s", update.update_id, exc)
                return Receipt(stored, duplicates, rejected=str(exc))
            if is_new:
                stored += 1
            else:
                duplicates += 1
        return Receipt(stored, duplicates)

    async def _webhook(self, request: web.Request) -> web.Response:
        refusal = self._refuse_secret(request.headers.get(SECRET_HEADER))
        if refusal is not None:
            return _json(403, ok=False, reason=refusal)
        try:
            update = update_from_json(json.loads(await request.read()))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _json(400, ok=False, reason=f"the body is not JSON: {exc}")
        except UpdateError as exc:
            return _json(400, ok=False, reason=str(exc))
        try:
            receipt = await self.receive(update)
        except Exception:
            log.exception("telegram: storing update %s failed", update.update_id)
            return _json(503, ok=False, reason="the update could not be stored; send it again")
        return _json(
            200,
            ok=True,
            stored=receipt.stored,
            duplicates=receipt.duplicates,
            **({"rejected": receipt.rejected} if receipt.rejected else {}),
        )

    def _refuse_secret(self, given: str | None) -> str | None:
        if self._secret is None:
            return "the webhook is off: TELEGRAM_WEBHOOK_SECRET is not set"
        if given is None:
            return f"missing {SECRET_HEADER}"
        if not hmac.compare_digest(given.encode(), self._secret):
            return f"wrong {SECRET_HEADER}"
        return None

    # --- outbound -------------------------------------------------------------

    async def send(self, msg: OutboundMessage) -> str:
        """Deliver one reply; returns ``"<chat id>:<message id>"`` of its last part."""
        try:
            chat_id = int(msg.external_user_id)
        except ValueError:
            raise SendError(
                f"{msg.external_user_id!r} is not a Telegram chat", permanent=True
            ) from None
        await self.connect()
        chunks = split_text(msg.text)
        done = self._progress.get(msg.message_id, 0)
        external_id = ""
        for index in range(done, len(chunks)):
            last = index == len(chunks) - 1
            options = msg.quick_replies if last else ()
            external_id = await self._send_chunk(chat_id, chunks[index], options)
            self._remember(msg.message_id, index + 1)
        self._progress.pop(msg.message_id, None)
        return external_id

    async def _send_chunk(self, chat_id: int, text: str, options: tuple[str, ...]) -> str:
        markup: ReplyKeyboardMarkup | ReplyKeyboardRemove = (
            quick_reply_keyboard(options) if options else no_keyboard()
        )
        try:
            return await self._send_message(chat_id, text, markup)
        except BadRequest as exc:
            if not options:
                raise send_error(exc) from exc
            log.warning("telegram: buttons refused (%s); sending them as text", exc.message)
        try:
            return await self._send_message(chat_id, options_as_text(text, options), no_keyboard())
        except TelegramError as exc:
            raise send_error(exc) from exc

    async def _send_message(
        self, chat_id: int, text: str, markup: ReplyKeyboardMarkup | ReplyKeyboardRemove
    ) -> str:
        await self.limiter.wait(str(chat_id))
        try:
            sent = await self.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
        except BadRequest:
            raise
        except TelegramError as exc:
            raise send_error(exc) from exc
        return f"{chat_id}:{sent.message_id}"

    async def connect(self) -> None:
        """Call ``getMe`` once per process (at start-up, or at the first send if it failed)."""
        if self._ready:
            return
        async with self._init_lock:
            if self._closed:
                raise SendError("the Telegram channel is shutting down")
            if self._ready:
                return
            try:
                await self._app.initialize()
            except TelegramError as exc:
                raise send_error(exc) from exc
            self._ready = True
            me = self.bot.bot
            log.info("telegram: connected as @%s (bot id %s)", me.username, me.id)

    def _remember(self, message_id: int, chunks_done: int) -> None:
        self._progress[message_id] = chunks_done
        self._progress.move_to_end(message_id)
        while len(self._progress) > _REMEMBERED_PROGRESS:
            self._progress.popitem(last=False)


def _json(status: int, **body: object) -> web.Response:
    return web.json_response(body, status=status)
