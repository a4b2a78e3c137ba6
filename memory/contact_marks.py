"""Contact marks: which of a customer's messages matter to their contacts, written on store.

A *contact* is a visit (docs/policies.md): the customer's own messages with no pause of
``VISIT_GAP`` or more between them, on any channel. The context needs, per contact, when
it began, the last order it named and whether any of its conversations went to a person.
Rather than work that out from every recent message each time a context is built, each
customer message is marked as it is stored, against the customer's message before it:

- ``STARTS``: the first after ``VISIT_GAP`` of silence, or the customer's first;
- ``NOTES``: within a visit, but in another conversation than the message before it, or
  naming an order;
- NULL: neither. The context never reads it.

The context then reads only marked rows, newest first, through a partial index (migration
0006). Merging or splitting customers moves messages between histories; ``remark`` works
the marks of those customers out again.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Update,
    bindparam,
    case,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from memory.models import MESSAGES

VISIT_GAP = timedelta(hours=2)
STARTS = 1
NOTES = 2
SECONDS_PER_DAY = 86_400.0
# A millisecond of slack: SQLite's julianday() arithmetic is floating point.
_GAP_S = VISIT_GAP.total_seconds() - 0.001


def seconds_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    """``later - earlier`` in seconds, in SQL (SQLite keeps times as text)."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * SECONDS_PER_DAY
    return type_coerce(func.extract("epoch", later - earlier), Float())


async def mark_new(session: AsyncSession, message_ids: Collection[int]) -> None:
    """Mark newly stored messages (those not the customer's are left alone)."""
    if message_ids:
        dialect = session.get_bind().dialect.name
        await session.execute(_mark_new(dialect), {"ids": list(message_ids)})


async def remark(session: AsyncSession, customer_ids: Collection[int]) -> None:
    """Work out the marks of these customers' messages again, from their whole history."""
    if customer_ids:
        dialect = session.get_bind().dialect.name
        await session.execute(_remark(dialect), {"customers": list(customer_ids)})


def _mark(
    at: Any, conversation: Any, order_ref: Any, prev_at: Any, prev_conversation: Any, dialect: str
) -> ColumnElement[Any]:
    """A message's mark from its customer's message before it (``prev_at`` NULL: none)."""
    return case(
        (or_(prev_at.is_(None), seconds_between(at, prev_at, dialect) >= _GAP_S), STARTS),
        (or_(prev_conversation != conversation, order_ref.is_not(None)), NOTES),
    )


@functools.cache
def _mark_new(dialect: str) -> Update:
    """One ``UPDATE``: each message against the customer's message before it (an index
    seek for each of its two columns)."""
    m, prev = MESSAGES.c, MESSAGES.alias("prev").c

    def before(column: Any) -> Any:
        return (
            select(column)
            .where(
                prev.customer_id == m.customer_id,
                prev.author == "customer",
                prev.created_at <= m.created_at,
                or_(prev.created_at < m.created_at, prev.id < m.id),
            )
            .order_by(prev.created_at.desc(), prev.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    mark = _mark(
        m.created_at,
        m.conversation_id,
        m.order_ref,
        before(prev.created_at),
        before(prev.conversation_id),
        dialect,
    )
    return (
        update(MESSAGES)
        .where(m.id.in_(bindparam("ids", expanding=True)), m.author == "customer")
        .values(contact_mark=mark)
    )


@functools.cache
def _remark(dialect: str) -> Update:
    """One ``UPDATE`` for all the customers' messages, each against the one before it in
    its customer's history (a window over it: a merge or an unmerge is rare)."""
    m = MESSAGES.c
    order = (m.created_at, m.id)
    ordered = select(
        m.id,
        m.created_at,
        m.conversation_id,
        m.order_ref,
        func.lag(m.created_at).over(partition_by=m.customer_id, order_by=order).label("prev_at"),
        func.lag(m.conversation_id)
        .over(partition_by=m.customer_id, order_by=order)
        .label("prev_conversation"),
    ).where(m.customer_id.in_(bindparam("customers", expanding=True)), m.author == "customer")
    k = ordered.subquery().c
    mark = _mark(
        k.created_at, k.conversation_id, k.order_ref, k.prev_at, k.prev_conversation, dialect
    )
    marks = select(k.id, mark.label("mark")).subquery()
    return update(MESSAGES).where(m.id == marks.c.id).values(contact_mark=marks.c.mark)
