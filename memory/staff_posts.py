"""The staff side's outbox: posts to the staff Slack channel, stored before they are sent.

A handoff's card, its updates, the customer's turns mirrored into its thread and SLA
reposts are rows here, written in the same transaction as the change they report. A
sender leases them and marks them sent; when Slack is down or rate-limits, they wait
and go out later. Posts of one handoff go out in id order: while an earlier one waits
for a retry, the later ones wait too (the card must exist before its thread does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from memory.ingest import insert_ignoring_duplicates
from memory.models import Handoff, InboundEvent, StaffPost

# card: the context card that opens the thread; update: the card changed (state, owner,
# priority); mirror: a turn copied into the thread (``message_id``); repost: an unclaimed
# handoff past its time to claim; notice: a line in the thread (``payload["text"]``).
STAFF_POST_KINDS = ("card", "update", "mirror", "repost", "notice")
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True, slots=True)
class StaffPostRecord:
    id: int
    handoff_id: int
    kind: str
    message_id: int | None
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class StaffThread:
    """Where a handoff's card lives in Slack: the channel and the card's ``ts``."""

    handoff_id: int
    channel: str
    ts: str


async def queue_staff_post(
    session: AsyncSession,
    *,
    handoff_id: int,
    kind: str,
    now: datetime,
    message_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> int:
    """Queue a post in the caller's transaction; it goes out once that commits."""
    if kind not in STAFF_POST_KINDS:
        raise ValueError(f"unknown staff post kind {kind!r}; expected one of {STAFF_POST_KINDS}")
    row = StaffPost(
        handoff_id=handoff_id,
        kind=kind,
        message_id=message_id,
        payload=dict(payload or {}),
        state="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row.id


async def claim_staff_posts(
    factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    lease: timedelta = timedelta(seconds=30),
    limit: int = 32,
) -> list[StaffPostRecord]:
    """Lease due posts, oldest first; a post whose handoff has an earlier one waiting waits."""
    earlier = aliased(StaffPost)
    waits_for_earlier = (
        select(earlier.id)
        .where(
            earlier.handoff_id == StaffPost.handoff_id,
            earlier.state == "pending",
            earlier.id < StaffPost.id,
            earlier.next_attempt_at > now,
        )
        .exists()
    )
    async with factory() as session, session.begin():
        rows = (
            await session.scalars(
                select(StaffPost)
                .where(
                    and_(
                        StaffPost.state == "pending",
                        StaffPost.next_attempt_at <= now,
                        ~waits_for_earlier,
                    )
                )
                .order_by(StaffPost.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return []
        records = [
            StaffPostRecord(
                id=row.id,
                handoff_id=row.handoff_id,
                kind=row.kind,
                message_id=row.message_id,
                payload=dict(row.payload or {}),
                attempts=row.attempts,
            )
            for row in rows
        ]
        await session.execute(
            update(StaffPost)
            .where(StaffPost.id.in_([r.id for r in records]))
            .values(next_attempt_at=now + lease, locked_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        return records


async def mark_staff_post_sent(
    factory: async_sessionmaker[AsyncSession],
    post_id: int,
    external_id: str | None,
    *,
    now: datetime,
) -> None:
    async with factory() as session, session.begin():
        await session.execute(
            update(StaffPost)
            .where(StaffPost.id == post_id)
            .values(state="sent", sent_at=now, external_id=external_id, error=None)
        )


async def mark_staff_post_failed(
    factory: async_sessionmaker[AsyncSession],
    post_id: int,
    error: str,
    *,
    retry_at: datetime | None,
) -> None:
    """Count a failed attempt. ``retry_at=None``: give up; otherwise try again then."""
    values: dict[str, object] = {
        "error": error[:MAX_ERROR_CHARS],
        "attempts": StaffPost.attempts + 1,
        "locked_until": None,
    }
    if retry_at is None:
        values["state"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    async with factory() as session, session.begin():
        await session.execute(update(StaffPost).where(StaffPost.id == post_id).values(**values))


async def release_staff_post(
    factory: async_sessionmaker[AsyncSession], post_id: int, *, retry_at: datetime
) -> None:
    """Give a leased post back untried (an earlier post of its handoff failed)."""
    async with factory() as session, session.begin():
        await session.execute(
            update(StaffPost)
            .where(StaffPost.id == post_id)
            .values(next_attempt_at=retry_at, locked_until=None)
        )


async def pending_staff_posts(factory: async_sessionmaker[AsyncSession]) -> list[StaffPostRecord]:
    """Posts not yet sent, in order (for tests, `/readyz`-style checks and the CLI)."""
    async with factory() as session:
        rows = (
            await session.scalars(
                select(StaffPost).where(StaffPost.state == "pending").order_by(StaffPost.id)
            )
        ).all()
    return [
        StaffPostRecord(r.id, r.handoff_id, r.kind, r.message_id, dict(r.payload or {}), r.attempts)
        for r in rows
    ]


async def set_staff_thread(
    factory: async_sessionmaker[AsyncSession], handoff_id: int, *, channel: str, ts: str
) -> None:
    """Remember where the card was posted: its ``ts`` is the thread of the handoff."""
    async with factory() as session, session.begin():
        await session.execute(
            update(Handoff)
            .where(Handoff.id == handoff_id)
            .values(staff_channel=channel, staff_thread=ts)
        )


async def staff_thread(
    factory: async_sessionmaker[AsyncSession], handoff_id: int
) -> StaffThread | None:
    async with factory() as session:
        row = (
            await session.execute(
                select(Handoff.staff_channel, Handoff.staff_thread).where(Handoff.id == handoff_id)
            )
        ).one_or_none()
    if row is None or not row[0] or not row[1]:
        return None
    return StaffThread(handoff_id, row[0], row[1])


async def handoff_for_thread(
    factory: async_sessionmaker[AsyncSession], *, channel: str, ts: str
) -> int | None:
    """The handoff whose card opened the Slack thread ``ts`` in ``channel``."""
    async with factory() as session:
        return await session.scalar(
            select(Handoff.id)
            .where(Handoff.staff_channel == channel, Handoff.staff_thread == ts)
            .order_by(Handoff.id.desc())
            .limit(1)
        )


STAFF_EVENTS_CHANNEL = "slack_staff"


async def remember_staff_event(
    factory: async_sessionmaker[AsyncSession], key: str, staff_user: str, now: datetime
) -> bool:
    """Record a staff-side Slack event by its idempotency key; False when already seen.

    Staff events share the inbound event log's unique ``(channel, external_event_id)``
    key, stored as done: the worker never takes them for customer messages, and a Slack
    retry of the same event is recognised and dropped.
    """
    row = {
        "channel": STAFF_EVENTS_CHANNEL,
        "external_event_id": key,
        "external_user_id": staff_user,
        "text": "",
        "payload": {},
        "state": "done",
        "attempts": 0,
        "received_at": now,
        "processed_at": now,
    }
    async with factory() as session, session.begin():
        dialect = session.get_bind().dialect.name
        stored = (await session.execute(insert_ignoring_duplicates(dialect), row)).all()
    return bool(stored)


async def forget_staff_event(factory: async_sessionmaker[AsyncSession], key: str) -> None:
    """Undo :func:`remember_staff_event` when handling failed, so Slack's retry is taken."""
    async with factory() as session, session.begin():
        await session.execute(
            delete(InboundEvent).where(
                InboundEvent.channel == STAFF_EVENTS_CHANNEL,
                InboundEvent.external_event_id == key,
            )
        )
