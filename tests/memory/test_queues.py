"""Work queues: one sender's events in order, leases, retries, outbox order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.models import InboundEvent
from memory.queues import (
    MAX_EVENT_ATTEMPTS,
    claim_events,
    claim_outbox,
    mark_event_failed,
    mark_send_failed,
    mark_sent,
)
from memory.sql_repositories import SqlEvents
from tests.memory.rows import conversation, queue_bot_reply

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def add_events(factory: async_sessionmaker[AsyncSession], senders: list[str]) -> None:
    async with factory() as session, session.begin():
        await session.execute(
            insert(InboundEvent),
            [
                {
                    "channel": "webchat",
                    "external_event_id": f"e{i}",
                    "external_user_id": s,
                    "text": f"{s}-{i}",
                    "payload": {},
                    "state": "pending",
                    "attempts": 0,
                    "received_at": T0,
                }
                for i, s in enumerate(senders)
            ],
        )


async def done(factory: async_sessionmaker[AsyncSession], event_id: int) -> None:
    async with factory() as session, session.begin():
        await SqlEvents(session).mark_done(event_id, T0)


async def test_one_event_per_sender_at_a_time_in_id_order(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await add_events(session_factory, ["a", "a", "b", "a", "b"])
    first = await claim_events(session_factory, now=T0)
    assert [e.text for e in first] == ["a-0", "b-2"]
    assert await claim_events(session_factory, now=T0) == [], "the rest waits for its turn"
    await done(session_factory, first[0].id)
    second = await claim_events(session_factory, now=T0)
    assert [e.text for e in second] == ["a-1"], "b is still leased"


async def test_concurrent_claimers_never_share_an_event(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await add_events(session_factory, [f"s{i}" for i in range(40)])
    batches = await asyncio.gather(
        *(claim_events(session_factory, now=T0, limit=8) for _ in range(6))
    )
    claimed = [e.id for batch in batches for e in batch]
    assert len(claimed) == len(set(claimed)) == 40


async def test_an_expired_lease_is_claimed_again(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await add_events(session_factory, ["a"])
    (event,) = await claim_events(session_factory, now=T0, lease=timedelta(seconds=60))
    assert await claim_events(session_factory, now=T0 + timedelta(seconds=59)) == []
    (again,) = await claim_events(session_factory, now=T0 + timedelta(seconds=61))
    assert (again.id, again.attempts) == (event.id, 2)


async def test_failures_back_off_then_give_up(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await add_events(session_factory, ["a"])
    now = T0
    for _ in range(MAX_EVENT_ATTEMPTS):
        (event,) = await claim_events(session_factory, now=now)
        await mark_event_failed(session_factory, event, "boom", now=now)
        now += timedelta(hours=1)
    async with session_factory() as session:
        row = await session.scalar(select(InboundEvent))
    assert row is not None
    assert (row.state, row.attempts, row.error) == ("failed", MAX_EVENT_ATTEMPTS, "boom")
    assert await claim_events(session_factory, now=now) == []


async def test_outbox_keeps_a_conversation_in_order_after_a_failure(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session, session.begin():
        conv = await conversation(session)
        for text in ("first", "second"):
            await queue_bot_reply(session, conv, text)
    first, second = await claim_outbox(session_factory, channels=["webchat"], now=T0)
    assert (first.text, second.text) == ("first", "second")
    await mark_send_failed(session_factory, first.id, "429", retry_at=T0 + timedelta(seconds=40))
    # At +31 s the second item's lease has run out, but the first still waits for its retry.
    blocked = await claim_outbox(
        session_factory, channels=["webchat"], now=T0 + timedelta(seconds=31)
    )
    assert blocked == [], "a later message never overtakes an earlier one"
    later = T0 + timedelta(seconds=41)
    again = await claim_outbox(session_factory, channels=["webchat"], now=later)
    assert [(i.text, i.attempts) for i in again] == [("first", 1), ("second", 0)]
    await mark_sent(session_factory, [(again[0].id, "x1")], now=later)
    assert await claim_outbox(session_factory, channels=["telegram"], now=later) == []
