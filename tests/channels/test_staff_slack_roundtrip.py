"""customer → bot → staff in Slack → customer → bot, with the customer on the real web chat.

The customer talks over a real WebSocket to the widget's endpoint; staff act through signed
requests to the Slack webhook; every step is checked where the people involved would see it
(the chat, the Slack thread) and in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.bootstrap import add_webchat, build_runtime
from bot.handoff import BACK_TO_BOT
from bot.ports import OfflineUnderstander
from bot.wire_slack import add_slack
from bot.wire_staff_slack import StaffSlackService, add_staff_slack
from channels.slack import SlackChannel
from channels.webchat import customer_hmac
from memory.models import Conversation, Handoff, Message
from tests.bot.harness import Clock, RecordingChannel
from tests.channels.fake_slack import FakeSlack
from tests.channels.test_staff_slack import (
    ALICE,
    ASK_FOR_PERSON,
    Client,
    Desk,
    demo_customer,
    staff_settings,
)
from tests.conftest import DEMO_NOW

SECRET = "roundtrip-secret"


@pytest.fixture
async def desk(
    demo_database_url: str, understander: OfflineUnderstander, fake: FakeSlack
) -> AsyncIterator[Desk]:
    """Customer Slack, staff Slack and the real web chat on one app."""
    settings = staff_settings(demo_database_url, fake, THREADLINE_SECRET=SECRET)
    clock = Clock(DEMO_NOW)
    runtime = build_runtime(settings, clock=clock, embedded_worker=True, understander=understander)
    assert add_slack(runtime) and add_staff_slack(runtime)
    add_webchat(runtime)
    slack, webchat = (runtime.channels[n] for n in ("slack", "webchat"))
    staff = runtime.services["staff_slack"]
    assert isinstance(slack, SlackChannel) and isinstance(staff, StaffSlackService)
    app = web.Application()
    app.add_routes([*slack.routes(), *webchat.routes()])
    client: Client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    await runtime.ingestor.start()
    await slack.startup()
    await webchat.startup()
    yield Desk(runtime, slack, staff.sender, client, fake, clock, RecordingChannel("unused"))
    await client.close()
    await webchat.shutdown()
    await slack.shutdown()
    await runtime.ingestor.stop()
    await runtime.engine.dispose()


async def signed_in_chat(desk: Desk, ref: str) -> ClientWebSocketResponse:
    ws = await desk.client.ws_connect("/webchat/ws")
    await ws.send_json(
        {"type": "hello", "customer": {"id": ref, "hmac": customer_hmac(SECRET, ref)}}
    )
    assert (await ws.receive_json(timeout=5))["type"] == "ready"
    assert (await ws.receive_json(timeout=5))["type"] == "history"
    return ws


async def send(desk: Desk, ws: ClientWebSocketResponse, text: str) -> None:
    await ws.send_json({"type": "message", "text": text, "client_id": str(uuid.uuid4())})
    assert (await ws.receive_json(timeout=5))["type"] == "ack"
    await desk.process()


async def next_turn(ws: ClientWebSocketResponse) -> dict[str, Any]:
    frame: dict[str, Any] = await ws.receive_json(timeout=5)
    assert frame["type"] == "message", frame
    return frame


async def test_a_handoff_goes_from_the_web_chat_to_slack_and_back_to_the_bot(
    desk: Desk,
) -> None:
    customer = await demo_customer(desk.runtime)
    assert customer.external_ref
    ws = await signed_in_chat(desk, customer.external_ref)

    # customer → bot: the bot hands over and says so, with the expected wait.
    await send(desk, ws, ASK_FOR_PERSON)
    handed_over = await next_turn(ws)
    assert handed_over["author"] == "bot" and "within 15 minutes" in handed_over["text"]
    async with desk.runtime.session_factory() as session:
        handoff = await session.scalar(select(Handoff).order_by(Handoff.id.desc()))
    assert handoff is not None
    [card] = desk.fake.posted()
    assert str(customer.email) in card["text"] and "on webchat" in card["text"]

    # staff in Slack: claim on the card, reply in the thread → the customer's chat shows it.
    assert (await desk.click(ALICE, "claim", handoff.id)).status == 200
    await desk.say_in_thread(ALICE, "Hi, this is Alice. I'm checking your order now.", handoff.id)
    reply = await next_turn(ws)
    assert (reply["author"], reply["text"]) == (
        "staff",
        "Hi, this is Alice. I'm checking your order now.",
    )
    # A colleague's remark in the same thread stays a note: nothing more reaches the chat.
    await desk.say_in_thread(ALICE, "// customer is a repeat buyer", handoff.id)

    # customer → staff: mirrored into the thread, the bot stays quiet.
    await send(desk, ws, "Thanks! It was meant as a gift.")
    _, ts = await desk.thread(handoff.id)
    assert "*Customer* (webchat): Thanks! It was meant as a gift." in [
        r["text"] for r in desk.fake.replies(ts)
    ]

    # staff hand back from the thread → the customer is told, and the bot answers again.
    await desk.mention_in_thread(ALICE, "handback", handoff.id)
    assert (await next_turn(ws))["text"] == BACK_TO_BOT
    await send(desk, ws, "How long does shipping take?")
    answer = await next_turn(ws)
    assert answer["author"] == "bot" and "working days" in answer["text"]

    async with desk.runtime.session_factory() as session:
        conversation = await session.get(Conversation, handoff.conversation_id)
        turns = (
            await session.execute(
                select(Message.author, Message.internal)
                .where(Message.conversation_id == handoff.conversation_id)
                .order_by(Message.id)
            )
        ).all()
    assert conversation is not None and conversation.state == "bot"
    visible = [author for author, internal in turns if not internal]
    assert visible == ["customer", "bot", "staff", "customer", "bot", "customer", "bot"]
    assert sum(1 for _, internal in turns if internal) >= 3, "claim, note and hand-back logged"
    await ws.close()
