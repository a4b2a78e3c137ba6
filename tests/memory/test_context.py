"""The context builder: bounded, across channels, with past conversations and contacts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.context import ContextLimits
from memory.db import make_read_session_factory
from memory.models import Message, Order
from memory.orders import SqlOrderSource
from memory.records import ContextRequest, ConversationRecord
from memory.unit_of_work import SqlUnitOfWork
from memory.views import Context


def read_factory(factory: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    engine = factory.kw["bind"]
    return make_read_session_factory(engine)


T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


async def test_visits_split_where_the_customer_was_silent_for_the_gap(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The database finds the gaps: many messages in a visit, one contact."""
    now = T0 + timedelta(days=3)
    async with SqlUnitOfWork(session_factory, SqlOrderSource(read_factory(session_factory))) as uow:
        customer = await uow.customers.create(now=T0, name="Bo")
        calm = await uow.conversations.start(customer.id, "webchat", T0)
        heated = await uow.conversations.start(customer.id, "telegram", T0 + timedelta(hours=4))
        plan = [  # minutes after T0, conversation, order named
            # One visit, about the last order it named.
            *[(m, calm, {10: "TL-0", 30: "TL-1"}.get(m)) for m in range(0, 100, 10)],
            (90 + 120, calm, None),  # exactly the gap after the last one: a new visit
            (240, heated, None),  # the same visit, in a conversation that went to a person
            (241, heated, None),
            (250, calm, "TL-9"),
            (2 * 24 * 60, calm, None),
        ]
        for minutes, conversation, ref in plan:
            await uow.messages.add(
                conversation_id=conversation.id,
                customer_id=customer.id,
                author="customer",
                channel=conversation.channel,
                text="hello",
                now=T0 + timedelta(minutes=minutes),
                order_ref=ref,
            )
        await uow.handoffs.open(
            conversation_id=heated.id,
            decision_id=None,
            queue="support",
            priority="normal",
            rule_id="r",
            reason="angry",
            now=T0 + timedelta(minutes=241),
        )
        await uow.commit()
    async with SqlUnitOfWork(session_factory, SqlOrderSource(read_factory(session_factory))) as uow:
        context = await uow.context.build(
            customer_id=customer.id,
            conversation=calm,
            channel="webchat",
            verified=False,
            verified_via=None,
            now=now,
        )
    assert [(c.at, c.order_ref, c.escalated) for c in context.recent_contacts] == [
        (T0 + timedelta(days=2), None, False),
        (T0 + timedelta(minutes=210), "TL-9", True),
        (T0, "TL-1", False),
    ]


async def seed(factory: async_sessionmaker[AsyncSession]) -> tuple[int, ConversationRecord]:
    orders = SqlOrderSource(read_factory(factory))
    async with SqlUnitOfWork(factory, orders) as uow:
        customer = await uow.customers.create(
            now=T0, name="Ada", email="ada@example.com", external_ref="C9"
        )
        old = await uow.conversations.start(customer.id, "telegram", T0)
        await uow.messages.add(
            conversation_id=old.id,
            customer_id=customer.id,
            author="customer",
            channel="telegram",
            text="where is TL-7?",
            now=T0,
            order_ref="TL-7",
        )
        await uow.conversations.update(
            old.id, closed_at=T0 + timedelta(days=1), summary="Customer asked: where is TL-7?"
        )
        current = await uow.conversations.start(customer.id, "webchat", T0 + timedelta(days=3))
        for i, (channel, author) in enumerate(
            [
                ("webchat", "customer"),
                ("webchat", "bot"),
                ("telegram", "customer"),
                ("telegram", "staff"),
            ]
        ):
            await uow.messages.add(
                conversation_id=current.id,
                customer_id=customer.id,
                author=author,
                channel=channel,
                text=f"turn {i}",
                now=T0 + timedelta(days=3, minutes=i),
                order_ref="TL-7" if author == "customer" else None,
            )
        await uow.commit()
    async with factory() as session, session.begin():
        await session.execute(
            insert(Order),
            [
                {
                    "id": f"TL-{n}",
                    "customer_id": customer.id,
                    "email": "ada@example.com",
                    "status": "delivered" if n % 2 else "cancelled",
                    "currency": "EUR",
                    "total": Decimal("50.00"),
                    "items": [],
                    "created_at": T0 - timedelta(days=n),
                    "source": "json",
                }
                for n in range(1, 16)
            ],
        )
    return customer.id, current


async def build(
    factory: async_sessionmaker[AsyncSession],
    customer_id: int,
    conversation: ConversationRecord,
    limits: ContextLimits | None = None,
) -> Context:
    async with SqlUnitOfWork(factory, SqlOrderSource(read_factory(factory)), limits) as uow:
        return await uow.context.build(
            customer_id=customer_id,
            conversation=conversation,
            channel="telegram",
            verified=True,
            verified_via="shop_login",
            now=T0 + timedelta(days=3, hours=1),
        )


