"""Work queues in the store: stored inbound events and the outbox.

Workers lease rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (several
workers share the table); SQLite has a single writer, where the clause is
dropped and ``BEGIN IMMEDIATE`` serializes the claim. Events of one sender are
claimed in id order, never two at once, so one conversation is processed in
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.bounded import AnySelect
from memory.models import (
    EVENTS,
    MESSAGES,
    OUTBOX,
    ChannelIdentity,
    InboundEvent,
    OutboxItem,
    UtcDateTime,
)
from memory.records import EventRecord, OutboxRecord

MAX_EVENT_ATTEMPTS = 5


def _claimable_events() -> AnySelect:
    """Pending, leasable events whose sender has no earlier pending one, oldest first."""
    events, earlier = EVENTS.c, EVENTS.alias("earlier").c
    blocked = (
        select(earlier.id)
        .where(
            earlier.channel == events.channel,
            earlier.external_user_id == events.external_user_id,
            earlier.state == "pending",
            earlier.id < events.id,
        )
        .exists()
    )
    leasable = or_(events.locked_until.is_(None), events.locked_until < bindparam("now"))
    return (
        select(
            events.id,
            events.channel,
            events.external_event_id,
            events.external_user_id,
            events.text,
            events.payload,
            events.received_at,
            events.attempts,
        )
        .where(events.state == "pending", leasable, ~blocked)
        .order_by(events.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )


# Built once: the worker claims many times a second.
_CLAIM_EVENTS = _claimable_events()
_LEASE_EVENTS = (
    update(EVENTS)
    .where(EVENTS.c.id.in_(bindparam("ids", expanding=True)))
    .values(locked_until=bindparam("until"), attempts=EVENTS.c.attempts + 1)
)


async def claim_events(
    factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    lease: timedelta = timedelta(seconds=60),
    limit: int = 32,
) -> list[EventRecord]:
    """Lease up to ``limit`` pending events whose sender has no earlier pending one."""
    async with factory() as session, session.begin():
        rows = (await session.execute(_CLAIM_EVENTS, {"now": now, "limit": limit})).all()
        if not rows:
            return []
        claimed = [
            EventRecord(
                id=r.id,
                channel=r.channel,
                external_event_id=r.external_event_id,
                external_user_id=r.external_user_id,
                text=r.text,
                payload=dict(r.payload or {}),
                received_at=r.received_at,
                attempts=r.attempts + 1,
            )
            for r in rows
        ]
        ids = [r.id for r in claimed]
        await session.execute(_LEASE_EVENTS, {"ids": ids, "until": now + lease})
        return claimed


async def mark_event_failed(
    factory: async_sessionmaker[AsyncSession],
    event: EventRecord,
    error: str,
    *,
    now: datetime,
) -> None:
    """Record a processing error: retried with backoff, then given up on."""
    final = event.attempts >= MAX_EVENT_ATTEMPTS
    async with factory() as session, session.begin():
        await session.execute(
            update(InboundEvent)
            .where(InboundEvent.id == event.id)
            .values(
                state="failed" if final else "pending",
                error=error[:2000],
                locked_until=now + timedelta(seconds=2**event.attempts),
            )
        )


async def pending_event_count(factory: async_sessionmaker[AsyncSession]) -> int:
    from sqlalchemy import func

    async with factory() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(InboundEvent)
                .where(InboundEvent.state == "pending")
            )
            or 0
        )


def _claimable_outbox() -> AnySelect:
    """Due items of the given channels, oldest first, none that waits for an earlier one."""
    items, earlier, messages = OUTBOX.c, OUTBOX.alias("earlier").c, MESSAGES.c
    now = bindparam("now", type_=UtcDateTime())
    waits_for_earlier = (
        select(earlier.id)
        .where(
            earlier.conversation_id == items.conversation_id,
            earlier.channel == items.channel,
            earlier.state == "pending",
            earlier.id < items.id,
            earlier.next_attempt_at > now,
        )
        .exists()
    )
    return (
        select(
            items.id,
            items.message_id,
            items.conversation_id,
            items.channel,
            items.external_user_id,
            items.attempts,
            messages.text,
            messages.author,
            messages.meta,
        )
        .join_from(OUTBOX, MESSAGES, messages.id == items.message_id)
        .where(
            and_(
                items.state == "pending",
                items.channel.in_(bindparam("channels", expanding=True)),
                items.next_attempt_at <= now,
                ~waits_for_earlier,
            )
        )
        .order_by(items.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True, of=OUTBOX)
    )


_CLAIM_OUTBOX = _claimable_outbox()
_LEASE_OUTBOX = (
    update(OUTBOX)
    .where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(next_attempt_at=bindparam("until"))
)


async def claim_outbox(
    factory: async_sessionmaker[AsyncSession],
    *,
    channels: Sequence[str],
    now: datetime,
    lease: timedelta = timedelta(seconds=30),
    limit: int = 32,
) -> list[OutboxRecord]:
    """Lease pending outbox items of ``channels`` that are due, oldest first.

    An item whose conversation has an earlier item still waiting (a retry later,
    or leased by another sender) waits too: one conversation's messages go out
    in order.
    """
    if not channels:
        return []
    params = {"channels": list(channels), "now": now, "limit": limit}
    async with factory() as session, session.begin():
        rows = (await session.execute(_CLAIM_OUTBOX, params)).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        await session.execute(_LEASE_OUTBOX, {"ids": ids, "until": now + lease})
        return [
            OutboxRecord(
                id=row.id,
                message_id=row.message_id,
                conversation_id=row.conversation_id,
                channel=row.channel,
                external_user_id=row.external_user_id,
                text=row.text,
                author=row.author,
                attempts=row.attempts,
                meta=dict(row.meta or {}),
            )
            for row in rows
        ]


_MARK_SENT = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("item_id"))
    .values(state="sent", sent_at=bindparam("at"), external_message_id=bindparam("ext"), error=None)
)


async def mark_sent(
    factory: async_sessionmaker[AsyncSession],
    sent: Sequence[tuple[int, str | None]],
    *,
    now: datetime,
) -> None:
    """Mark delivered items sent, with the platform's id of each: ``(item id, external id)``."""
    if not sent:
        return
    async with factory() as session, session.begin():
        await session.execute(
            _MARK_SENT, [{"item_id": item_id, "ext": ext, "at": now} for item_id, ext in sent]
        )


async def mark_send_failed(
    factory: async_sessionmaker[AsyncSession],
    item_id: int,
    error: str,
    *,
    retry_at: datetime | None,
) -> None:
    """Count a failed attempt. ``retry_at=None``: give up; otherwise try again then."""
    values: dict[str, object] = {"error": error[:2000], "attempts": OutboxItem.attempts + 1}
    if retry_at is None:
        values["state"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    async with factory() as session, session.begin():
        await session.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(**values))


async def release_outbox(
    factory: async_sessionmaker[AsyncSession], item_id: int, *, retry_at: datetime
) -> None:
    """Give a claimed item back untried (an earlier message of its conversation failed)."""
    async with factory() as session, session.begin():
        await session.execute(
            update(OutboxItem).where(OutboxItem.id == item_id).values(next_attempt_at=retry_at)
        )


async def mark_unreachable(
    factory: async_sessionmaker[AsyncSession], channel: str, external_user_id: str
) -> None:
    """The platform refuses delivery to this identity for good (until they write again)."""
    async with factory() as session, session.begin():
        await session.execute(
            update(ChannelIdentity)
            .where(
                ChannelIdentity.channel == channel,
                ChannelIdentity.external_user_id == external_user_id,
            )
            .values(unreachable=True)
        )
