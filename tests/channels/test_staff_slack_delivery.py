"""Staff Slack delivery: a thread reply reaching a Telegram customer, Slack outages and rate
limits (posts wait and arrive in order), reminders for unclaimed handoffs, giving up
(SQLite and PostgreSQL, real SDKs against fake Slack and Telegram servers)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.bootstrap import build_runtime
from bot.ports import OfflineUnderstander
from bot.wire_slack import add_slack
from bot.wire_staff_slack import StaffSlackService, add_staff_slack
from bot.wire_telegram import add_telegram
from channels.slack import SlackChannel
from channels.telegram import TelegramChannel
from memory.models import StaffPost
from memory.staff_posts import pending_staff_posts
from tests.bot.harness import Clock, RecordingChannel
from tests.channels.fake_slack import Failure, FakeSlack
from tests.channels.fake_telegram import CUSTOMER_CHAT, SECRET, TOKEN, FakeTelegram, payload
from tests.channels.test_staff_slack import (
    ALICE,
    ASK_FOR_PERSON,
    STAFF_CHANNEL,
    Client,
    Desk,
    close_desk,
    demo_customer,
    staff_settings,
)
from tests.conftest import DEMO_NOW


async def claimed_handoff(desk: Desk) -> tuple[str, int, str]:
    """A web-chat customer's handoff, claimed by alice: (customer ref, handoff id, thread)."""
    customer = await demo_customer(desk.runtime)
    assert customer.external_ref
    handoff_id = await desk.escalate(customer.external_ref)
    await desk.click(ALICE, "claim", handoff_id)
    _, ts = await desk.thread(handoff_id)
    return customer.external_ref, handoff_id, ts


def customer_lines(desk: Desk, ts: str) -> list[str]:
    return [r["text"] for r in desk.fake.replies(ts) if r["text"].startswith("*Customer*")]


# --- the customer on Telegram ---------------------------------------------------------


