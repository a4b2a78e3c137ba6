"""The context builder: bounded, across channels, with past conversations and contacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.context import ContextLimits, group_visits
from memory.db import make_read_session_factory
from memory.models import Message, Order
from memory.orders import SqlOrderSource
from memory.records import ConversationRecord
from memory.unit_of_work import SqlUnitOfWork
from memory.views import Context


def read_factory(factory: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    engine = factory.kw["bind"]
    return make_read_session_factory(engine)


T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def test_visits_split_on_silence_and_keep_the_order_named() -> None:
    at = [T0, T0 + timedelta(minutes=5), T0 + timedelta(hours=5), T0 + timedelta(days=2)]
    contacts = group_visits(
        [(at[0], None, False), (at[1], "TL-1", False), (at[2], None, True), (at[3], "TL-2", False)],
        timedelta(hours=2),
    )
    assert [(c.at, c.order_ref, c.escalated) for c in contacts] == [
        (at[3], "TL-2", False),
        (at[2], None, True),
        (at[0], "TL-1", False),
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
