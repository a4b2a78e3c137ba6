"""Slack for customers end to end: signed requests → real bolt → the real store and pipeline →
replies through the outbox to a fake Slack Web API on 127.0.0.1 (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.bootstrap import Runtime, build_runtime
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from bot.wire_slack import add_slack
from channels.slack import SlackChannel
from memory.models import InboundEvent, Message, OutboxItem
from tests.bot.harness import Clock
from tests.channels.fake_slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM_ID,
    Failure,
    FakeSlack,
    payload,
    sign,
)
from tests.conftest import DEMO_NOW

Client = TestClient[web.Request, web.Application]


def slack_settings(database_url: str, fake: FakeSlack) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
    )


@dataclass
class Rig:
    runtime: Runtime
    channel: SlackChannel
    client: Client
    fake: FakeSlack
    clock: Clock

    async def post_event(self, body: dict[str, Any], **headers: str) -> ClientResponse:
        return await self.post(json.dumps(body), "application/json", **headers)

    async def post_form(self, fields: dict[str, str]) -> ClientResponse:
        return await self.post(urlencode(fields), "application/x-www-form-urlencoded")

    async def post(self, body: str, content_type: str, **headers: str) -> ClientResponse:
        all_headers = {**sign(body), "Content-Type": content_type, **headers}
        return await self.client.post("/webhooks/slack", data=body.encode(), headers=all_headers)

    async def process(self) -> None:
        assert self.runtime.worker is not None
        await self.runtime.worker.drain()
        while await self.runtime.outbox.run_once():
            pass

    async def events(self) -> list[InboundEvent]:
        async with self.runtime.session_factory() as session:
            return list((await session.scalars(select(InboundEvent))).all())

    async def bot_texts(self) -> list[str]:
        async with self.runtime.session_factory() as session:
            rows = await session.scalars(
                select(Message.text).where(Message.author == "bot").order_by(Message.id)
            )
            return list(rows.all())


@pytest.fixture
async def rig(
    demo_database_url: str, understander: OfflineUnderstander, fake: FakeSlack
) -> AsyncIterator[Rig]:
    clock = Clock(DEMO_NOW)
    runtime = build_runtime(
        slack_settings(demo_database_url, fake),
        clock=clock,
        embedded_worker=True,
        understander=understander,
    )
    assert add_slack(runtime)
    channel = runtime.channels["slack"]
    assert isinstance(channel, SlackChannel)
    app = web.Application()
    app.add_routes(channel.routes())
    await runtime.ingestor.start()
    await channel.startup()
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Rig(runtime, channel, client, fake, clock)
    await channel.shutdown()
    await runtime.ingestor.stop()
    await runtime.engine.dispose()


async def test_url_verification_is_answered_with_the_challenge(rig: Rig) -> None:
    challenge = payload("url_verification")
    response = await rig.post_event(challenge)
    assert response.status == 200
    assert await response.json() == {"challenge": challenge["challenge"]}
    assert await rig.events() == []


async def test_a_wrong_signature_is_refused_and_nothing_is_stored(rig: Rig) -> None:
    body = json.dumps(payload("message_im"))
    headers = {**sign(body, secret="not-the-signing-secret"), "Content-Type": "application/json"}
    response = await rig.client.post("/webhooks/slack", data=body, headers=headers)
    assert response.status == 401
    unsigned = await rig.client.post(
        "/webhooks/slack", data=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status == 401
    await rig.process()
    assert await rig.events() == []
    assert rig.fake.calls == []


async def test_a_stale_timestamp_is_refused_even_when_signed_right(rig: Rig) -> None:
    body = json.dumps(payload("message_im"))
    stale = int(time.time()) - 6 * 60
    headers = {**sign(body, timestamp=stale), "Content-Type": "application/json"}
    response = await rig.client.post("/webhooks/slack", data=body, headers=headers)
    assert response.status == 401
    assert "expired" in (await response.json())["error"]
    assert await rig.events() == []


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ('{"type": "event_callback", "event": ', "application/json", "not valid JSON"),
        ('["event_callback"]', "application/json", "not a JSON object"),
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded", "not valid JSON"),
        ("user_id=U1&text=hi", "application/x-www-form-urlencoded", "neither a slash command"),
        ("hello", "text/plain", "unsupported content type"),
    ],
)
async def test_a_malformed_body_is_a_400_with_the_reason_and_nothing_stored(
    rig: Rig, body: str, content_type: str, reason: str
) -> None:
    response = await rig.post(body, content_type)
    assert response.status == 400
    assert reason in (await response.json())["error"]
    assert await rig.events() == []


async def test_a_direct_message_is_stored_then_answered_in_the_same_dm(rig: Rig) -> None:
    response = await rig.post_event(payload("message_im"))
    assert response.status == 200
    [event] = await rig.events()
    assert event.channel == "slack" and event.external_event_id == "Ev0DM0000001"
    assert event.external_user_id == f"{TEAM_ID}:U0CUST0001"
    assert event.text == "Hi! Could you tell me where my order is? My email is ada@example.com"
    assert event.payload["metadata"]["slack_channel"] == "D0CUST0001"
    assert rig.fake.posted() == [], "the webhook answers before any reply is posted"

    await rig.process()
    [posted] = rig.fake.posted()
    [reply] = await rig.bot_texts()
    assert posted["channel"] == "D0CUST0001"
    assert posted["text"] == reply.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert rig.fake.called("conversations.open") == [], "the DM was known from the message"
    async with rig.runtime.session_factory() as session:
        item = await session.scalar(select(OutboxItem))
    assert item is not None and item.state == "sent"
    assert item.external_message_id == rig.fake.accepted("chat.postMessage")[0].answer["ts"]


async def test_a_mention_in_a_channel_is_answered_privately_in_a_dm(rig: Rig) -> None:
    response = await rig.post_event(payload("app_mention"))
    assert response.status == 200
    [event] = await rig.events()
    assert event.text == "do you ship to Norway?"
    assert event.external_user_id == f"{TEAM_ID}:U0CUST0002"
    assert event.payload["metadata"] == {
        "source": "mention",
        "slack_channel": "C0PARTNERS1",
        "ts": "1764400201.000300",
    }
    await rig.process()
    [opened] = rig.fake.called("conversations.open")
    assert opened.params["users"] == "U0CUST0002"
    [posted] = rig.fake.posted()
    assert posted["channel"] == "D0CUST0002"
    assert posted["text"]


@pytest.mark.parametrize(
    "name",
    ["message_changed", "message_deleted", "member_joined_channel", "bot_message", "own_post"],
)
async def test_edits_deletes_joins_and_bot_posts_are_acknowledged_and_ignored(
    rig: Rig, name: str
) -> None:
    response = await rig.post_event(payload(name))
    assert response.status == 200
    await rig.process()
    assert await rig.events() == []
    assert rig.fake.posted() == []


async def test_a_retried_event_is_stored_once_and_answered_once(rig: Rig) -> None:
    first = await rig.post_event(payload("message_im"))
    retried = await rig.post_event(
        payload("message_im"), **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert (first.status, retried.status) == (200, 200)
    await rig.process()
    again = await rig.post_event(payload("message_im"), **{"X-Slack-Retry-Num": "2"})
    assert again.status == 200
    await rig.process()
    assert len(await rig.events()) == 1
    assert len(rig.fake.posted()) == 1


async def test_a_rate_limited_reply_is_sent_once_after_retry_after(rig: Rig) -> None:
    rig.fake.fail("chat.postMessage", Failure(error="ratelimited", status=429, retry_after=7))
    await rig.post_event(payload("message_im"))
    await rig.process()
    assert rig.fake.posted() == []
    async with rig.runtime.session_factory() as session:
        item = await session.scalar(select(OutboxItem))
    assert item is not None and item.state != "sent"
    assert item.next_attempt_at == DEMO_NOW + timedelta(seconds=7)

    rig.clock.now = DEMO_NOW + timedelta(seconds=6)
    await rig.process()
    assert rig.fake.posted() == [], "not before Retry-After"
    rig.clock.now = DEMO_NOW + timedelta(seconds=7)
    await rig.process()
    assert len(rig.fake.called("chat.postMessage")) == 2
    [posted] = rig.fake.posted()
    assert posted["channel"] == "D0CUST0001"


async def test_the_slash_command_passes_its_text_as_a_message(rig: Rig) -> None:
    response = await rig.post_form(payload("slash_command"))
    assert response.status == 200
    assert "direct messages" in await response.text()
    [event] = await rig.events()
    assert event.text == "/link"
    assert event.external_user_id == f"{TEAM_ID}:U0CUST0002"
    await rig.process()
    [posted] = rig.fake.posted()
    assert posted["channel"] == "D0CUST0002"


async def test_the_slash_command_alone_explains_itself(rig: Rig) -> None:
    response = await rig.post_form({**payload("slash_command"), "text": "  "})
    assert response.status == 200
    assert "/threadline where is my order?" in await response.text()
    assert await rig.events() == []


async def test_a_quick_reply_button_is_the_customers_answer(rig: Rig) -> None:
    response = await rig.post_form({"payload": json.dumps(payload("block_actions"))})
    assert response.status == 200
    [event] = await rig.events()
    assert event.text == "Order 1043"
    assert event.external_user_id == f"{TEAM_ID}:U0CUST0001"
    await rig.process()
    [posted] = rig.fake.posted()
    assert posted["channel"] == "D0CUST0001"
    assert rig.fake.called("conversations.open") == []


async def test_a_message_too_long_to_store_is_acknowledged_and_dropped(rig: Rig) -> None:
    body = payload("message_im")
    body["event"]["text"] = "x" * (rig.runtime.settings.max_message_chars + 1)
    response = await rig.post_event(body)
    assert response.status == 200, "Slack must not retry what can never be stored"
    assert await rig.events() == []


async def test_the_webhook_answers_before_a_slow_reply_is_posted(
    demo_database_url: str, understander: OfflineUnderstander, fake: FakeSlack
) -> None:
    from bot.app import build_app

    fake.delays["chat.postMessage"] = 1.5
    runtime = build_runtime(
        slack_settings(demo_database_url, fake),
        clock=Clock(DEMO_NOW),
        understander=understander,
        worker_poll_interval=0.05,
    )
    assert add_slack(runtime)
    async with TestClient(TestServer(build_app(runtime), host="127.0.0.1")) as client:
        ready = await (await client.get("/readyz")).json()
        assert "slack" in ready["channels"]
        body = json.dumps(payload("message_im"))
        started = time.monotonic()
        response = await client.post(
            "/webhooks/slack",
            data=body,
            headers={**sign(body), "Content-Type": "application/json"},
        )
        answered = time.monotonic()
        assert response.status == 200
        assert answered - started < 1.0
        async with asyncio.timeout(10):
            [call] = await fake.wait_accepted("chat.postMessage")
        assert call.done_at is not None and answered < call.done_at, "answered before the reply"
        async with runtime.session_factory() as session:
            assert await session.scalar(select(func.count()).select_from(InboundEvent)) == 1
