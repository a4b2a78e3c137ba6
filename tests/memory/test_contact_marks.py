"""Contact marks: set as customer messages are stored, worked out again after a merge,
and written for existing messages by migration 0006 — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from memory.contact_marks import NOTES, STARTS, remark
from memory.db import make_session_factory
from memory.identity import Claims, resolve_identity
from memory.identity_links import merge_customers, unmerge_customers
from memory.migrate import alembic_config, current_revision, head_revision, migrate
from memory.models import MESSAGES, Message
from memory.orders import InMemoryOrderSource
from memory.unit_of_work import SqlUnitOfWork

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
Factory = async_sessionmaker[AsyncSession]

# (minutes after T0, author, conversation "w" or "t", order named, the mark it gets)
STORY: list[tuple[int, str, str, str | None, int | None]] = [
    (0, "customer", "w", None, STARTS),  # the first
    (1, "bot", "w", None, None),  # not the customer's
    (5, "customer", "w", None, None),  # the same visit, the same conversation
    (10, "customer", "t", None, NOTES),  # another conversation
    (12, "customer", "w", None, NOTES),  # and back
    (20, "customer", "w", "TL-1", NOTES),  # names an order
    (140, "customer", "w", None, STARTS),  # exactly the gap after the last
    (141, "customer", "w", None, None),
    (260, "customer", "w", None, None),  # a pause a minute short of the gap
    (300, "staff", "w", None, None),
    (400, "customer", "t", "TL-2", STARTS),  # a pause and an order: a new visit first
]


def uow_of(factory: Factory) -> SqlUnitOfWork:
    return SqlUnitOfWork(factory, InMemoryOrderSource())


def row(
    customer_id: int, conversation_id: int, minutes: int, author: str, ref: str | None
) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "author": author,
        "channel": "webchat",
        "text": f"at {minutes}",
        "now": T0 + timedelta(minutes=minutes),
        "order_ref": ref,
    }


async def marks_of(factory: Factory, customer_id: int) -> list[int | None]:
    async with factory() as session:
        found = await session.scalars(
            select(Message.contact_mark)
            .where(Message.customer_id == customer_id)
            .order_by(Message.created_at, Message.id)
        )
        return list(found)


async def test_marks_are_set_as_messages_are_stored_one_by_one_or_in_a_batch(
    session_factory: Factory,
) -> None:
    async with uow_of(session_factory) as uow:
        customer = await uow.customers.create(now=T0)
        threads = {
            "w": (await uow.conversations.start(customer.id, "webchat", T0)).id,
            "t": (await uow.conversations.start(customer.id, "telegram", T0)).id,
        }
        rows = [row(customer.id, threads[c], m, a, ref) for m, a, c, ref, _ in STORY]
        for one in rows[:4]:
            await uow.messages.add(**one)
        await uow.batch.add_messages(rows[4:7])  # several of one customer at once
        for one in rows[7:]:
            await uow.batch.add_messages([one])
        await uow.commit()
    expected = [mark for *_, mark in STORY]
    assert await marks_of(session_factory, customer.id) == expected
    async with session_factory() as session, session.begin():
        await remark(session, [customer.id])
    assert await marks_of(session_factory, customer.id) == expected


async def story_of(factory: Factory, email: str, channel: str, minutes: list[int]) -> int:
    """A customer with one conversation: their messages at these minutes after T0."""
    async with uow_of(factory) as uow:
        identity = await resolve_identity(uow, channel, email, Claims(email=email), T0)
        conversation = await uow.conversations.start(identity.customer_id, channel, T0)
        for m in minutes:
            await uow.messages.add(
                **row(identity.customer_id, conversation.id, m, "customer", None)
            )
        await uow.commit()
    return identity.customer_id


async def test_a_merge_marks_the_joined_history_and_an_unmerge_each_history_again(
    session_factory: Factory,
) -> None:
    ada = await story_of(session_factory, "ada@example.com", "webchat", [0, 200])
    bea = await story_of(session_factory, "bea@example.com", "telegram", [30, 300])
    assert await marks_of(session_factory, ada) == [STARTS, STARTS]
    assert await marks_of(session_factory, bea) == [STARTS, STARTS]
    async with session_factory() as session, session.begin():
        report = await merge_customers(session, ada, bea, actor="admin", method="manual", now=T0)
    # 0 and 30 are one visit now (30 in the other conversation); so are 200 and 300.
    assert await marks_of(session_factory, ada) == [STARTS, NOTES, STARTS, NOTES]
    async with session_factory() as session, session.begin():
        await unmerge_customers(session, report.merge_id, actor="admin", now=T0)
    assert await marks_of(session_factory, ada) == [STARTS, STARTS]
    assert await marks_of(session_factory, bea) == [STARTS, STARTS]


async def test_the_migration_marks_the_messages_already_stored(
    engine: AsyncEngine, session_factory: Factory
) -> None:
    """Down to 0005 (no marks), the story stored, up again: every message marked."""

    def down(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), "0005")

    async with uow_of(session_factory) as uow:
        customer = await uow.customers.create(now=T0)
        threads = {
            "w": (await uow.conversations.start(customer.id, "webchat", T0)).id,
            "t": (await uow.conversations.start(customer.id, "telegram", T0)).id,
        }
        await uow.commit()
    await engine.dispose()  # the migration alters the table: no pooled connection may hold it
    async with engine.begin() as connection:
        await connection.run_sync(down)
    try:
        assert await current_revision(engine) == "0005"
        async with engine.begin() as connection:
            for minutes, author, conversation, ref, _ in reversed(STORY):  # ids out of order
                values = row(customer.id, threads[conversation], minutes, author, ref)
                values["created_at"] = values.pop("now")
                values |= {"attachments": [], "meta": {}, "internal": False}
                await connection.execute(insert(MESSAGES).values(values))
    finally:
        await migrate(engine)
    assert await current_revision(engine) == head_revision()
    factory = make_session_factory(engine)
    assert await marks_of(factory, customer.id) == [mark for *_, mark in STORY]
