"""The time-to-claim watcher on real escalations (SQLite and PostgreSQL).

A handoff nobody claims within its queue's ``claim_within`` gets a higher priority, a note
staff see in the conversation and, with staff Slack on, a repost; once per period, never for
a claimed or closed handoff, never twice when two processes run the watcher, and not while
the team is away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.bootstrap import Runtime, build_runtime
from bot.handoff import HandoffDeps, claim, resolve
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from memory.handoffs import open_handoff_cards
from memory.models import Handoff, Message
from memory.staff_posts import pending_staff_posts
from tests.bot.harness import Clock, Harness

ASK_FOR_PERSON = "I want to talk to a human agent please"
FRIDAY_TEN = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # shipped policy: UTC, mon-fri 9-18
STAFF_SLACK = {
    "SLACK_STAFF_CHANNEL": "C0STAFF",
    "SLACK_BOT_TOKEN": "xoxb-test-token",
    "SLACK_SIGNING_SECRET": "test-signing-secret",
}

MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness(
    demo_database_url: str, understander: OfflineUnderstander
) -> AsyncIterator[MakeHarness]:
    """Runtimes on one demo database: each one stands for a process of its own."""
    started: list[Harness] = []

    async def make(*, staff_slack: bool = False, now: datetime = FRIDAY_TEN) -> Harness:
        settings = Settings(DATABASE_URL=demo_database_url, **(STAFF_SLACK if staff_slack else {}))
        harness = await Harness.open(settings, understander, now)
        started.append(harness)
        return harness

    yield make
    for harness in started:
        await harness.close()


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


async def escalate(h: Harness, user: str) -> int:
    reply = await h.say(user, ASK_FOR_PERSON)
    assert reply.metadata["action"] == "escalate"
    async with h.runtime.session_factory() as session:
        handoff_id = await session.scalar(select(Handoff.id).order_by(Handoff.id.desc()).limit(1))
    assert handoff_id is not None
    return handoff_id


async def handoff(h: Harness, handoff_id: int) -> Handoff:
    async with h.runtime.session_factory() as session:
        row = await session.get(Handoff, handoff_id)
        assert row is not None
        return row


async def sla_notes(h: Harness) -> list[Message]:
    async with h.runtime.session_factory() as session:
        rows = await session.scalars(
            select(Message).where(Message.author == "system").order_by(Message.id)
        )
        return [m for m in rows if (m.meta or {}).get("sla")]


async def sweep(h: Harness, at: datetime) -> int:
    h.clock.now = at
    assert h.runtime.sla is not None
    return await h.runtime.sla.run_once()


def deps(h: Harness) -> HandoffDeps:
    return HandoffDeps(h.runtime.session_factory, h.clock, h.runtime.outbox.wake)


async def test_an_unclaimed_handoff_past_its_time_gets_a_higher_priority_and_a_note(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness()
    handoff_id = await escalate(h, "anna")
    sent = len(h.channel.sent)

    assert await sweep(h, FRIDAY_TEN + minutes(14)) == 0
    assert (await handoff(h, handoff_id)).priority == "normal"
    assert await sweep(h, FRIDAY_TEN + minutes(16)) == 1

    row = await handoff(h, handoff_id)
    assert (row.priority, row.sla_reposts) == ("high", 1)
    assert row.sla_due_at == FRIDAY_TEN + minutes(31)  # the next period counts from now
    (note,) = await sla_notes(h)
    assert note.text == "Not claimed within 15 minutes: priority raised to high"
    assert (note.internal, note.channel, note.conversation_id) == (
        True,
        "staff",
        row.conversation_id,
    )
    assert note.meta == {"handoff_id": handoff_id, "sla": True}
    (card,) = await open_handoff_cards(h.runtime.read_factory)
    assert (card["priority"], card["sla_reposts"]) == ("high", 1)
    assert card["turns"][-1]["text"] == note.text
    assert await pending_staff_posts(h.runtime.session_factory) == []  # staff Slack is off
    await h.process()
    assert len(h.channel.sent) == sent  # the customer is not told anything


async def test_each_further_period_raises_it_again_until_urgent(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness()
    handoff_id = await escalate(h, "ben")

    await sweep(h, FRIDAY_TEN + minutes(16))
    assert await sweep(h, FRIDAY_TEN + minutes(30)) == 0  # the second period is not over
    assert await sweep(h, FRIDAY_TEN + minutes(32)) == 1
    second = await handoff(h, handoff_id)
    assert await sweep(h, FRIDAY_TEN + minutes(48)) == 1
    assert await sweep(h, FRIDAY_TEN + minutes(48)) == 0  # once per period

    third = await handoff(h, handoff_id)
    assert (second.priority, second.sla_reposts) == ("urgent", 2)
    assert (third.priority, third.sla_reposts) == ("urgent", 3)
    assert third.sla_due_at == FRIDAY_TEN + minutes(63)
    assert [n.text for n in await sla_notes(h)] == [
        "Not claimed within 15 minutes: priority raised to high",
        "Still not claimed after 32 minutes: priority raised to urgent",
        "Still not claimed after 48 minutes: priority stays urgent",
    ]


async def test_with_staff_slack_on_each_period_queues_a_repost(make_harness: MakeHarness) -> None:
    h = await make_harness(staff_slack=True)
    handoff_id = await escalate(h, "carla")

    await sweep(h, FRIDAY_TEN + minutes(16))
    await sweep(h, FRIDAY_TEN + minutes(32))

    posts = await pending_staff_posts(h.runtime.session_factory)
    reposts = [(p.handoff_id, p.payload) for p in posts if p.kind == "repost"]
    assert reposts == [
        (handoff_id, {"waited_s": 16 * 60, "priority": "high"}),
        (handoff_id, {"waited_s": 32 * 60, "priority": "urgent"}),
    ]
    assert posts[0].kind == "card"  # the card was queued at the escalation


async def test_a_claimed_or_resolved_handoff_is_never_reposted(make_harness: MakeHarness) -> None:
    h = await make_harness(staff_slack=True)
    claimed_id = await escalate(h, "dora")
    resolved_id = await escalate(h, "emil")
    h.clock.now = FRIDAY_TEN + minutes(5)
    await claim(deps(h), claimed_id, "alice")
    await resolve(deps(h), resolved_id, "bob")

    assert await sweep(h, FRIDAY_TEN + minutes(60)) == 0

    for handoff_id in (claimed_id, resolved_id):
        row = await handoff(h, handoff_id)
        assert (row.priority, row.sla_reposts) == ("normal", 0)
    assert await sla_notes(h) == []
    posts = await pending_staff_posts(h.runtime.session_factory)
    assert "repost" not in {p.kind for p in posts}


async def test_two_processes_sweeping_at_once_count_each_period_once(
    make_harness: MakeHarness,
) -> None:
    web = await make_harness(staff_slack=True)
    worker = await make_harness(staff_slack=True)
    handoff_ids = [await escalate(web, user) for user in ("fritz", "greta", "hanna")]

    for period in (16, 32):
        web.clock.now = worker.clock.now = FRIDAY_TEN + minutes(period)
        assert web.runtime.sla is not None and worker.runtime.sla is not None
        counts = await asyncio.gather(web.runtime.sla.run_once(), worker.runtime.sla.run_once())
        assert sum(counts) == len(handoff_ids)

    for handoff_id in handoff_ids:
        row = await handoff(web, handoff_id)
        assert (row.priority, row.sla_reposts) == ("urgent", 2)
    assert len(await sla_notes(web)) == 2 * len(handoff_ids)
    posts = await pending_staff_posts(web.runtime.session_factory)
    assert sorted(p.handoff_id for p in posts if p.kind == "repost") == sorted(handoff_ids * 2)


async def test_a_due_time_after_closing_waits_for_the_next_opening(
    make_harness: MakeHarness,
) -> None:
    friday_late = datetime(2026, 11, 20, 17, 50, tzinfo=UTC)  # due 18:05, after closing
    h = await make_harness(staff_slack=True, now=friday_late)
    handoff_id = await escalate(h, "ida")
    assert (await handoff(h, handoff_id)).sla_due_at == friday_late + minutes(15)

    assert await sweep(h, datetime(2026, 11, 20, 18, 6, tzinfo=UTC)) == 1
    moved = await handoff(h, handoff_id)
    saturday_ten = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # Saturday opens at 10:00
    assert (moved.priority, moved.sla_reposts) == ("normal", 0)
    assert moved.sla_due_at == saturday_ten + minutes(15)
    assert await sla_notes(h) == []
    assert await sweep(h, saturday_ten + minutes(14)) == 0

    assert await sweep(h, saturday_ten + minutes(16)) == 1
    raised = await handoff(h, handoff_id)
    assert (raised.priority, raised.sla_reposts) == ("high", 1)
    posts = await pending_staff_posts(h.runtime.session_factory)
    assert [p.payload["priority"] for p in posts if p.kind == "repost"] == ["high"]


async def test_the_running_runtime_sweeps_by_itself(
    demo_database_url: str, make_harness: MakeHarness
) -> None:
    h = await make_harness()
    handoff_id = await escalate(h, "jan")
    later = Clock(FRIDAY_TEN + minutes(16))
    process: Runtime = build_runtime(
        Settings(DATABASE_URL=demo_database_url), clock=later, embedded_worker=False
    )
    await process.start()
    try:
        row: Any = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = await handoff(h, handoff_id)
            if row.sla_reposts:
                break
            await asyncio.sleep(0.05)
    finally:
        await process.stop()
    assert (row.priority, row.sla_reposts) == ("high", 1)
