"""The served app end to end: health, readiness and the web chat over a real WebSocket."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.bootstrap import add_webchat, build_runtime
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from channels.webchat.identity import customer_hmac
from memory.migrate import head_revision
from tests.bot.harness import Clock
from tests.conftest import DEMO_NOW

SECRET = "test-secret"


@pytest.fixture
async def client(
    demo_database_url: str, understander: OfflineUnderstander
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    settings = Settings(
        DATABASE_URL=demo_database_url, THREADLINE_SECRET=SECRET, THREADLINE_DEMO=True
    )
    runtime = build_runtime(
        settings, clock=Clock(DEMO_NOW), understander=understander, worker_poll_interval=0.05
    )
    add_webchat(runtime)
    async with TestClient(TestServer(build_app(runtime))) as test_client:
        yield test_client


async def receive(ws: ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next frame of ``kind`` (other frames, e.g. echoes, are skipped)."""
    async with asyncio.timeout(10):
        while True:
            msg = await ws.receive()
            assert msg.type == WSMsgType.TEXT, msg
            frame = msg.json()
            if frame["type"] == kind:
                return frame  # type: ignore[no-any-return]


async def test_health_and_readiness(client: TestClient) -> None:  # type: ignore[type-arg]
    health = await client.get("/healthz")
    assert (health.status, await health.json()) == (200, {"status": "ok"})
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 200
    assert body["status"] == "ready" and body["schema"] == head_revision()
    assert body["channels"] == ["webchat"] and body["worker"] == "embedded"


async def test_a_logged_in_customer_asks_about_their_order_over_the_websocket(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    ws = await client.ws_connect("/webchat/ws")
    await ws.send_json(
        {"type": "hello", "customer": {"id": "C1001", "hmac": customer_hmac(SECRET, "C1001")}}
    )
    await receive(ws, "ready")
    assert (await receive(ws, "history"))["messages"] == []
    client_id = str(uuid.uuid4())
    await ws.send_json({"type": "message", "text": "where is my order?", "client_id": client_id})
    assert (await receive(ws, "ack"))["client_id"] == client_id
    reply = await receive(ws, "message")
    assert reply["author"] == "bot"
    assert "TL-10215" in reply["text"] and "UPS" in reply["text"]
    await ws.close()

    # A reload (or another tab) replays the conversation.
    again = await client.ws_connect("/webchat/ws")
    await again.send_json(
        {"type": "hello", "customer": {"id": "C1001", "hmac": customer_hmac(SECRET, "C1001")}}
    )
    history = await receive(again, "history")
    first = history["messages"][0]
    assert (first["author"], first["text"]) == (
        "customer",
        "where is my order?",
    )
    assert history["messages"][1]["text"] == reply["text"]
    await again.close()


async def test_an_anonymous_visitor_gets_a_knowledge_answer(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    session = await (await client.post("/webchat/session")).json()
    ws = await client.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "session": session["session"]})
    await receive(ws, "ready")
    await ws.send_json(
        {
            "type": "message",
            "text": "How long does delivery take to Belgium?",
            "client_id": str(uuid.uuid4()),
        }
    )
    reply = await receive(ws, "message")
    assert reply["author"] == "bot" and "working days" in reply["text"]
    await ws.close()


async def test_the_demo_page_offers_demo_customers(client: TestClient) -> None:  # type: ignore[type-arg]
    page = await client.get("/")
    html = await page.text()
    assert page.status == 200
    assert "Maya Okafor" in html and "Browsing as a guest" in html
    logged_in = await (await client.get("/?customer=C1001")).text()
    assert f'data-threadline-hmac="{customer_hmac(SECRET, "C1001")}"' in logged_in