async def test_a_thread_reply_reaches_the_customer_on_telegram(
    demo_database_url: str, understander: OfflineUnderstander, fake: FakeSlack
) -> None:
    telegram = FakeTelegram()
    await telegram.start()
    clock = Clock(DEMO_NOW)
    settings = staff_settings(
        demo_database_url,
        fake,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_URL=telegram.url,
    )
    runtime = build_runtime(settings, clock=clock, embedded_worker=True, understander=understander)
    assert add_telegram(runtime) and add_slack(runtime) and add_staff_slack(runtime)
    slack, tg = (runtime.channels[n] for n in ("slack", "telegram"))
    staff = runtime.services["staff_slack"]
    assert isinstance(slack, SlackChannel) and isinstance(tg, TelegramChannel)
    assert isinstance(staff, StaffSlackService)
    app = web.Application()
    app.add_routes([*slack.routes(), *tg.routes()])
    client: Client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    await runtime.ingestor.start()
    await slack.startup()
    await tg.startup()
    desk = Desk(runtime, slack, staff.sender, client, fake, clock, RecordingChannel("webchat"))
    try:
        update = payload("text", update_id=811000500, text=ASK_FOR_PERSON)
        response = await client.post(
            "/webhooks/telegram",
            data=json.dumps(update).encode(),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert response.status == 200
        await desk.process()
        [card] = fake.posted()
        assert "on telegram" in card["text"]
        async with runtime.session_factory() as session:
            handoff_id = await session.scalar(select(StaffPost.handoff_id))
        assert handoff_id is not None
        await desk.click(ALICE, "claim", handoff_id)
        before = len(telegram.sent)

        await desk.say_in_thread(ALICE, "Hi Marta, Alice here. Let me check that.", handoff_id)
        sent = telegram.sent[before:]
        assert [(m["chat_id"], m["text"]) for m in sent] == [
            (str(CUSTOMER_CHAT), "Hi Marta, Alice here. Let me check that.")
        ]
        _, ts = await desk.thread(handoff_id)
        assert [r["text"] for r in fake.replies(ts)] == ["_alice claimed the conversation_"]

        # Her answer on Telegram comes back into the thread, marked with its channel.
        update = payload("text", update_id=811000501, text="Thanks, it's order 1042")
        await client.post(
            "/webhooks/telegram",
            data=json.dumps(update).encode(),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        await desk.process()
        assert fake.replies(ts)[-1]["text"] == "*Customer* (telegram): Thanks, it's order 1042"
    finally:
        await client.close()
        await tg.shutdown()
        await close_desk(desk)
        await telegram.stop()


# --- Slack down, rate limited, gone -----------------------------------------------------


async def test_while_slack_is_down_posts_wait_and_later_arrive_in_order(desk: Desk) -> None:
    ref, _, ts = await claimed_handoff(desk)
    port = desk.fake.port
    await desk.fake.stop()  # connection refused

    await desk.customer_says(ref, "Hello? First message")
    await desk.customer_says(ref, "Second message")
    pending = await pending_staff_posts(desk.runtime.session_factory)
    assert [(p.kind, p.attempts) for p in pending] == [("mirror", 1), ("mirror", 0)]

    await desk.fake.start(port)
    desk.fake.fail("chat.postMessage", Failure("internal_error", status=500))
    desk.clock.now += timedelta(seconds=2)
    await desk.process()
    assert customer_lines(desk, ts) == []
    assert [p.attempts for p in await pending_staff_posts(desk.runtime.session_factory)] == [2, 0]

    await desk.process()  # not due yet: nothing is tried
    # The card, the claim line and the one answered 500 (refused connections never arrive).
    assert len(desk.fake.called("chat.postMessage")) == 3
    desk.clock.now += timedelta(seconds=3)
    await desk.process()
    assert customer_lines(desk, ts) == [
        "*Customer* (webchat): Hello? First message",
        "*Customer* (webchat): Second message",
    ]
    assert await pending_staff_posts(desk.runtime.session_factory) == []


async def test_a_rate_limit_is_waited_out_as_slack_asks(desk: Desk) -> None:
    ref, _, ts = await claimed_handoff(desk)
    desk.fake.fail("chat.postMessage", Failure(status=429, retry_after=30))
    await desk.customer_says(ref, "One")
    await desk.customer_says(ref, "Two")
    tried = len(desk.fake.called("chat.postMessage"))

    desk.clock.now += timedelta(seconds=20)
    await desk.process()
    assert len(desk.fake.called("chat.postMessage")) == tried, "no call before Retry-After"
    desk.clock.now += timedelta(seconds=11)
    await desk.process()
    assert customer_lines(desk, ts) == ["*Customer* (webchat): One", "*Customer* (webchat): Two"]


async def test_a_card_that_never_made_it_is_posted_before_its_thread_is_used(desk: Desk) -> None:
    desk.fake.fail("chat.postMessage", Failure("not_in_channel"))
    customer = await demo_customer(desk.runtime)
    assert customer.external_ref
    handoff_id = await desk.escalate(customer.external_ref)
    async with desk.runtime.session_factory() as session:
        card_post = await session.scalar(select(StaffPost).where(StaffPost.kind == "card"))
    assert card_post is not None and card_post.state == "failed"
    assert desk.fake.posted() == []

    assert "You claimed" in await desk.slash(ALICE, f"claim {handoff_id}")
    [card, line] = desk.fake.posted()
    assert card["channel"] == STAFF_CHANNEL and "thread_ts" not in card
    assert (await desk.card(handoff_id))["text"].endswith("Claimed by alice.")
    assert line["thread_ts"] == (await desk.thread(handoff_id))[1]


async def test_a_post_is_given_up_after_its_last_attempt(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    ref, _, ts = await claimed_handoff(desk)
    for _ in range(8):
        desk.fake.fail("chat.postMessage", Failure("internal_error", status=500))
    await desk.customer_says(ref, "Anyone?")
    with caplog.at_level(logging.ERROR, logger="bot.staff_outbox"):
        for _ in range(8):
            desk.clock.now += timedelta(minutes=11)
            await desk.process()
    async with desk.runtime.session_factory() as session:
        mirror = await session.scalar(
            select(StaffPost).where(StaffPost.kind == "mirror").order_by(StaffPost.id.desc())
        )
    assert mirror is not None and (mirror.state, mirror.attempts) == ("failed", 8)
    assert "giving up" in caplog.text
    await desk.customer_says(ref, "Hello again")
    assert customer_lines(desk, ts) == ["*Customer* (webchat): Hello again"]


# --- reminders ------------------------------------------------------------------------


async def test_an_unclaimed_handoff_is_reposted_with_the_mention_and_raised_priority(
    desk: Desk,
) -> None:
    customer = await demo_customer(desk.runtime)
    assert customer.external_ref
    handoff_id = await desk.escalate(customer.external_ref)
    _, ts = await desk.thread(handoff_id)
    assert desk.runtime.sla is not None
    desk.clock.now += timedelta(minutes=16)
    assert await desk.runtime.sla.run_once() == 1
    await desk.process()

    [reminder] = desk.fake.replies(ts)
    assert reminder["reply_broadcast"] is True
    assert reminder["text"] == (
        f"<!subteam^S0SUPPORT1> Handoff #{handoff_id} has waited 16 min unclaimed; "
        "priority raised to *high*. Claim it from the card above."
    )
    card = await desk.card(handoff_id)
    assert "high priority" in card["text"] and card["text"].endswith("Waiting.")
