"""The context builder: what the decision and the reply may use.

Every query is bounded by an index range and a LIMIT, so a customer with
100,000 past messages costs about as much as one with ten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from memory.models import Conversation, Customer, Handoff, Message
from memory.orders import OrderSource
from memory.records import ConversationRecord
from memory.views import Contact, Context, CustomerView, PastConversation, TurnView


@dataclass(frozen=True, slots=True)
class ContextLimits:
    turns: int = 20
    past_conversations: int = 5
    orders: int = 10
    contact_window: timedelta = timedelta(days=30)
    contact_messages: int = 300
    visit_gap: timedelta = timedelta(hours=2)
    escalations_cap: int = 1000


def group_visits(
    messages: Sequence[tuple[datetime, str | None, bool]], gap: timedelta
) -> tuple[Contact, ...]:
    """Customer messages (oldest first) → contacts: a new one after ``gap`` of silence.

    Each item is ``(at, order_ref, escalated)``; a contact is about the last
    order named in it and escalated if any of its conversations was.
    """
    contacts: list[Contact] = []
    start: datetime | None = None
    last: datetime | None = None
    order_ref: str | None = None
    escalated = False
    for at, ref, esc in messages:
        if last is not None and at - last >= gap and start is not None:
            contacts.append(Contact(at=start, order_ref=order_ref, escalated=escalated))
            start, order_ref, escalated = None, None, False
        if start is None:
            start = at
        last = at
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
        lim = self._limits
        customer = await self._s.get(Customer, customer_id)
        if customer is None:
            raise LookupError(f"customer {customer_id} not found")

        turn_rows = await self._s.execute(
            select(Message.id, Message.author, Message.channel, Message.text, Message.created_at)
            .where(Message.conversation_id == conversation.id, Message.internal.is_(False))
            .order_by(Message.id.desc())
            .limit(lim.turns)
        )
        turns = tuple(
            TurnView(message_id=i, author=a, channel=c, text=t, created_at=at)
            for i, a, c, t, at in reversed(turn_rows.all())
        )

        escalated = exists().where(Handoff.conversation_id == Conversation.id)
        past_rows = await self._s.execute(
            select(Conversation, escalated.label("escalated"))
            .where(Conversation.customer_id == customer_id, Conversation.id != conversation.id)
            .order_by(Conversation.started_at.desc())
            .limit(lim.past_conversations)
        )
        past = tuple(
            PastConversation(
                id=c.id,
                channel=c.channel,
                started_at=c.started_at,
                last_message_at=c.last_message_at,
                state=c.state,
                summary=c.summary,
                escalated=bool(esc),
            )
            for c, esc in past_rows.all()
        )

        msg_escalated = exists().where(Handoff.conversation_id == Message.conversation_id)
        contact_rows = await self._s.execute(
            select(Message.created_at, Message.order_ref, msg_escalated)
            .where(
                Message.customer_id == customer_id,
                Message.created_at >= now - lim.contact_window,
                Message.author == "customer",
            )
            .order_by(Message.created_at.desc())
            .limit(lim.contact_messages)
        )
        contacts = group_visits(
            [(at, ref, bool(esc)) for at, ref, esc in reversed(contact_rows.all())],
            lim.visit_gap,
        )

        capped = (
            select(Handoff.id)
            .join(Conversation, Conversation.id == Handoff.conversation_id)
            .where(Conversation.customer_id == customer_id)
            .limit(lim.escalations_cap)
            .subquery()
        )
        escalations_total = await self._s.scalar(select(func.count()).select_from(capped)) or 0

        latest, orders_count, lifetime_value = await self._orders.overview(
            customer_id, limit=lim.orders
        )
        orders = tuple(latest)

        customer_turns = sum(1 for t in turns if t.author == "customer")
        last_staff = [t.created_at for t in turns if t.author == "staff"]
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
            verified=verified,
            verified_via=verified_via,
            channel=channel,
            conversation_id=conversation.id,
            conversation_state=conversation.state,
            first_contact=not past and customer_turns <= 1,
            recent_turns=turns,
            past_conversations=past,
            orders=orders,
            orders_count=orders_count,
            lifetime_value=lifetime_value,
            recent_contacts=contacts,
            escalations_total=int(escalations_total),
            bot_failures=conversation.bot_failures,
            consecutive_clarify=conversation.consecutive_clarify,
            last_staff_at=max(last_staff) if last_staff else None,
        )
