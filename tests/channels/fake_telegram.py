"""A fake Telegram Bot API: a real aiohttp server on 127.0.0.1 that records every call.

Requests arrive as ``POST /bot<TOKEN>/<method>`` (form-encoded or JSON). It answers
getMe, sendMessage, setWebhook, deleteWebhook and getUpdates, and can be told to
fail the next calls of a method (429 with retry_after, 403, 400) or to answer slowly.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.bootstrap import Runtime, build_runtime
from bot.nlu import OfflineUnderstanding
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from bot.wire_telegram import add_telegram
from channels.telegram import SendLimiter, TelegramChannel
from memory.models import ChannelIdentity, InboundEvent, Message, OutboxItem
from tests.bot.harness import Clock
from tests.conftest import DEMO_NOW

BOT_ID = 7001002003
TOKEN = f"{BOT_ID}:AAFakeTokenForTests_abc-123"
USERNAME = "shop_support_bot"

_ERRORS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    409: "Conflict: can't use getUpdates method while webhook is active",
    429: "Too Many Requests: retry after {retry_after}",
}


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    token: str
    at: float  # time.monotonic() when the request arrived


@dataclass
class _Failure:
    status: int
    retry_after: int | None = None
    after: int = 0
    description: str | None = None


@dataclass
class FakeTelegram:
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    # Every request and answer in order, shared with tests that record their own events.
    events: list[str] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _delays: dict[str, float] = field(default_factory=dict)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)
    _called: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _message_ids: int = 100

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests tell the fake ----------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        retry_after: int | None = None,
        after: int = 0,
        description: str | None = None,
    ) -> None:
        """Fail a coming call of ``method`` with ``status``, once ``after`` calls succeeded."""
        failure = _Failure(status, retry_after, after, description)
        self._failures.setdefault(method, []).append(failure)

    def slow_down(self, method: str, seconds: float) -> None:
        self._delays[method] = seconds

    def queue_update(self, update: dict[str, Any]) -> None:
        self._updates.append(update)
        self._new_update.set()

    # --- what tests read --------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def sent(self) -> list[dict[str, Any]]:
        """The parameters of every sendMessage that succeeded."""
        return [c.params for c in self.calls_of("sendMessage") if c.params.get("_ok")]

    async def wait_for_event(self, event: str) -> None:
        while event not in self.events:
            self._called.clear()
            await self._called.wait()

    def _note(self, event: str) -> None:
        self.events.append(event)
        self._called.set()

    async def wait_for(self, method: str, count: int = 1) -> list[Call]:
        """Poll the records (the SDK works after the HTTP answer); callers bound the wait."""
        while len(self.calls_of(method)) < count:
            self._called.clear()
            await self._called.wait()
        return self.calls_of(method)

    # --- the Bot API -----------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        call = Call(method, params, request.match_info["token"], time.monotonic())
        self.calls.append(call)
        self._called.set()
        self.events.append(f"{method} received")
        if call.token != self.token:
            return _error(401)
        if method in self._delays:
            await asyncio.sleep(self._delays[method])
        failures = self._failures.get(method)
        if failures and failures[0].after > 0:
            failures[0].after -= 1
        elif failures:
            failure = failures.pop(0)
            self._note(f"{method} failed {failure.status}")
            return _error(failure.status, failure.retry_after, failure.description)
        result = await self._result(method, params)
        if result is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        params["_ok"] = True
        self._note(f"{method} answered")
        return web.json_response({"ok": True, "result": result})

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Shop Support",
                "username": USERNAME,
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method == "sendMessage":
            self._message_ids += 1
            chat_id = int(params["chat_id"])
            return {
                "message_id": self._message_ids,
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Shop Support"},
                "chat": {"id": chat_id, "type": "private", "first_name": "Customer"},
                "date": int(time.time()),
                "text": params["text"],
            }
        if method == "setWebhook":
            self.webhook = dict(params)
            return True
        if method == "deleteWebhook":
            self.webhook = {}
            return True
        if method == "getUpdates":
            return await self._get_updates(params)
        return None

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        # Confirming an offset forgets the updates before it, as Telegram does.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_update.clear()
            wait = min(float(params.get("timeout") or 0), 2.0)
            if wait:
                try:
                    await asyncio.wait_for(self._new_update.wait(), wait)
                except TimeoutError:
                    return []
        return list(self._updates)


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        text = value if isinstance(value, str) else ""
        if key in ("reply_markup", "allowed_updates"):
            params[key] = json.loads(text)
        else:
            params[key] = text
    return params


def _error(
    status: int, retry_after: int | None = None, description: str | None = None
) -> web.Response:
    text = description or _ERRORS.get(status, "Error").format(retry_after=retry_after)
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": text}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


# --- a real runtime wired to the fake ---------------------------------------------

SECRET = "tg-webhook-secret_0123456789"
PAYLOADS = Path(__file__).resolve().parent.parent / "payloads" / "telegram"
CUSTOMER_CHAT = 512345678


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """A recorded update; ``update_id=…`` and ``text=…`` replace those fields."""
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    if "update_id" in changes:
        data["update_id"] = changes.pop("update_id")
    if changes:
        data["message"].update(changes)
    return data


@functools.cache
def shared_understander() -> OfflineUnderstander:
    """Fitting the classifier takes a moment: once per test run (it is pure)."""
    return OfflineUnderstander(OfflineUnderstanding.default())


@dataclass
class Rig:
    """The fake Bot API, a runtime on a real database with the Telegram channel, a clock."""

    fake: FakeTelegram
    runtime: Runtime
    channel: TelegramChannel
    clock: Clock
    client: TestClient[web.Request, web.Application]

    async def post(
        self, update: dict[str, Any] | bytes, *, secret: str | None = SECRET
    ) -> ClientResponse:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        return await self.client.post("/webhooks/telegram", data=body, headers=headers)

    async def process(self) -> None:
        """The worker answers every stored message; the outbox sends what it may now."""
        assert self.runtime.worker is not None
        await self.runtime.worker.drain()
        while await self.runtime.outbox.run_once():
            pass

    async def customer_messages(self) -> list[Message]:
        async with self.runtime.session_factory() as session:
            rows = await session.scalars(
                select(Message)
                .where(Message.channel == "telegram", Message.author == "customer")
                .order_by(Message.id)
            )
            return list(rows)

    async def events(self) -> list[InboundEvent]:
        async with self.runtime.session_factory() as session:
            return list(await session.scalars(select(InboundEvent).order_by(InboundEvent.id)))

    async def outbox(self) -> list[OutboxItem]:
        async with self.runtime.session_factory() as session:
            return list(await session.scalars(select(OutboxItem).order_by(OutboxItem.id)))

    async def identity(self, chat_id: int = CUSTOMER_CHAT) -> ChannelIdentity:
        async with self.runtime.session_factory() as session:
            found = await session.scalar(
                select(ChannelIdentity).where(
                    ChannelIdentity.channel == "telegram",
                    ChannelIdentity.external_user_id == str(chat_id),
                )
            )
            assert found is not None
            return found


@asynccontextmanager
async def telegram_rig(
    database_url: str, *, secret: str | None = SECRET, limiter: SendLimiter | None = None
) -> AsyncIterator[Rig]:
    """Harness style: tests post updates, then ``process()`` (nothing runs in the background)."""
    fake = FakeTelegram()
    await fake.start()
    clock = Clock(DEMO_NOW)
    settings = Settings(
        DATABASE_URL=database_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=secret,
        TELEGRAM_API_URL=fake.url,
    )
    runtime = build_runtime(
        settings, clock=clock, embedded_worker=True, understander=shared_understander()
    )
    assert add_telegram(runtime)
    channel = runtime.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    if limiter is not None:
        channel.limiter = limiter
    app = web.Application()
    app.add_routes(channel.routes())
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    await runtime.ingestor.start()
    await channel.startup()
    try:
        yield Rig(fake, runtime, channel, clock, client)
    finally:
        await client.close()
        await channel.shutdown()
        await runtime.ingestor.stop()
        await runtime.engine.dispose()
        await fake.stop()
