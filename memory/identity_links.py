"""Who a customer is across channels: the identity audit, merges and unmerges.

Every change of which customer an identity (or a story) belongs to is written
to ``identity_events``: who did it (``customer`` or ``admin:<name>``), how
(``shop_login``, ``email``, ``order_email``, ``link_code``, ``admin``), when,
which identity, from which customer to which. A merge records every row it
moved in ``merge_moves``, so :func:`unmerge_customers` puts back exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncSession

from memory.contact_marks import remark
from memory.models import (
    ChannelIdentity,
    Conversation,
    Customer,
    CustomerMerge,
    IdentityEvent,
    MergeMove,
    Message,
    Order,
)

CUSTOMER_ACTOR = "customer"
MAX_MERGE_CHAIN = 8
# kind in merge_moves → the table whose ``customer_id`` the merge changed
_MOVED_INT_ROWS: tuple[tuple[str, Any], ...] = (
    ("identity", ChannelIdentity),
    ("conversation", Conversation),
    ("message", Message),
)


class MergeRefused(Exception):
    """A merge or unmerge that must not happen; the message says why."""


@dataclass(frozen=True, slots=True)
class MergeReport:
    merge_id: int
    kept_id: int
    merged_id: int
    moved: dict[str, int]  # kind → rows moved


def admin_actor(name: str) -> str:
    return f"admin:{name}"


async def record_identity_event(
    session: AsyncSession,
    *,
    action: str,
    actor: str,
    method: str,
    identity_id: int | None = None,
    from_customer_id: int | None = None,
    to_customer_id: int | None = None,
    merge_id: int | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    session.add(
        IdentityEvent(
            action=action,
            actor=actor,
            method=method,
            identity_id=identity_id,
            from_customer_id=from_customer_id,
            to_customer_id=to_customer_id,
            merge_id=merge_id,
            detail=detail or {},
            created_at=now or datetime.now(UTC),
        )
    )
    await session.flush()


async def current_customer(session: AsyncSession, customer_id: int) -> int:
    """Follow ``merged_into_id`` to the customer that speaks for ``customer_id`` now."""
    for _ in range(MAX_MERGE_CHAIN):
        merged_into = await session.scalar(
            select(Customer.merged_into_id).where(Customer.id == customer_id)
        )
        if merged_into is None:
            return customer_id
        customer_id = merged_into
    return customer_id


async def is_anonymous(
    session: AsyncSession, customer_id: int, *, besides_identity: int | None = None
) -> bool:
    """No email, no shop id and no identity other than ``besides_identity``."""
    row = await session.get(Customer, customer_id)
    if row is None or row.email or row.external_ref:
        return False
    others = select(func.count()).where(ChannelIdentity.customer_id == customer_id)
    if besides_identity is not None:
        others = others.where(ChannelIdentity.id != besides_identity)
    return not await session.scalar(others)


async def has_story(session: AsyncSession, customer_id: int) -> bool:
    """Whether the customer has any conversation, message or order to move."""
    for model in (Conversation, Message, Order):
        found = await session.scalar(
            select(model.customer_id).where(model.customer_id == customer_id).limit(1)
        )
        if found is not None:
            return True
    return False


async def merge_customers(
    session: AsyncSession,
    keep_id: int,
    other_id: int,
    *,
    actor: str,
    method: str,
    now: datetime | None = None,
    into_conversation: int | None = None,
) -> MergeReport:
    """Move ``other_id``'s identities, conversations, messages and orders into ``keep_id``.

    ``other_id`` is then marked merged into ``keep_id``. Refused when the two
    are the same, either is missing, or either is already merged. With
    ``into_conversation``, ``other_id``'s messages join that conversation of
    ``keep_id`` (the story goes on in one thread) and its emptied conversations
    stay behind; an unmerge puts each message back where it was.
    """
    now = now or datetime.now(UTC)
    if keep_id == other_id:
        raise MergeRefused(f"customer {keep_id} cannot be merged into itself")
    keep = await session.get(Customer, keep_id, with_for_update=True)
    other = await session.get(Customer, other_id, with_for_update=True)
    for cid, row in ((keep_id, keep), (other_id, other)):
        if row is None:
            raise MergeRefused(f"customer {cid} does not exist")
        if row.merged_into_id is not None:
            raise MergeRefused(
                f"customer {cid} is already merged into customer {row.merged_into_id}"
            )
    merge = CustomerMerge(
        kept_id=keep_id, merged_id=other_id, actor=actor, method=method, created_at=now
    )
    session.add(merge)
    await session.flush()
    moved_identities = (
        await session.scalars(
            select(ChannelIdentity.id).where(ChannelIdentity.customer_id == other_id)
        )
    ).all()
    moved: dict[str, int] = {}
    kinds = _MOVED_INT_ROWS
    if into_conversation is not None:
        kinds = _MOVED_INT_ROWS[:1]
        moved["conversation"] = 0
        moved["message"] = await _fold_messages(
            session, merge.id, other_id, keep_id, into_conversation
        )
    for kind, model in kinds:
        result = await session.execute(
            insert(MergeMove).from_select(
                ["merge_id", "kind", "row_id"],
                select(literal(merge.id), literal(kind), model.id).where(
                    model.customer_id == other_id
                ),
            )
        )
        await session.execute(
            update(model).where(model.customer_id == other_id).values(customer_id=keep_id)
        )
        moved[kind] = _rowcount(result)
    result = await session.execute(
        insert(MergeMove).from_select(
            ["merge_id", "kind", "order_id"],
            select(literal(merge.id), literal("order"), Order.id).where(
                Order.customer_id == other_id
            ),
        )
    )
    await session.execute(
        update(Order).where(Order.customer_id == other_id).values(customer_id=keep_id)
    )
    moved["order"] = _rowcount(result)
    assert other is not None
    other.merged_into_id = keep_id
    await session.flush()
    await remark(session, [keep_id])  # two histories now interleave
    await record_identity_event(
        session,
        action="merge",
        actor=actor,
        method=method,
        from_customer_id=other_id,
        to_customer_id=keep_id,
        merge_id=merge.id,
        detail={"moved": moved},
        now=now,
    )
    for identity_id in moved_identities:
        await record_identity_event(
            session,
            action="link",
            actor=actor,
            method=method,
            identity_id=identity_id,
            from_customer_id=other_id,
            to_customer_id=keep_id,
            merge_id=merge.id,
            now=now,
        )
    return MergeReport(merge.id, keep_id, other_id, moved)


async def unmerge_customers(
    session: AsyncSession, merge_id: int, *, actor: str, now: datetime | None = None
) -> MergeReport:
    """Give back to the merged customer exactly the rows the merge moved."""
    now = now or datetime.now(UTC)
    merge = await session.get(CustomerMerge, merge_id, with_for_update=True)
    if merge is None:
        raise MergeRefused(f"merge {merge_id} does not exist")
    if merge.undone_at is not None:
        raise MergeRefused(f"merge {merge_id} was already undone by {merge.undone_by}")
    kept = await session.get(Customer, merge.kept_id)
    assert kept is not None
    if kept.merged_into_id is not None:
        raise MergeRefused(
            f"customer {merge.kept_id} has since been merged into customer "
            f"{kept.merged_into_id}; undo that merge first"
        )
    identities_back = (
        await session.scalars(
            select(ChannelIdentity.id).where(
                ChannelIdentity.id.in_(_moved_ids(merge_id, "identity")),
                ChannelIdentity.customer_id == merge.kept_id,
            )
        )
    ).all()
    back: dict[str, int] = {}
    for kind, model in _MOVED_INT_ROWS:
        # Only rows still with the kept customer: anything relinked since stays where it is.
        result = await session.execute(
            update(model)
            .where(model.id.in_(_moved_ids(merge_id, kind)), model.customer_id == merge.kept_id)
            .values(**_restore_values(merge_id, kind, model, merge.merged_id))
        )
        back[kind] = _rowcount(result)
    orders = select(MergeMove.order_id).where(
        MergeMove.merge_id == merge_id, MergeMove.kind == "order"
    )
    result = await session.execute(
        update(Order)
        .where(Order.id.in_(orders), Order.customer_id == merge.kept_id)
        .values(customer_id=merge.merged_id)
    )
    back["order"] = _rowcount(result)
    await session.execute(
        update(Customer).where(Customer.id == merge.merged_id).values(merged_into_id=None)
    )
    merge.undone_at = now
    merge.undone_by = actor
    await session.flush()
    await remark(session, [merge.kept_id, merge.merged_id])
    await record_identity_event(
        session,
        action="unmerge",
        actor=actor,
        method="admin",
        from_customer_id=merge.kept_id,
        to_customer_id=merge.merged_id,
        merge_id=merge_id,
        detail={"moved": back},
        now=now,
    )
    for identity_id in identities_back:
        await record_identity_event(
            session,
            action="unlink",
            actor=actor,
            method="admin",
            identity_id=identity_id,
            from_customer_id=merge.kept_id,
            to_customer_id=merge.merged_id,
            merge_id=merge_id,
            now=now,
        )
    return MergeReport(merge_id, merge.kept_id, merge.merged_id, back)


async def _fold_messages(
    session: AsyncSession, merge_id: int, other_id: int, keep_id: int, conversation_id: int
) -> int:
    result = await session.execute(
        insert(MergeMove).from_select(
            ["merge_id", "kind", "row_id", "conversation_id"],
            select(
                literal(merge_id), literal("message"), Message.id, Message.conversation_id
            ).where(Message.customer_id == other_id),
        )
    )
    await session.execute(
        update(Message)
        .where(Message.customer_id == other_id)
        .values(customer_id=keep_id, conversation_id=conversation_id)
    )
    return _rowcount(result)


def _restore_values(merge_id: int, kind: str, model: Any, customer_id: int) -> dict[str, Any]:
    values: dict[str, Any] = {"customer_id": customer_id}
    if kind == "message":
        came_from = (
            select(MergeMove.conversation_id)
            .where(
                MergeMove.merge_id == merge_id,
                MergeMove.kind == "message",
                MergeMove.row_id == model.id,
            )
            .scalar_subquery()
        )
        values["conversation_id"] = func.coalesce(came_from, model.conversation_id)
    return values


def _moved_ids(merge_id: int, kind: str) -> Any:
    return select(MergeMove.row_id).where(MergeMove.merge_id == merge_id, MergeMove.kind == kind)


def _rowcount(result: Result[Any]) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount
