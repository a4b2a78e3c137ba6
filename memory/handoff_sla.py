"""Time to claim in the store: waiting handoffs past their due time, changed only as read.

``bot.sla`` decides what to do with an overdue handoff; these are its reads and its one
conditional write, so two processes running the watcher never count a period twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.models import Conversation, Handoff

BATCH = 100


@dataclass(frozen=True, slots=True)
class Overdue:
    """A waiting handoff whose time to claim has run out, as read before it is changed."""

    id: int
    conversation_id: int
    customer_id: int
    queue: str
    priority: str
    sla_due_at: datetime
    sla_reposts: int
    created_at: datetime


async def overdue_handoffs(
    factory: async_sessionmaker[AsyncSession], now: datetime, *, limit: int = BATCH
) -> list[Overdue]:
    """Waiting handoffs due at or before ``now``, the longest overdue first."""
    async with factory() as session:
        rows = (
            await session.execute(
                select(Handoff, Conversation.customer_id)
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Handoff.state == "waiting", Handoff.sla_due_at <= now)
                .order_by(Handoff.sla_due_at, Handoff.id)
                .limit(limit)
            )
        ).all()
    overdue: list[Overdue] = []
    for handoff, customer_id in rows:
        assert handoff.sla_due_at is not None
        overdue.append(
            Overdue(
                id=handoff.id,
                conversation_id=handoff.conversation_id,
                customer_id=customer_id,
                queue=handoff.queue,
                priority=handoff.priority,
                sla_due_at=handoff.sla_due_at,
                sla_reposts=handoff.sla_reposts or 0,
                created_at=handoff.created_at,
            )
        )
    return overdue


async def update_if_still_due(
    session: AsyncSession,
    handoff: Overdue,
    *,
    sla_due_at: datetime | None,
    priority: str | None = None,
    count_repost: bool = False,
) -> bool:
    """Change the handoff only if it is as it was read: still waiting, same due time and
    priority. False when another process (or a claim) got there first."""
    values: dict[str, object] = {"sla_due_at": sla_due_at}
    if priority is not None:
        values["priority"] = priority
    if count_repost:
        values["sla_reposts"] = Handoff.sla_reposts + 1
    result = await session.execute(
        update(Handoff)
        .where(
            Handoff.id == handoff.id,
            Handoff.state == "waiting",
            Handoff.sla_due_at == handoff.sla_due_at,
            Handoff.priority == handoff.priority,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1