async def test_context_joins_channels_history_orders_and_counters(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    customer_id, current = await seed(session_factory)
    context = await build(session_factory, customer_id, current)
    assert [(t.channel, t.author, t.text) for t in context.recent_turns] == [
        ("webchat", "customer", "turn 0"),
        ("webchat", "bot", "turn 1"),
        ("telegram", "customer", "turn 2"),
        ("telegram", "staff", "turn 3"),
    ]
    (past,) = context.past_conversations
    assert (past.channel, past.summary) == ("telegram", "Customer asked: where is TL-7?")
    assert [o.id for o in context.orders][:3] == ["TL-1", "TL-2", "TL-3"]
    assert len(context.orders) == 10, "orders are bounded"
    assert context.orders_count == 15
    assert context.lifetime_value == Decimal("400.00"), "8 delivered orders, cancelled not counted"
    assert [(c.order_ref, c.at) for c in context.recent_contacts] == [
        ("TL-7", T0 + timedelta(days=3)),
        ("TL-7", T0),
    ]
    assert context.last_staff_at == T0 + timedelta(days=3, minutes=3)
    assert context.first_contact is False
    assert (context.customer.email, context.verified) == ("ada@example.com", True)


async def test_turns_are_bounded_whatever_the_history(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    customer_id, current = await seed(session_factory)
    async with session_factory() as session, session.begin():
        await session.execute(
            insert(Message),
            [
                {
                    "conversation_id": current.id,
                    "customer_id": customer_id,
                    "author": "customer",
                    "channel": "webchat",
                    "text": f"m{i}",
                    "attachments": [],
                    "meta": {},
                    "internal": False,
                    "created_at": T0 + timedelta(days=3, minutes=10 + i),
                }
                for i in range(500)
            ],
        )
    context = await build(session_factory, customer_id, current, ContextLimits(turns=20))
    assert [t.text for t in context.recent_turns] == [f"m{i}" for i in range(480, 500)]


async def test_a_batch_of_contexts_is_each_one_built_alone(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """``build_many`` for several customers gives what ``build`` gives for each."""
    customer_id, current = await seed(session_factory)
    async with SqlUnitOfWork(session_factory, SqlOrderSource(read_factory(session_factory))) as uow:
        others = []
        for n in range(4):  # 5 customers: a batch padded to 8 on SQLite
            other = await uow.customers.create(now=T0, name=f"Other {n}")
            conversation = await uow.conversations.start(other.id, "webchat", T0)
            await uow.messages.add(
                conversation_id=conversation.id,
                customer_id=other.id,
                author="customer",
                channel="webchat",
                text=f"question {n}",
                now=T0 + timedelta(days=3),
            )
            others.append((other.id, conversation))
        await uow.commit()
    requests = [
        ContextRequest(cid, conversation, "webchat", False, None, T0 + timedelta(days=3, hours=1))
        for cid, conversation in [(customer_id, current), *others]
    ]
    async with SqlUnitOfWork(session_factory, SqlOrderSource(read_factory(session_factory))) as uow:
        together = await uow.context.build_many(requests)
        alone = [await uow.context.build(**r.keywords()) for r in requests]
    assert together == alone
    assert [c.customer.id for c in together] == [r.customer_id for r in requests]
    assert [t.text for t in together[3].recent_turns] == ["question 2"]
    assert len(together[0].orders) == 10 and together[1].orders == ()


async def test_read_without_turn_texts_a_context_tells_the_same_facts(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """The offline responder's contexts skip the turns' texts; what the policy sees from
    the turns (a first contact, when staff last wrote) is the same, read in SQL."""
    customer_id, current = await seed(session_factory)  # staff wrote last, a past conversation
    async with SqlUnitOfWork(session_factory, SqlOrderSource(read_factory(session_factory))) as uow:
        newcomer = await uow.customers.create(now=T0, name="New")
        first = await uow.conversations.start(newcomer.id, "webchat", T0 + timedelta(days=3))
        regular = await uow.customers.create(now=T0, name="Regular")
        long_one = await uow.conversations.start(regular.id, "webchat", T0)
        silent = await uow.customers.create(now=T0, name="Silent")
        empty = await uow.conversations.start(silent.id, "webchat", T0)
        turns = [(first, newcomer.id, "customer", False, 0), (first, newcomer.id, "bot", False, 1)]
        # Staff wrote 25 turns ago (outside the last 20) and in an internal note since.
        turns += [(long_one, regular.id, "staff", False, 0)]
        turns += [(long_one, regular.id, "staff", True, 1)]
        turns += [
            (long_one, regular.id, ("bot", "customer")[i % 2], False, 2 + i) for i in range(24)
        ]
        for conversation, cid, author, internal, minute in turns:
            await uow.messages.add(
                conversation_id=conversation.id,
                customer_id=cid,
                author=author,
                channel="webchat",
                text="hello",
                now=T0 + timedelta(days=3, minutes=minute),
                internal=internal,
            )
        await uow.commit()
    requests = [
        ContextRequest(cid, conversation, "webchat", False, None, T0 + timedelta(days=3, hours=1))
        for cid, conversation in [
            (customer_id, current),
            (newcomer.id, first),
            (regular.id, long_one),
            (silent.id, empty),
        ]
    ]
    contexts = {}
    for texts in (True, False):
        limits = ContextLimits(turn_texts=texts)
        orders = SqlOrderSource(read_factory(session_factory))
        async with SqlUnitOfWork(session_factory, orders, limits) as uow:
            contexts[texts] = await uow.context.build_many(requests)
    with_texts, without = contexts[True], contexts[False]
    assert [len(c.recent_turns) for c in with_texts] == [4, 2, 20, 0]
    assert [c.recent_turns for c in without] == [(), (), (), ()]
    assert [(c.first_contact, c.last_staff_at) for c in without] == [
        (False, T0 + timedelta(days=3, minutes=3)),  # not new, staff wrote in the last turns
        (True, None),  # one message and the bot's answer, no earlier conversation
        (False, None),  # staff's message lies beyond the last 20 turns, the note is internal
        (True, None),
    ]
    assert without == [replace(c, recent_turns=()) for c in with_texts]
