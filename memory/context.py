"""The context builder: what the decision and the reply may use.

Every query is bounded by an index range and a LIMIT, so a customer with
100,000 past messages costs about as much as one with ten. ``build_many`` builds
the contexts of a batch of customers with one statement per part, each customer's
part still a bounded select (memory.bounded); ``build`` is a batch of one.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Integer,
    Row,
    Subquery,
    bindparam,
    case,
    exists,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from memory.bounded import AnySelect, PerKey
from memory.contact_marks import STARTS
from memory.models import CUSTOMERS, Conversation, Handoff, Message, UtcDateTime
from memory.orders import OrderSource, latest_per_customer
from memory.records import ContextRequest, ConversationRecord
from memory.views import Contact, Context, CustomerView, OrderView, PastConversation, TurnView

_CUSTOMERS_BY_ID = select(CUSTOMERS).where(CUSTOMERS.c.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True, slots=True)
class ContextLimits:
    turns: int = 20
    # Whether the context carries those turns (``Context.recent_turns``: what a model's
    # prompt is made of). Without them the facts the turns give (a first contact, the
    # last staff message) are read as one aggregate row per conversation: the same
    # facts for a fraction of the cost (docs/benchmarks.md).
    turn_texts: bool = True
    past_conversations: int = 5
    orders: int = 10
    contact_window: timedelta = timedelta(days=30)
    # A customer's marked messages of the window, newest first (memory.contact_marks).
    contact_messages: int = 100
    # Counted up to this many: a policy compares against far fewer (docs/policies.md).
    escalations_cap: int = 100


def contacts_of(messages: Sequence[tuple[datetime, str | None, bool, bool]]) -> tuple[Contact, ...]:
    """Customer messages (oldest first) → contacts (visits), newest first.

    Each item is ``(at, order_ref, escalated, starts)``: ``starts`` marks the first
    message after ``VISIT_GAP`` of silence (memory.contact_marks). A contact is
    about the last order named in it and escalated if any of its conversations
    was, so only the messages that start one, name an order, or change conversation
    need be given.
    """
    contacts: list[Contact] = []
    start: datetime | None = None
    order_ref: str | None = None
    escalated = False
    for at, ref, esc, starts in messages:
        if starts and start is not None:
            contacts.append(Contact(at=start, order_ref=order_ref, escalated=escalated))
            start, order_ref, escalated = None, None, False
        if start is None:
            start = at
        order_ref = ref or order_ref
        escalated = escalated or esc
    if start is not None:
        contacts.append(Contact(at=start, order_ref=order_ref, escalated=escalated))
    contacts.reverse()
    return tuple(contacts)


class SqlContextReader:
    def __init__(
        self, session: AsyncSession, orders: OrderSource, limits: ContextLimits | None = None
    ) -> None:
        self._s = session
        self._orders = orders
        self._limits = limits or ContextLimits()

    async def build(
        self,
        *,
        customer_id: int,
        conversation: ConversationRecord,
        channel: str,
        verified: bool,
        verified_via: str | None,
        now: datetime,
    ) -> Context:
        request = ContextRequest(customer_id, conversation, channel, verified, verified_via, now)
        return (await self.build_many([request]))[0]

    async def build_many(self, requests: Sequence[ContextRequest]) -> list[Context]:
        """The contexts of several customers: one statement per part for all of them."""
        if not requests:
            return []
        if len({r.customer_id for r in requests}) != len(requests):
            raise ValueError("one context per customer in a batch")
        lim = self._limits
        customer_ids = [r.customer_id for r in requests]
        customers = {
            row.id: row for row in await self._s.execute(_CUSTOMERS_BY_ID, {"ids": customer_ids})
        }
        missing = set(customer_ids) - set(customers)
        if missing:
            raise LookupError(f"customer {min(missing)} not found")
        conversation_ids = [r.conversation.id for r in requests]
        if lim.turn_texts:
            turns = await self._turns(conversation_ids)
            turn_facts = {cid: _TurnFacts.of(views) for cid, views in turns.items()}
        else:
            turns, turn_facts = {}, await self._turn_facts(conversation_ids)
        past = await self._past_conversations(requests)
        contacts = await self._contacts(requests)
        escalations = await self._escalations(customer_ids)
        overviews = await self._orders.overviews(customer_ids, limit=lim.orders)
        return [
            _context(
                r,
                customers[r.customer_id],
                turns.get(r.conversation.id, ()),
                turn_facts.get(r.conversation.id, _NO_TURNS),
                past.get(r.customer_id, ()),
                contacts.get(r.customer_id, ()),
                escalations.get(r.customer_id, 0),
                overviews[r.customer_id],
            )
            for r in requests
        ]

    async def _turns(self, conversation_ids: list[int]) -> dict[int, tuple[TurnView, ...]]:
        """The last ``turns`` of each conversation, oldest first."""
        found: dict[int, list[TurnView]] = defaultdict(list)
        for cid, i, a, c, t, at in await self._rows("turns", [(c,) for c in conversation_ids]):
            found[cid].append(TurnView(message_id=i, author=a, channel=c, text=t, created_at=at))
        return {cid: tuple(sorted(views, key=_by_id)) for cid, views in found.items()}

    async def _turn_facts(self, conversation_ids: list[int]) -> dict[int, _TurnFacts]:
        """What the last ``turns`` of each conversation tell, without their texts."""
        rows = await self._rows("turn_facts", [(c,) for c in conversation_ids])
        return {int(cid): _TurnFacts(int(n), last_staff) for cid, n, last_staff in rows}

    async def _past_conversations(
        self, requests: Sequence[ContextRequest]
    ) -> dict[int, tuple[PastConversation, ...]]:
        keys = [(r.customer_id, r.conversation.id) for r in requests]
        found: dict[int, list[PastConversation]] = defaultdict(list)
        for customer_id, cid, channel, started, last, state, summary, esc in await self._rows(
            "past", keys
        ):
            found[customer_id].append(
                PastConversation(cid, channel, started, last, state, summary, bool(esc))
            )
        return {
            cid: tuple(sorted(views, key=_by_start, reverse=True)) for cid, views in found.items()
        }

    async def _contacts(self, requests: Sequence[ContextRequest]) -> dict[int, tuple[Contact, ...]]:
        lim = self._limits
        keys = [(r.customer_id, r.now - lim.contact_window) for r in requests]
        found: dict[int, list[tuple[datetime, int, str | None, bool, bool]]] = defaultdict(list)
        for customer_id, message_id, at, ref, esc, starts in await self._rows("contacts", keys):
            found[customer_id].append((at, message_id, ref, bool(esc), bool(starts)))
        return {
            cid: contacts_of([(at, ref, esc, starts) for at, _, ref, esc, starts in sorted(rows)])
            for cid, rows in found.items()
        }

    async def _escalations(self, customer_ids: list[int]) -> dict[int, int]:
        """Handoffs in each customer's conversations, counted up to ``escalations_cap``."""
        rows = await self._rows("escalations", [(c,) for c in customer_ids])
        return {int(cid): int(n) for cid, n in rows}

    async def _rows(
        self, part: str, keys: Sequence[tuple[Any, ...]]
    ) -> Sequence[Row[*tuple[Any, ...]]]:
        """The rows of one part of the contexts (a :class:`_Statements` field)."""
        per_key: PerKey = getattr(_statements(self._limits), part)
        return await per_key.rows(self._s, keys)


def batch_statements(limits: ContextLimits | None = None) -> list[PerKey]:
    """The per-key statements a batch's contexts run (a worker warms them at start)."""
    lim = limits or ContextLimits()
    parts = _statements(lim)
    return [
        parts.turns if lim.turn_texts else parts.turn_facts,
        parts.past,
        parts.contacts,
        parts.escalations,
        latest_per_customer(lim.orders),
    ]


@dataclass(frozen=True, slots=True)
class _Statements:
    turns: PerKey
    turn_facts: PerKey
    past: PerKey
    contacts: PerKey
    escalations: PerKey


@functools.cache
def _statements(lim: ContextLimits) -> _Statements:
    """The context's statements for these limits, built once."""
    m, c = Message, Conversation

    def turns(conversation_id: Any) -> AnySelect:
        return (
            select(m.conversation_id, m.id, m.author, m.channel, m.text, m.created_at)
            .where(m.conversation_id == conversation_id, m.internal.is_(False))
            .order_by(m.id.desc())
            .limit(lim.turns)
        )

    def turn_marks(conversation_id: Any) -> AnySelect:
        return (
            select(m.conversation_id, m.author, m.created_at)
            .where(m.conversation_id == conversation_id, m.internal.is_(False))
            .order_by(m.id.desc())
            .limit(lim.turns)
        )

    def told(turns: Subquery) -> AnySelect:
        k = turns.c
        return select(
            k.conversation_id,
            func.count(case((k.author == "customer", 1))),
            func.max(case((k.author == "staff", k.created_at))),
        ).group_by(k.conversation_id)

    def past(customer_id: Any, current_id: Any) -> AnySelect:
        escalated = exists().where(Handoff.conversation_id == c.id).label("escalated")
        return (
            select(
                c.customer_id,
                c.id,
                c.channel,
                c.started_at,
                c.last_message_at,
                c.state,
                c.summary,
                escalated,
            )
            .where(c.customer_id == customer_id, c.id != current_id)
            .order_by(c.started_at.desc())
            .limit(lim.past_conversations)
        )

    def contacts(customer_id: Any, since: Any) -> AnySelect:
        # ``contact_mark IS NOT NULL`` as the partial index has it, so the index is used.
        return (
            select(
                m.customer_id, m.id, m.created_at, m.order_ref, m.conversation_id, m.contact_mark
            )
            .where(m.customer_id == customer_id, m.contact_mark.is_not(None), m.created_at >= since)
            .order_by(m.created_at.desc())
            .limit(lim.contact_messages)
        )

    def escalations(customer_id: Any) -> AnySelect:
        return (
            select(c.customer_id, Handoff.id)
            .join(c, c.id == Handoff.conversation_id)
            .where(c.customer_id == customer_id)
            .limit(lim.escalations_cap)
        )

    def counted(handoffs: Subquery) -> AnySelect:
        customer = handoffs.c.customer_id
        return select(customer, func.count()).group_by(customer)

    def visits(marked: Subquery) -> AnySelect:
        """The marked rows, with whether their conversation went to a person (looked up
        for these few rows only)."""
        k = marked.c
        escalated = exists().where(Handoff.conversation_id == k.conversation_id)
        return select(
            k.customer_id,
            k.id,
            k.created_at,
            k.order_ref,
            escalated.label("escalated"),
            (k.contact_mark == STARTS).label("starts"),
        )

    ids, id_pairs = [Integer()], [Integer(), Integer()]
    return _Statements(
        turns=PerKey(turns, ids),
        turn_facts=PerKey(turn_marks, ids, outer=told),
        past=PerKey(past, id_pairs),
        contacts=PerKey(contacts, [Integer(), UtcDateTime()], outer=visits),
        escalations=PerKey(escalations, ids, outer=counted),
    )


@dataclass(frozen=True, slots=True)
class _TurnFacts:
    """What a conversation's last turns tell the policy."""

    customer_turns: int
    last_staff_at: datetime | None

    @classmethod
    def of(cls, turns: Sequence[TurnView]) -> _TurnFacts:
        staff = [t.created_at for t in turns if t.author == "staff"]
        return cls(sum(1 for t in turns if t.author == "customer"), max(staff, default=None))


_NO_TURNS = _TurnFacts(0, None)


def _by_id(turn: TurnView) -> int:
    return turn.message_id


def _by_start(conversation: PastConversation) -> datetime:
    return conversation.started_at


def _context(
    request: ContextRequest,
    customer: Row[Any],
    turns: tuple[TurnView, ...],
    told: _TurnFacts,
    past: tuple[PastConversation, ...],
    contacts: tuple[Contact, ...],
    escalations_total: int,
    overview: tuple[list[OrderView], int, Decimal],
) -> Context:
    latest_orders, orders_count, lifetime_value = overview
    conversation = request.conversation
    return Context(
        customer=CustomerView(
            id=customer.id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            external_ref=customer.external_ref,
            tags=tuple(str(t) for t in customer.tags or ()),
            created_at=customer.created_at,
        ),
        verified=request.verified,
        verified_via=request.verified_via,
        channel=request.channel,
        conversation_id=conversation.id,
        conversation_state=conversation.state,
        first_contact=not past and told.customer_turns <= 1,
        recent_turns=turns,
        past_conversations=past,
        orders=tuple(latest_orders),
        orders_count=orders_count,
        lifetime_value=lifetime_value,
        recent_contacts=contacts,
        escalations_total=escalations_total,
        bot_failures=conversation.bot_failures,
        consecutive_clarify=conversation.consecutive_clarify,
        last_staff_at=told.last_staff_at,
    )
