"""Handoffs in the store: ownership changes, staff turns and the cards staff see.

Every write takes an open session (the caller's transaction); the card and
outcome queries open their own read session. Claiming is one conditional
``UPDATE … WHERE state = 'waiting'``: whichever transaction updates the row
first wins, on SQLite and PostgreSQL alike, and the other sees no row changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Integer, Row, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.bounded import AnySelect, PerKey
from memory.models import (
    ChannelIdentity,
    Conversation,
    Customer,
    Handoff,
    InboundEvent,
    Message,
)
from memory.orders import latest_orders
from memory.sql_repositories import SqlMessages, SqlOutbox
from memory.views import OrderView

OPEN_STATES = ("waiting", "claimed")
RATING_REQUEST_KIND = "rating_request"
RATING_THANKS_KIND = "rating_thanks"
CARD_TURNS = 12
CARD_ORDERS = 3
MAX_CARDS = 100


@dataclass(frozen=True, slots=True)
class HandoffRow:
    id: int
    conversation_id: int
    customer_id: int
    state: str
    claimed_by: str | None
    conversation_state: str


@dataclass(frozen=True, slots=True)
class Reachable:
    """Where the customer is now: the channel and user of their latest message."""

    channel: str
    external_user_id: str


async def get_handoff(session: AsyncSession, handoff_id: int) -> HandoffRow | None:
    row = (
        await session.execute(
            select(Handoff, Conversation.customer_id, Conversation.state)
            .join(Conversation, Conversation.id == Handoff.conversation_id)
            .where(Handoff.id == handoff_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        return None
    handoff, customer_id, conversation_state = row
    return HandoffRow(
        id=handoff.id,
        conversation_id=handoff.conversation_id,
        customer_id=customer_id,
        state=handoff.state,
        claimed_by=handoff.claimed_by,
        conversation_state=conversation_state,
    )


async def try_claim(session: AsyncSession, handoff_id: int, staff: str, now: datetime) -> bool:
    """Take a waiting handoff for ``staff``; False when someone else changed it first."""
    result = await session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.state == "waiting")
        .values(state="claimed", claimed_by=staff, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def reassign(
    session: AsyncSession,
    handoff_id: int,
    state: str,
    claimed_by: str | None,
    to_staff: str,
    now: datetime,
) -> bool:
    """Give the handoff to ``to_staff`` if nobody changed it since it was read."""
    owner = Handoff.claimed_by.is_(None) if claimed_by is None else Handoff.claimed_by == claimed_by
    values: dict[str, Any] = {"state": "claimed", "claimed_by": to_staff}
    if state == "waiting":
        values["claimed_at"] = now
    result = await session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.state == state, owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def close_handoff(
    session: AsyncSession, handoff_id: int, state: str, staff: str, now: datetime
) -> bool:
    """Close an open handoff as ``resolved`` or ``returned``; False if already closed."""
    result = await session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.state.in_(OPEN_STATES))
        .values(state=state, closed_at=now, claimed_by=func.coalesce(Handoff.claimed_by, staff))
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def set_conversation_state(
    session: AsyncSession, conversation_id: int, state: str, now: datetime
) -> None:
    values: dict[str, Any] = {"state": state, "last_message_at": now}
    if state == "resolved":
        values["closed_at"] = now
    elif state == "bot":
        values.update(closed_at=None, consecutive_clarify=0, bot_failures=0)
    await session.execute(
        update(Conversation).where(Conversation.id == conversation_id).values(**values)
    )


async def current_reach(session: AsyncSession, customer_id: int) -> Reachable | None:
    """The channel identity of the customer's most recent inbound message."""
    return (await current_reaches(session, [customer_id])).get(customer_id)


