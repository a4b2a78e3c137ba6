"""The widget's "Continue on Telegram": a code and deep link from the web chat, used on Telegram."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.commands import link_code_issuer
from channels.webchat import WebchatChannel, customer_hmac
from memory.models import ChannelIdentity, LinkCode
from tests.bot.harness import Harness, RecordingChannel

SECRET = "link-test-secret"
Client = TestClient[web.Request, web.Application]


@dataclass
class Widget:
    client: Client
    webchat: WebchatChannel
    telegram: RecordingChannel
    bot_name: list[str | None]


@pytest.fixture
async def widget(h: Harness) -> AsyncIterator[Widget]:
    bot_name: list[str | None] = ["shop_help_bot"]

    async def history(user: str, limit: int) -> Any:
        return await h.runtime.history("webchat", user, limit)

    webchat = WebchatChannel(
        secret=SECRET,
        ingest=h.runtime.ingest,
        history=history,
        issue_link_code=link_code_issuer(h.runtime.pipeline.uow, h.clock, "webchat"),
        telegram_bot_username=lambda: bot_name[0],
    )
    telegram = RecordingChannel(name="telegram")
    h.runtime.outbox.add_sender("webchat", webchat)
    h.runtime.outbox.add_sender("telegram", telegram)
    app = web.Application()
    app.add_routes(webchat.routes())
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield Widget(client, webchat, telegram, bot_name)
    await webchat.shutdown()
    await client.close()


async def open_chat(
    w: Widget, hello: dict[str, Any]
) -> tuple[ClientWebSocketResponse, dict[str, Any]]:
    ws = await w.client.ws_connect("/webchat/ws")
    await ws.send_json(hello)
    ready = await ws.receive_json(timeout=5)
    assert ready["type"] == "ready"
    assert (await ws.receive_json(timeout=5))["type"] == "history"
    return ws, ready


async def chat(h: Harness, ws: ClientWebSocketResponse, text: str) -> str:
    await ws.send_json({"type": "message", "text": text, "client_id": str(uuid.uuid4())})
    assert (await ws.receive_json(timeout=5))["type"] == "ack"
    await h.process()
    frame = await ws.receive_json(timeout=5)
    assert frame["author"] == "bot"
    return str(frame["text"])


async def test_the_widget_offers_telegram_only_when_it_is_on(h: Harness, widget: Widget) -> None:
    session = (await (await widget.client.post("/webchat/session")).json())["session"]
    ws, ready = await open_chat(widget, {"type": "hello", "session": session})
    assert ready["continue_on"] == ["telegram"]
    await ws.close()
    widget.bot_name[0] = None
    ws, ready = await open_chat(widget, {"type": "hello", "session": session})
    assert "continue_on" not in ready
    await ws.close()
    off = await widget.client.post("/webchat/link", json={"session": session})
    assert off.status == 404


async def test_link_endpoint_checks_who_asks(widget: Widget) -> None:
    bad = await widget.client.post("/webchat/link", json={"session": "anon:x.deadbeef"})
    assert bad.status == 401
    assert (await widget.client.post("/webchat/link", data=b"{not json")).status == 400
    wrong = await widget.client.post(
        "/webchat/link", json={"customer": {"id": "C1", "hmac": "00" * 32}}
    )
    assert wrong.status == 401
    both = await widget.client.post(
        "/webchat/link", json={"session": "x", "customer": {"id": "C1", "hmac": "00"}}
    )
    assert both.status == 400


async def test_web_chat_then_telegram_deep_link_keeps_the_story(h: Harness, widget: Widget) -> None:
    ref, order = await h.customer_with_latest("shipped")
    hello = {"type": "hello", "customer": {"id": ref, "hmac": customer_hmac(SECRET, ref)}}
    ws, _ = await open_chat(widget, hello)
    first = await chat(h, ws, "where is my order?")
    assert order.id in first

    response = await widget.client.post("/webchat/link", json={"customer": hello["customer"]})
    assert response.status == 200
    body = await response.json()
    code = body["code"]
    assert body["telegram"] == f"https://t.me/shop_help_bot?start={code}"
    async with h.runtime.session_factory() as session:
        (row,) = (await session.scalars(select(LinkCode))).all()
    assert row.issued_on == "webchat" and code not in row.code_hash

    # Opening the deep link makes Telegram send "/start CODE" from the customer's chat.
    assert await h.runtime.ingest(h.message("tg-555", f"/start {code}", channel="telegram"))
    await h.process()
    assert "now linked" in widget.telegram.sent[-1].text
    assert await h.runtime.ingest(h.message("tg-555", "where is my order now?", channel="telegram"))
    await h.process()
    reply = widget.telegram.sent[-1]
    assert reply.metadata["action"] == "answer"
    assert order.id in reply.text, "the Telegram answer knows the order from the web chat"
    history = await h.runtime.history("telegram", "tg-555", 50)
    assert [t.channel for t in history][:2] == ["webchat", "webchat"]
    assert history[0].text == "where is my order?"
    async with h.runtime.session_factory() as session:
        tg = await session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.external_user_id == "tg-555")
        )
        web_identity = await session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.external_user_id == f"customer:{ref}")
        )
    assert tg is not None and web_identity is not None
    assert tg.customer_id == web_identity.customer_id
    assert (tg.verified, tg.verified_via) == (True, "link_code")
    await ws.close()
