"""The staff side's outbox: posts of one handoff in order, retries hold the rest, dedupe."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.models import Conversation, Customer, Handoff
from memory.staff_posts import (
    claim_staff_posts,
    forget_staff_event,
    handoff_for_thread,
    mark_staff_post_failed,
    mark_staff_post_sent,
    pending_staff_posts,
    queue_staff_post,
    release_staff_post,
    remember_staff_event,
    set_staff_thread,
    staff_thread,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def handoffs(factory: async_sessionmaker[AsyncSession], count: int) -> list[int]:
    async with factory() as session, session.begin():
        customer = (
            await session.execute(
                insert(Customer).values(tags=[], created_at=T0).returning(Customer.id)
            )
        ).scalar_one()
        conversation = (
            await session.execute(
                insert(Conversation)
                .values(
                    customer_id=customer,
                    state="waiting_staff",
                    channel="webchat",
                    started_at=T0,
                    last_message_at=T0,
                    consecutive_clarify=0,
                    bot_failures=0,
                )
                .returning(Conversation.id)
            )
        ).scalar_one()
        ids = []
        for _ in range(count):
            ids.append(
                (
                    await session.execute(
                        insert(Handoff)
                        .values(
                            conversation_id=conversation,
                            state="waiting",
                            queue="support",
                            priority="normal",
                            rule_id="r",
                            reason="",
                            created_at=T0,
                            sla_reposts=0,
                        )
                        .returning(Handoff.id)
                    )
                ).scalar_one()
            )
        return ids


async def queue(factory: async_sessionmaker[AsyncSession], handoff_id: int, *kinds: str) -> None:
    async with factory() as session, session.begin():
        for kind in kinds:
            await queue_staff_post(session, handoff_id=handoff_id, kind=kind, now=T0)


async def test_posts_of_one_handoff_wait_for_an_earlier_retry(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    first, second = await handoffs(session_factory, 2)
    await queue(session_factory, first, "card", "mirror")
    await queue(session_factory, second, "card")
    claimed = await claim_staff_posts(session_factory, now=T0)
    assert [(p.handoff_id, p.kind) for p in claimed] == [
        (first, "card"),
        (first, "mirror"),
        (second, "card"),
    ]
    # Slack rate-limits the first card: it is retried later, and its mirror waits for it.
    await mark_staff_post_failed(
        session_factory, claimed[0].id, "ratelimited", retry_at=T0 + timedelta(seconds=30)
    )
    await release_staff_post(session_factory, claimed[1].id, retry_at=T0)
    await mark_staff_post_sent(session_factory, claimed[2].id, "1700.1", now=T0)
    assert await claim_staff_posts(session_factory, now=T0 + timedelta(seconds=1)) == []
    again = await claim_staff_posts(session_factory, now=T0 + timedelta(seconds=31))
    assert [(p.kind, p.attempts) for p in again] == [("card", 1), ("mirror", 0)]
    assert [p.kind for p in await pending_staff_posts(session_factory)] == ["card", "mirror"]


async def test_a_leased_post_is_not_taken_twice_until_its_lease_ends(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    (handoff,) = await handoffs(session_factory, 1)
    await queue(session_factory, handoff, "card")
    assert len(await claim_staff_posts(session_factory, now=T0)) == 1
    assert await claim_staff_posts(session_factory, now=T0 + timedelta(seconds=5)) == []
    retaken = await claim_staff_posts(session_factory, now=T0 + timedelta(seconds=31))
    assert [p.kind for p in retaken] == ["card"], "a sender that died leaves it to the next"


async def test_a_post_given_up_no_longer_holds_the_handoff_back(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    (handoff,) = await handoffs(session_factory, 1)
    await queue(session_factory, handoff, "update", "mirror")
    update, mirror = await claim_staff_posts(session_factory, now=T0)
    await mark_staff_post_failed(session_factory, update.id, "channel_not_found", retry_at=None)
    await release_staff_post(session_factory, mirror.id, retry_at=T0)
    assert [p.kind for p in await claim_staff_posts(session_factory, now=T0)] == ["mirror"]


async def test_unknown_kinds_are_refused(session_factory: async_sessionmaker[AsyncSession]) -> None:
    (handoff,) = await handoffs(session_factory, 1)
    with pytest.raises(ValueError, match="unknown staff post kind 'tweet'"):
        await queue(session_factory, handoff, "tweet")


async def test_the_thread_of_a_handoff_is_found_both_ways(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    first, second = await handoffs(session_factory, 2)
    assert await staff_thread(session_factory, first) is None
    await set_staff_thread(session_factory, first, channel="C1", ts="100.1")
    await set_staff_thread(session_factory, second, channel="C2", ts="100.1")
    thread = await staff_thread(session_factory, first)
    assert thread is not None and (thread.channel, thread.ts) == ("C1", "100.1")
    assert await handoff_for_thread(session_factory, channel="C2", ts="100.1") == second
    assert await handoff_for_thread(session_factory, channel="C1", ts="999.9") is None


async def test_a_staff_event_is_handled_once_even_when_delivered_twice_at_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    results = await asyncio.gather(
        *(remember_staff_event(session_factory, "Ev1", "U1", T0) for _ in range(3))
    )
    assert sorted(results) == [False, False, True]
    assert not await remember_staff_event(session_factory, "Ev1", "U1", T0)
    await forget_staff_event(session_factory, "Ev1")
    assert await remember_staff_event(session_factory, "Ev1", "U1", T0), "retry after a failure"