async def current_reaches(
    session: AsyncSession, customer_ids: Sequence[int]
) -> dict[int, Reachable]:
    """:func:`current_reach` of each customer (two statements at most, whatever their number):
    the identity their latest message came from, else the identity they were last seen on."""
    if not customer_ids:
        return {}
    keys = [(cid,) for cid in dict.fromkeys(customer_ids)]
    found: dict[int, Reachable] = {}
    for per_key in (_LATEST_INBOUND, _LAST_SEEN_IDENTITY):
        for customer_id, channel, user in await per_key.rows(session, keys):
            found[int(customer_id)] = Reachable(channel, user)
        keys = [key for key in keys if key[0] not in found]
        if not keys:
            break
    return found


def _latest_inbound(customer_id: Any) -> AnySelect:
    return (
        select(Message.customer_id, InboundEvent.channel, InboundEvent.external_user_id)
        .join(Message, Message.inbound_event_id == InboundEvent.id)
        .where(Message.customer_id == customer_id, Message.author == "customer")
        .order_by(Message.id.desc())
        .limit(1)
    )


def _last_seen_identity(customer_id: Any) -> AnySelect:
    return (
        select(
            ChannelIdentity.customer_id, ChannelIdentity.channel, ChannelIdentity.external_user_id
        )
        .where(ChannelIdentity.customer_id == customer_id)
        .order_by(ChannelIdentity.last_seen_at.desc(), ChannelIdentity.id.desc())
        .limit(1)
    )


def _card_turns(conversation_id: Any) -> AnySelect:
    m = Message
    return (
        select(
            m.conversation_id, m.id, m.author, m.channel, m.text, m.internal, m.meta, m.created_at
        )
        .where(m.conversation_id == conversation_id)
        .order_by(m.id.desc())
        .limit(CARD_TURNS)
    )


_LATEST_INBOUND = PerKey(_latest_inbound, [Integer()])
_LAST_SEEN_IDENTITY = PerKey(_last_seen_identity, [Integer()])
_CARD_TURNS = PerKey(_card_turns, [Integer()])


async def add_turn(
    session: AsyncSession,
    *,
    conversation_id: int,
    customer_id: int,
    author: str,
    channel: str,
    text: str,
    now: datetime,
    internal: bool = False,
    meta: dict[str, Any] | None = None,
) -> int:
    return await SqlMessages(session).add(
        conversation_id=conversation_id,
        customer_id=customer_id,
        author=author,
        channel=channel,
        text=text,
        now=now,
        meta=meta,
        internal=internal,
    )


async def add_system_note(
    session: AsyncSession,
    *,
    handoff_id: int,
    conversation_id: int,
    customer_id: int,
    text: str,
    now: datetime,
    meta: dict[str, Any] | None = None,
) -> int:
    """A log line for staff in the conversation (who claimed, an SLA repost …): internal,
    never sent to the customer, never in the bot's context."""
    return await add_turn(
        session,
        conversation_id=conversation_id,
        customer_id=customer_id,
        author="system",
        channel="staff",
        text=text,
        now=now,
        internal=True,
        meta={"handoff_id": handoff_id, **(meta or {})},
    )


async def queue_delivery(
    session: AsyncSession, *, message_id: int, conversation_id: int, to: Reachable, now: datetime
) -> int:
    return await SqlOutbox(session).enqueue(
        message_id=message_id,
        conversation_id=conversation_id,
        channel=to.channel,
        external_user_id=to.external_user_id,
        now=now,
    )


# --- the cards staff see -------------------------------------------------------------


def _turn_json(m: Message | Row[Any]) -> dict[str, Any]:
    return {
        "id": m.id,
        "author": m.author,
        "channel": m.channel,
        "text": m.text,
        "internal": m.internal,
        "staff": (m.meta or {}).get("staff"),
        "note": bool((m.meta or {}).get("note")),
        "created_at": m.created_at.isoformat(),
    }


async def turn_card(
    factory: async_sessionmaker[AsyncSession], message_id: int
) -> dict[str, Any] | None:
    """One stored turn as staff see it (a mirror post copies it into the Slack thread)."""
    async with factory() as session:
        message = await session.get(Message, message_id)
        return _turn_json(message) if message is not None else None


def _order_json(o: OrderView) -> dict[str, Any]:
    return {
        "id": o.id,
        "status": o.status,
        "total": f"{o.total:.2f}",
        "currency": o.currency,
        "created_at": o.created_at.isoformat(),
        "tracking_number": o.tracking_number,
    }


async def open_handoff_cards(factory: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    """Waiting and claimed handoffs, oldest first, each with its context card (JSON)."""
    async with factory() as session:
        rows = (
            await session.execute(
                _card_rows()
                .where(Handoff.state.in_(OPEN_STATES))
                .order_by(Handoff.created_at, Handoff.id)
                .limit(MAX_CARDS)
            )
        ).all()
        return await _cards(session, [(h, c, u) for h, c, u in rows])


async def handoff_card(
    factory: async_sessionmaker[AsyncSession], handoff_id: int
) -> dict[str, Any] | None:
    """One handoff's context card, whatever its state (the Slack card shows closed ones too)."""
    async with factory() as session:
        row = (await session.execute(_card_rows().where(Handoff.id == handoff_id))).one_or_none()
        if row is None:
            return None
        handoff, conversation, customer = row
        (card,) = await _cards(session, [(handoff, conversation, customer)])
        return card


def _card_rows() -> Select[Handoff, Conversation, Customer]:
    return (
        select(Handoff, Conversation, Customer)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .join(Customer, Customer.id == Conversation.customer_id)
    )


async def _cards(
    session: AsyncSession, rows: Sequence[tuple[Handoff, Conversation, Customer]]
) -> list[dict[str, Any]]:
    """Each handoff's card: who the customer is, where they are, why the bot handed over,
    their latest orders, the conversation's last turns. One statement per part for all
    the cards (the console lists them every time the store changes)."""
    if not rows:
        return []
    customer_ids = list(dict.fromkeys(customer.id for _, _, customer in rows))
    conversation_ids = list(dict.fromkeys(conversation.id for _, conversation, _ in rows))
    reach = await current_reaches(session, customer_ids)
    orders = await latest_orders(session, customer_ids, CARD_ORDERS)
    turns: dict[int, list[Row[Any]]] = defaultdict(list)
    for row in await _CARD_TURNS.rows(session, [(cid,) for cid in conversation_ids]):
        turns[row.conversation_id].append(row)
    return [
        _card_json(
            handoff,
            conversation,
            customer,
            reach.get(customer.id),
            orders[customer.id],
            sorted(turns[conversation.id], key=_message_id),
        )
        for handoff, conversation, customer in rows
    ]


def _message_id(row: Row[Any]) -> int:
    return int(row.id)


def _card_json(
    handoff: Handoff,
    conversation: Conversation,
    customer: Customer,
    reach: Reachable | None,
    orders: Sequence[OrderView],
    turns: Sequence[Row[Any]],
) -> dict[str, Any]:
    return {
        "id": handoff.id,
        "state": handoff.state,
        "queue": handoff.queue,
        "priority": handoff.priority,
        "rule_id": handoff.rule_id,
        "reason": handoff.reason,
        "claimed_by": handoff.claimed_by,
        "created_at": handoff.created_at.isoformat(),
        "claimed_at": handoff.claimed_at.isoformat() if handoff.claimed_at else None,
        "closed_at": handoff.closed_at.isoformat() if handoff.closed_at else None,
        "sla_due_at": handoff.sla_due_at.isoformat() if handoff.sla_due_at else None,
        "sla_reposts": handoff.sla_reposts or 0,
        "staff_channel": handoff.staff_channel,
        "staff_thread": handoff.staff_thread,
        "conversation_id": conversation.id,
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "email": customer.email,
            "channel": reach.channel if reach else conversation.channel,
        },
        "orders": [_order_json(o) for o in orders],
        "turns": [_turn_json(m) for m in turns],
    }


async def store_version(factory: async_sessionmaker[AsyncSession]) -> int:
    """The newest message id: every handoff change stores a turn or a system note, so the
    cards change only when this does (cheap to poll)."""
    async with factory() as session:
        return int(await session.scalar(select(func.coalesce(func.max(Message.id), 0))) or 0)


# --- outcomes -------------------------------------------------------------------------


async def conversation_outcomes(
    factory: async_sessionmaker[AsyncSession], *, since: datetime, reopen_days: int = 7
) -> dict[str, Any]:
    """Per conversation since ``since``: resolved by the bot or by staff, reopened within
    ``reopen_days`` (the customer wrote again, on any channel), and the ratings given."""
    async with factory() as session:
        conversations = (
            await session.execute(
                select(Conversation.id, Conversation.customer_id, Conversation.last_message_at)
                .where(Conversation.started_at >= since)
                .order_by(Conversation.id)
            )
        ).all()
        handoffs = (
            await session.execute(
                select(Handoff.conversation_id, Handoff.state, Handoff.closed_at)
                .join(Conversation, Conversation.id == Handoff.conversation_id)
                .where(Conversation.started_at >= since)
                .order_by(Handoff.id)
            )
        ).all()
        ratings = (
            await session.execute(
                select(Message.customer_id, Message.created_at, Message.meta)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Conversation.started_at >= since,
                    Message.author == "bot",
                    Message.meta["kind"].as_string() == RATING_THANKS_KIND,
                )
            )
        ).all()
    staff_closed: dict[int, datetime] = {}
    escalated: set[int] = set()
    for conversation_id, state, closed_at in handoffs:
        escalated.add(conversation_id)
        if state == "resolved" and closed_at is not None:
            staff_closed[conversation_id] = closed_at
    scores = [
        int(meta["rating"])
        for _, _, meta in ratings
        if isinstance(meta, dict) and isinstance(meta.get("rating"), int)
    ]
    # A rating answers the question asked at resolve: that is not coming back.
    rating_turns = {(customer_id, at) for customer_id, at, _ in ratings}
    window = timedelta(days=reopen_days)
    customers = {c for i, c, _ in conversations if i in staff_closed}
    by_customer = await _customer_turns_after(factory, customers, staff_closed)
    by_bot = by_staff = reopened = 0
    for conversation_id, customer_id, _last in conversations:
        if conversation_id in staff_closed:
            by_staff += 1
            closed = staff_closed[conversation_id]
            later = [
                at
                for at in by_customer.get(customer_id, [])
                if closed < at <= closed + window and (customer_id, at) not in rating_turns
            ]
            if later:
                reopened += 1
        elif conversation_id not in escalated:
            by_bot += 1
    return {
        "conversations": len(conversations),
        "resolved_by_bot": by_bot,
        "resolved_by_staff": by_staff,
        "escalated": len(escalated),
        "reopened_within_days": reopen_days,
        "reopened": reopened,
        "ratings": len(scores),
        "average_rating": round(sum(scores) / len(scores), 2) if scores else None,
    }


async def _customer_turns_after(
    factory: async_sessionmaker[AsyncSession],
    customers: set[int],
    staff_closed: dict[int, datetime],
) -> dict[int, list[datetime]]:
    """When the customers of staff-resolved conversations wrote after the first close."""
    if not customers:
        return {}
    async with factory() as session:
        rows = (
            await session.execute(
                select(Message.customer_id, Message.created_at).where(
                    Message.author == "customer",
                    Message.customer_id.in_(customers),
                    Message.created_at > min(staff_closed.values()),
                )
            )
        ).all()
    by_customer: dict[int, list[datetime]] = {}
    for customer_id, at in rows:
        by_customer.setdefault(customer_id, []).append(at)
    return by_customer
