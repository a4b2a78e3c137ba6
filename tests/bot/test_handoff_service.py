"""The handoff service on the real runtime (SQLite and PostgreSQL): claim, reply, note,
resolve with a rating, back to bot, and the outcomes staff see."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.handoff import (
    BACK_TO_BOT,
    RATING_QUESTION,
    AlreadyClaimed,
    HandoffClosed,
    HandoffDeps,
    NotYourHandoff,
    assign,
    back_to_bot,
    claim,
    note,
    parse_rating,
    resolve,
    staff_reply,
)
from memory.context import ContextLimits
from memory.handoffs import conversation_outcomes, open_handoff_cards
from memory.knowledge_suggestions import list_suggestions
from memory.models import Conversation, Handoff, InboundEvent, Message, Order, OutboxItem
from memory.staff_posts import pending_staff_posts
from memory.unit_of_work import SqlUnitOfWorkFactory
from tests.bot.harness import Harness, RecordingChannel
from tests.conftest import DEMO_NOW

ASK_FOR_PERSON = "I want to talk to a human agent please"


def deps(h: Harness) -> HandoffDeps:
    return HandoffDeps(h.runtime.session_factory, h.clock, h.runtime.outbox.wake)


async def escalated(h: Harness, user: str, *, ref: str | None = None) -> dict[str, Any]:
    reply = await h.say(user, ASK_FOR_PERSON, ref=ref)
    assert reply.metadata["action"] == "escalate"
    (card,) = [c for c in await open_handoff_cards(h.runtime.read_factory) if c["state"]]
    return card


async def system_turns(h: Harness, conversation_id: int) -> list[tuple[int, str]]:
    async with h.runtime.session_factory() as session:
        rows = await session.execute(
            select(Message.id, Message.text)
            .where(Message.conversation_id == conversation_id, Message.author == "system")
            .order_by(Message.id)
        )
        return [(row[0], row[1]) for row in rows]


async def one(h: Harness, model: Any, *where: Any) -> Any:
    async with h.runtime.session_factory() as session:
        return (await session.scalars(select(model).where(*where))).one()


async def test_two_agents_claiming_at_once_one_wins_and_the_other_is_told(h: Harness) -> None:
    card = await escalated(h, "anon-claim")
    results = await asyncio.gather(
        claim(deps(h), card["id"], "alice"),
        claim(deps(h), card["id"], "bob"),
        return_exceptions=True,
    )
    losers = [r for r in results if isinstance(r, AlreadyClaimed)]
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    handoff = await one(h, Handoff, Handoff.id == card["id"])
    assert handoff.state == "claimed"
    assert str(losers[0]) == f"handoff {card['id']} is already claimed by {handoff.claimed_by}"
    conversation = await one(h, Conversation, Conversation.id == card["conversation_id"])
    assert conversation.state == "staff"


async def test_the_card_shows_customer_rule_reason_orders_and_last_turns(h: Harness) -> None:
    ref, order = await h.customer_with_latest("shipped")
    card = await escalated(h, "known-1", ref=ref)
    assert card["state"] == "waiting" and card["claimed_by"] is None
    assert card["rule_id"] and card["customer"]["email"]
    assert card["customer"]["channel"] == "testchat"
    assert card["orders"][0]["id"] == order.id
    assert [t["author"] for t in card["turns"]] == ["customer", "bot"]
    assert card["turns"][0]["text"] == ASK_FOR_PERSON


async def test_a_staff_reply_reaches_the_customer_where_they_wrote_last(h: Harness) -> None:
    ref, _ = await h.customer_with_latest("delivered")
    card = await escalated(h, "web-1", ref=ref)
    other = RecordingChannel(name="telegram")
    h.runtime.outbox.add_sender(other.name, other)
    # The customer moves to another channel while waiting: the bot stays quiet there too.
    msg = h.message("tg-501", "I'm on my phone now", ref=ref, channel="telegram")
    assert await h.runtime.ingest(msg)
    await h.process()
    assert other.sent == []

    await claim(deps(h), card["id"], "alice")
    done = await staff_reply(deps(h), card["id"], "alice", "Hi, Alice here. Looking at it now.")
    await h.process()

    assert done.delivered_to is not None and done.delivered_to.channel == "telegram"
    assert [(m.text, m.author.value, m.external_user_id) for m in other.sent] == [
        ("Hi, Alice here. Looking at it now.", "staff", "tg-501")
    ]
    item = await one(h, OutboxItem, OutboxItem.message_id == done.message_id)
    assert (item.channel, item.external_user_id, item.state) == ("telegram", "tg-501", "sent")


async def test_only_the_claiming_agent_replies(h: Harness) -> None:
    card = await escalated(h, "anon-own")
    with pytest.raises(NotYourHandoff, match="claim handoff"):
        await staff_reply(deps(h), card["id"], "alice", "too early")
    await claim(deps(h), card["id"], "alice")
    with pytest.raises(NotYourHandoff, match="claimed by alice"):
        await staff_reply(deps(h), card["id"], "bob", "let me")
    with pytest.raises(NotYourHandoff):
        await resolve(deps(h), card["id"], "bob")


async def test_a_note_is_never_relayed_replayed_or_in_the_bots_context(h: Harness) -> None:
    card = await escalated(h, "anon-note")
    await claim(deps(h), card["id"], "alice")
    sent_before = len(h.channel.sent)
    done = await note(deps(h), card["id"], "alice", "Customer sounds upset; refund approved")
    await h.process()
    assert len(h.channel.sent) == sent_before
    async with h.runtime.session_factory() as session:
        queued = await session.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.message_id == done.message_id)
        )
    assert queued == 0
    history = await h.runtime.history("testchat", "anon-note", 50)
    assert all("refund approved" not in t.text for t in history)
    (card_now,) = await open_handoff_cards(h.runtime.read_factory)
    assert card_now["turns"][-1]["internal"] is True  # staff see it, marked as a note

    await back_to_bot(deps(h), card["id"], "alice")
    context = await _context(h, card["conversation_id"])
    assert all("refund approved" not in t.text for t in context.recent_turns)


async def test_a_staff_reply_is_not_processed_as_a_customer_message(h: Harness) -> None:
    card = await escalated(h, "anon-loop")
    await claim(deps(h), card["id"], "alice")
    async with h.runtime.session_factory() as session:
        events_before = await session.scalar(select(func.count()).select_from(InboundEvent))
    await staff_reply(deps(h), card["id"], "alice", "I want to talk to a human agent please")
    await h.process()
    await h.process()
    async with h.runtime.session_factory() as session:
        events_after = await session.scalar(select(func.count()).select_from(InboundEvent))
        authors = (
            await session.scalars(
                select(Message.author)
                .where(Message.conversation_id == card["conversation_id"])
                .where(Message.internal.is_(False))
                .order_by(Message.id)
            )
        ).all()
    assert events_after == events_before
    assert list(authors) == ["customer", "bot", "staff"]
    assert [m.author.value for m in h.channel.sent] == ["bot", "staff"]


async def test_resolve_asks_for_a_rating_and_records_the_answer(h: Harness) -> None:
    card = await escalated(h, "anon-rate")
    await claim(deps(h), card["id"], "alice")
    await staff_reply(deps(h), card["id"], "alice", "Your refund is on its way.")
    await resolve(deps(h), card["id"], "alice")
    await h.process()
    asked = h.channel.sent[-1]
    assert asked.text == RATING_QUESTION
    assert asked.quick_replies == ("1", "2", "3", "4", "5")
    assert (await one(h, Handoff, Handoff.id == card["id"])).state == "resolved"
    assert (await one(h, Conversation, Conversation.id == card["conversation_id"])).state == (
        "resolved"
    )
    with pytest.raises(HandoffClosed):
        await back_to_bot(deps(h), card["id"], "alice")

    h.clock.now += timedelta(minutes=5)
    thanks = await h.say("anon-rate", "5")
    assert thanks.text.startswith("Thank you for rating us 5/5")
    conversation = await one(h, Conversation, Conversation.id == card["conversation_id"])
    assert conversation.state == "resolved", "a rating does not reopen the conversation"
    outcomes = await conversation_outcomes(h.runtime.read_factory, since=DEMO_NOW - timedelta(1))
    assert outcomes["ratings"] == 1 and outcomes["average_rating"] == 5
    assert outcomes["resolved_by_staff"] == 1 and outcomes["reopened"] == 0


async def test_a_customer_writing_after_resolve_reopens_with_the_bot(h: Harness) -> None:
    card = await escalated(h, "anon-reopen")
    await claim(deps(h), card["id"], "alice")
    await resolve(deps(h), card["id"], "alice")
    await h.process()
    h.clock.now += timedelta(hours=2)
    reply = await h.say("anon-reopen", "How long does shipping take?")
    assert reply.author.value == "bot" and reply.metadata["action"] == "answer"
    conversation = await one(h, Conversation, Conversation.id == card["conversation_id"])
    assert conversation.state == "bot"
    outcomes = await conversation_outcomes(h.runtime.read_factory, since=DEMO_NOW - timedelta(1))
    assert outcomes["reopened"] == 1 and outcomes["ratings"] == 0


async def test_back_to_bot_tells_the_customer_and_the_bot_sees_the_staff_turns(
    h: Harness,
) -> None:
    card = await escalated(h, "anon-back")
    await claim(deps(h), card["id"], "alice")
    await staff_reply(deps(h), card["id"], "alice", "I have updated your delivery address.")
    await back_to_bot(deps(h), card["id"], "alice")
    await h.process()
    assert [m.text for m in h.channel.sent[-2:]] == [
        "I have updated your delivery address.",
        BACK_TO_BOT,
    ]
    assert (await one(h, Handoff, Handoff.id == card["id"])).state == "returned"

    # Staff handed back: the bot answers the next question itself.
    reply = await h.say("anon-back", "How long does shipping take?")
    assert reply.author.value == "bot" and reply.metadata["action"] == "answer"
    # What a model's prompt would carry: the staff turn itself.
    with_texts = await _context(h, card["conversation_id"], ContextLimits(turn_texts=True))
    (staff_turn,) = [t for t in with_texts.recent_turns if t.author == "staff"]
    assert staff_turn.text == "I have updated your delivery address."
    # This bot answers offline: its context tells the policy when staff last wrote.
    offline = await _context(h, card["conversation_id"])
    assert offline.last_staff_at == staff_turn.created_at
    assert await open_handoff_cards(h.runtime.read_factory) == []


def test_ratings_are_numbers_from_one_to_five() -> None:
    assert [parse_rating(t) for t in ("5", " 4/5 ", "3 stars", "1.", "2!")] == [5, 4, 3, 1, 2]
    assert [parse_rating(t) for t in ("0", "6", "55", "5 days ago", "five")] == [None] * 5


async def test_a_number_without_the_rating_question_is_an_ordinary_message(h: Harness) -> None:
    reply = await h.say("anon-number", "5")
    assert not reply.text.startswith("Thank you for rating")
    assert reply.metadata["action"] in {"answer", "clarify"}
    conversation = await one(h, Conversation, Conversation.id == reply.conversation_id)
    assert conversation.state == "bot"


async def _context(h: Harness, conversation_id: int, limits: ContextLimits | None = None) -> Any:
    """The conversation's context as the runtime's bot reads it, or read with ``limits``."""
    work = h.runtime.pipeline.uow
    if limits is not None:
        work = SqlUnitOfWorkFactory(h.runtime.session_factory, h.runtime.pipeline.orders, limits)
    async with work() as uow:
        conversation = await uow.conversations.get(conversation_id)
        assert conversation is not None
        return await uow.context.build(
            customer_id=conversation.customer_id,
            conversation=conversation,
            channel="testchat",
            verified=False,
            verified_via=None,
            now=h.clock(),
        )


async def test_assign_hands_a_waiting_or_own_handoff_to_a_colleague(h: Harness) -> None:
    card = await escalated(h, "anon-assign")
    await assign(deps(h), card["id"], "alice", "bob")
    handoff = await one(h, Handoff, Handoff.id == card["id"])
    assert (handoff.state, handoff.claimed_by) == ("claimed", "bob")
    with pytest.raises(NotYourHandoff, match="claimed by bob"):
        await assign(deps(h), card["id"], "alice", "carol")
    await assign(deps(h), card["id"], "bob", "carol")
    await staff_reply(deps(h), card["id"], "carol", "Carol here, I'll take it from here.")
    with pytest.raises(NotYourHandoff):
        await staff_reply(deps(h), card["id"], "bob", "me too")
    notes = [text for _, text in await system_turns(h, card["conversation_id"])]
    assert notes[-2:] == [
        "alice assigned the conversation to bob",
        "bob assigned the conversation to carol",
    ]


async def test_with_staff_slack_every_change_is_queued_for_the_thread_in_order(
    h: Harness,
) -> None:
    slack = replace(deps(h), staff_slack=True)
    card = await escalated(h, "anon-posts")
    await claim(slack, card["id"], "alice")
    reply = await staff_reply(slack, card["id"], "alice", "From the console")
    from_thread = await staff_reply(slack, card["id"], "alice", "From Slack", origin="slack")
    memo = await note(slack, card["id"], "alice", "console note")
    await resolve(slack, card["id"], "alice")
    posts = [
        (p.kind, p.message_id)
        for p in await pending_staff_posts(h.runtime.session_factory)
        if p.handoff_id == card["id"]
    ]
    system = [m for m, _ in await system_turns(h, card["conversation_id"])]
    assert posts == [
        ("update", None),
        ("mirror", system[0]),
        ("mirror", reply.message_id),
        ("mirror", memo.message_id),
        ("update", None),
        ("mirror", system[1]),
    ]
    assert from_thread.message_id not in {m for _, m in posts}


async def test_resolving_offers_the_staff_answer_as_a_knowledge_suggestion(h: Harness) -> None:
    ref, order = await h.customer_with_latest("delivered")
    asked = await h.say("kb-1", f"Can I exchange order {order.id} for a bigger size?", ref=ref)
    assert asked.metadata["action"] == "escalate", "exchanges need a person"
    (card,) = await open_handoff_cards(h.runtime.read_factory)
    await claim(deps(h), card["id"], "alice")
    await note(deps(h), card["id"], "alice", "checked stock first")
    await staff_reply(deps(h), card["id"], "alice", "Yes: exchanges are free within 30 days.")
    await h.process()
    await h.say("kb-2", ASK_FOR_PERSON)
    (back,) = [c for c in await open_handoff_cards(h.runtime.read_factory) if c["id"] != card["id"]]
    await claim(deps(h), back["id"], "bob")
    await staff_reply(deps(h), back["id"], "bob", "Back to the assistant for this one.")
    await back_to_bot(deps(h), back["id"], "bob")
    await resolve(deps(h), card["id"], "alice")

    (suggestion,) = await list_suggestions(h.runtime.read_factory)
    assert (suggestion.handoff_id, suggestion.staff, suggestion.state) == (
        card["id"],
        "alice",
        "pending",
    )
    assert suggestion.answer == "Yes: exchanges are free within 30 days."
    assert order.id not in suggestion.question and "[order]" in suggestion.question


async def test_open_cards_each_show_their_own_customer_for_the_same_few_statements(
    h: Harness,
) -> None:
    """The console lists the cards whenever the store changes: each card shows its own
    customer, orders and turns, and listing many costs the statements of listing one."""
    refs = []
    for status in ("shipped", "delivered", "pending"):
        ref, _ = await h.customer_with_latest(status)
        if ref not in refs:
            refs.append(ref)
    users = [f"customer:{ref}" for ref in refs] + ["anon-cards-1", "anon-cards-2"]
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    engine = h.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    per_listing = []
    try:
        for n, user in enumerate(users):
            ref = refs[n] if n < len(refs) else None
            await h.say(user, f"where is my parcel? ({n})", ref=ref)
            await h.say(user, ASK_FOR_PERSON, ref=ref)
            statements = 0
            cards = await open_handoff_cards(h.runtime.read_factory)
            per_listing.append(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(cards) == len(users)
    assert per_listing[-1] == per_listing[0], per_listing  # not one more per card

    async with h.runtime.session_factory() as session:
        for card in cards:
            customer_id = card["customer"]["id"]
            newest = (
                await session.scalars(
                    select(Order.id)
                    .where(Order.customer_id == customer_id)
                    .order_by(Order.created_at.desc(), Order.id.desc())
                    .limit(3)
                )
            ).all()
            assert [o["id"] for o in card["orders"]] == list(newest)
            turns = (
                await session.scalars(
                    select(Message.text)
                    .where(Message.conversation_id == card["conversation_id"])
                    .order_by(Message.id)
                )
            ).all()
            assert [t["text"] for t in card["turns"]] == list(turns)[-12:]
            assert card["customer"]["channel"] == "testchat"
    assert [c["turns"][0]["text"] for c in cards] == [
        f"where is my parcel? ({n})" for n in range(len(users))
    ]
    assert sum(1 for c in cards if c["orders"]) == len(refs)
