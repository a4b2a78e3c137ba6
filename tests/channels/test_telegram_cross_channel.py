"""One customer across channels: web-chat turns, then the Telegram deep link, then a
question on Telegram answered with what was said on the web (real SDK, fake Bot API,
real runtime on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.messages import InboundMessage
from memory.context import ContextLimits
from memory.models import Customer, Decision, Message, Order
from memory.unit_of_work import SqlUnitOfWork
from tests.bot.harness import RecordingChannel
from tests.channels.fake_telegram import CUSTOMER_CHAT, Rig, payload, telegram_rig

CODE = re.compile(r"Your link code is ([A-Z0-9]+)\.")


@pytest.fixture(autouse=True)
def _sdk_time_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def rig(demo_database_url: str) -> AsyncIterator[Rig]:
    async with telegram_rig(demo_database_url) as r:
        yield r


async def shop_customer_with_shipped_order(rig: Rig) -> tuple[str, Order]:
    async with rig.runtime.session_factory() as session:
        for customer in await session.scalars(select(Customer).order_by(Customer.id)):
            latest = await session.scalar(
                select(Order)
                .where(Order.customer_id == customer.id)
                .order_by(Order.created_at.desc())
                .limit(1)
            )
            if latest is not None and latest.status == "shipped" and customer.external_ref:
                return customer.external_ref, latest
    raise AssertionError("the demo shop has a customer whose latest order shipped")


async def test_the_web_chat_story_follows_the_customer_to_telegram(rig: Rig) -> None:
    web = RecordingChannel(name="webchat")
    rig.runtime.outbox.add_sender(web.name, web)
    ref, order = await shop_customer_with_shipped_order(rig)

    async def on_web(n: int, text: str) -> str:
        msg = InboundMessage(
            channel="webchat",
            external_event_id=f"web-{n}",
            external_user_id=f"customer:{ref}",
            text=text,
            received_at=rig.clock(),
            verified_customer_ref=ref,
        )
        assert await rig.runtime.ingest(msg)
        await rig.process()
        return web.sent[-1].text

    # 1. On the shop's web chat, logged in: a question, then "continue on Telegram".
    await on_web(1, "Hello, I have a question about my parcel to Lisbon")
    code_reply = await on_web(2, "/link")
    match = CODE.search(code_reply)
    assert match, code_reply
    code = match.group(1)

    # 2. The deep link opens Telegram, which sends /start CODE.
    resp = await rig.post(payload("start_code", text=f"/start {code}"))
    assert (await resp.json())["stored"] == 1
    await rig.process()
    [linked] = rig.fake.sent
    assert linked["chat_id"] == str(CUSTOMER_CHAT)
    assert linked["text"].startswith("Done: this chat is now linked")

    # 3. On Telegram, the order question: answered with this customer's order.
    resp = await rig.post(payload("text", update_id=811000300, text="where is my order?"))
    assert (await resp.json())["stored"] == 1
    await rig.process()
    answer = rig.fake.sent[-1]
    assert answer["chat_id"] == str(CUSTOMER_CHAT)
    assert order.id in answer["text"]

    async with rig.runtime.session_factory() as session:
        question = await session.scalar(
            select(Message).where(
                Message.channel == "telegram", Message.text == "where is my order?"
            )
        )
        assert question is not None
        decision = await session.scalar(select(Decision).where(Decision.message_id == question.id))
        assert decision is not None
        web_turns = (
            await session.scalars(
                select(Message).where(Message.channel == "webchat").order_by(Message.id)
            )
        ).all()
    assert decision.action == "answer"
    assert decision.inputs["customer"]["verified"] is True
    assert decision.inputs["customer"]["first_contact"] is False
    assert decision.inputs["order"]["id"] == order.id

    # The question was decided in the conversation that holds the web-chat turns, and the
    # context built for it shows them (the turns a model's prompt carries).
    assert {m.conversation_id for m in web_turns} == {decision.conversation_id}
    with_turns = ContextLimits(turn_texts=True)
    orders = rig.runtime.pipeline.orders
    async with SqlUnitOfWork(rig.runtime.session_factory, orders, with_turns) as uow:
        conversation = await uow.conversations.get(decision.conversation_id)
        assert conversation is not None
        context = await uow.context.build(
            customer_id=question.customer_id,
            conversation=conversation,
            channel="telegram",
            verified=True,
            verified_via=None,
            now=rig.clock(),
        )
    seen = [(t.channel, t.text) for t in context.recent_turns]
    assert ("webchat", "Hello, I have a question about my parcel to Lisbon") in seen
    assert ("telegram", "where is my order?") in seen
    assert seen.index(("webchat", "/link")) < seen.index(("telegram", f"/start {code}"))
