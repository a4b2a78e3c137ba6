"""The whole pipeline on a real store (SQLite and PostgreSQL): what a customer sees."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.bootstrap import build_runtime
from bot.messages import SendError
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from bot.worker import Worker
from memory.models import (
    ChannelIdentity,
    Conversation,
    Decision,
    Handoff,
    InboundEvent,
    Message,
    OutboxItem,
)
from memory.queues import claim_events
from tests.bot.harness import Harness, RecordingChannel


async def rows(h: Harness, model: type, *where: object) -> list:  # type: ignore[type-arg]
    async with h.runtime.session_factory() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def test_knowledge_question_is_answered_from_the_knowledge_base(h: Harness) -> None:
    reply = await h.say("anon-1", "How long does shipping take?")
    assert (reply.metadata["action"], reply.metadata["kind"]) == ("answer", "knowledge")
    assert "working days" in reply.text
    (decision,) = await rows(h, Decision)
    assert decision.action == "answer"
    assert "shipping" in decision.outcome["source"]
    assert decision.inputs["signals"]["text"] == "How long does shipping take?"
    assert decision.policy_version == h.runtime.policy.version
    messages = await rows(h, Message)
    assert [m.author for m in messages] == ["customer", "bot"]
    (item,) = await rows(h, OutboxItem)
    assert (item.state, item.external_message_id) == ("sent", "ext-1")


async def test_verified_customer_gets_their_shipped_order_and_tracking(h: Harness) -> None:
    ref, order = await h.customer_with_latest("shipped")
    reply = await h.say(f"customer:{ref}", "where is my order?", ref=ref)
    assert reply.metadata["action"] == "answer"
    assert order.id in reply.text
    assert order.tracking_number and order.tracking_number in reply.text


async def test_unverified_customer_is_asked_to_verify_and_sees_no_order(h: Harness) -> None:
    _, order = await h.customer_with_latest("shipped")
    reply = await h.say("anon-2", "where is my order?")
    assert reply.metadata["action"] == "verify_identity"
    assert order.id not in reply.text
    assert "TL-" not in reply.text


async def test_asking_for_a_person_opens_a_handoff_and_the_bot_goes_quiet(h: Harness) -> None:
    reply = await h.say("anon-3", "I want to talk to a human agent please")
    assert reply.metadata["action"] == "escalate"
    assert "person" in reply.text.lower() or "team" in reply.text.lower()
    (handoff,) = await rows(h, Handoff)
    assert handoff.state == "waiting"
    (conversation,) = await rows(h, Conversation)
    assert conversation.state == "waiting_staff"

    assert await h.runtime.ingest(h.message("anon-3", "hello? anyone there?"))
    await h.process()
    assert len(h.channel.sent) == 1, "the bot does not answer while a person owns it"
    texts = [m.text for m in await rows(h, Message)]
    assert texts[-1] == "hello? anyone there?"


async def test_a_redelivered_event_gives_one_message_and_one_reply(h: Harness) -> None:
    msg = h.message("anon-4", "Do you ship to Canada?")
    assert await h.runtime.ingest(msg) is True
    assert await h.runtime.ingest(msg) is False
    await h.process()
    assert len(h.channel.sent) == 1
    assert len(await rows(h, Message, Message.author == "customer")) == 1


async def test_messages_of_one_customer_are_answered_in_order(h: Harness) -> None:
    for text in ("hi", "How long does shipping take?", "what is your returns policy?"):
        assert await h.runtime.ingest(h.message("anon-5", text))
    await h.process()
    customer_turns = [m.text for m in await rows(h, Message, Message.author == "customer")]
    assert customer_turns == ["hi", "How long does shipping take?", "what is your returns policy?"]
    replies_to = [m.conversation_id for m in h.channel.sent]
    assert len(replies_to) == 3 and len(set(replies_to)) == 1


async def test_a_stored_message_is_answered_after_a_restart(
    h: Harness, demo_database_url: str, understander: OfflineUnderstander
) -> None:
    assert await h.runtime.ingest(h.message("anon-6", "What payment methods do you accept?"))
    # The process dies after storing, before processing; even a half-done claim is left.
    await claim_events(h.runtime.session_factory, now=h.clock())
    await h.runtime.ingestor.stop()
    await h.runtime.engine.dispose()

    h.clock.now += timedelta(minutes=2)  # the dead worker's lease has run out
    restarted = build_runtime(
        Settings(DATABASE_URL=demo_database_url), clock=h.clock, embedded_worker=True
    )
    channel = RecordingChannel()
    restarted.outbox.add_sender(channel.name, channel)
    await restarted.ingestor.start()
    try:
        assert restarted.worker is not None
        await restarted.worker.drain()
        while await restarted.outbox.run_once():
            pass
        while await restarted.outbox.run_once():
            pass
    finally:
        await restarted.ingestor.stop()
        await restarted.engine.dispose()
    assert len(channel.sent) == 1
    assert "pay" in channel.sent[0].text.lower()
    h.runtime = restarted  # the fixture disposes this one too (idempotent)


async def test_rate_limited_send_is_retried_after_the_given_delay(h: Harness) -> None:
    h.channel.failures.append(SendError("429 Too Many Requests", retry_after=3))
    assert await h.runtime.ingest(h.message("anon-7", "How long does shipping take?"))
    await h.process()
    assert h.channel.sent == []
    (item,) = await rows(h, OutboxItem)
    assert item.state == "pending" and item.attempts == 1
    assert item.next_attempt_at == h.clock() + timedelta(seconds=3)

    h.clock.now += timedelta(seconds=2)
    await h.process()
    assert h.channel.sent == [], "not before the platform's retry_after"
    h.clock.now += timedelta(seconds=1)
    await h.process()
    await h.process()
    assert len(h.channel.sent) == 1, "sent once, never twice"


async def test_a_permanent_send_failure_is_not_retried(h: Harness) -> None:
    h.channel.failures.append(SendError("bot was blocked by the user", permanent=True))
    assert await h.runtime.ingest(h.message("anon-8", "hello"))
    await h.process()
    h.clock.now += timedelta(hours=1)
    await h.process()
    (item,) = await rows(h, OutboxItem)
    assert (item.state, item.attempts, h.channel.sent) == ("failed", 1, [])
    (identity,) = await rows(h, ChannelIdentity)
    assert identity.unreachable is True


async def test_a_customer_back_after_the_window_starts_a_new_conversation(h: Harness) -> None:
    await h.say("anon-9", "How long does shipping take?")
    h.clock.now += timedelta(days=10)
    await h.say("anon-9", "what is your returns policy?")
    conversations = sorted(await rows(h, Conversation), key=lambda c: c.id)
    assert len(conversations) == 2
    assert conversations[0].closed_at is not None
    assert "How long does shipping take?" in (conversations[0].summary or "")
    (event_count,) = [n async for n in _count(h, InboundEvent, InboundEvent.state == "done")]
    assert event_count == 2


async def _count(h: Harness, model: type, *where: object):  # type: ignore[no-untyped-def,type-arg]
    async with h.runtime.session_factory() as session:
        yield await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_order_number_and_the_email_on_it_verify_the_customer(h: Harness) -> None:
    _, order = await h.customer_with_latest("shipped")
    asked = await h.say("anon-10", "where is my order?")
    assert asked.metadata["action"] == "verify_identity"
    wrong = await h.say("anon-10", f"it is {order.id}, my email is someone.else@example.com")
    assert order.tracking_number not in wrong.text
    proven = await h.say("anon-10", f"order {order.id}, email {order.email.upper()}")
    assert proven.metadata["action"] == "answer"
    assert order.tracking_number and order.tracking_number in proven.text


async def test_the_worker_rewrites_a_closed_conversations_summary(h: Harness) -> None:
    async def model(turns: list[tuple[str, str]]) -> str:
        return f"{len(turns)} turns, first: {turns[0][1]}"

    h.runtime.worker = Worker(
        h.runtime.session_factory, h.runtime.pipeline, summarize=model, clock=h.clock
    )
    await h.say("anon-11", "How long does shipping take?")
    h.clock.now += timedelta(days=10)
    await h.say("anon-11", "what is your returns policy?")
    first, _ = sorted(await rows(h, Conversation), key=lambda c: c.id)
    assert first.summary == "2 turns, first: How long does shipping take?"
