"""Turn the stored context and the understood message into ``decide()``'s inputs."""

from __future__ import annotations

from datetime import datetime

from memory.orders import OrderSource, normalize_order_id
from memory.views import Context, OrderView
from policies.model import (
    ContactFact,
    CustomerFacts,
    DecisionInput,
    HistoryFacts,
    OrderFacts,
    Signals,
)

SECONDS_PER_DAY = 86400.0


async def order_in_question(
    context: Context, signals: Signals, orders: OrderSource
) -> tuple[OrderView | None, bool]:
    """The order the message is about, and whether the message named it.

    A named order is looked up among the customer's orders first, then in the
    whole shop (so a rule can see it exists but is not theirs); otherwise the
    customer's latest order.
    """
    named = signals.entities.get("order_number", ())
    if named:
        wanted = normalize_order_id(named[0])
        for order in context.orders:
            if normalize_order_id(order.id) == wanted:
                return order, True
        return await orders.order(wanted), True
    return (context.orders[0] if context.orders else None), False


def order_facts(order: OrderView, context: Context, named: bool, now: datetime) -> OrderFacts:
    delivered = order.delivered_at
    return OrderFacts(
        id=order.id,
        status=order.status,
        total=float(order.total),
        currency=order.currency,
        age_days=(now - order.created_at).total_seconds() / SECONDS_PER_DAY,
        days_since_delivery=(
            (now - delivered).total_seconds() / SECONDS_PER_DAY if delivered else None
        ),
        belongs_to_customer=order.customer_id == context.customer.id,
        named_in_message=named,
    )


def decision_input(
    context: Context,
    signals: Signals,
    order: OrderView | None,
    named: bool,
    now: datetime,
) -> DecisionInput:
    minutes_since_staff = (
        (now - context.last_staff_at).total_seconds() / 60.0 if context.last_staff_at else None
    )
    return DecisionInput(
        signals=signals,
        customer=CustomerFacts(
            verified=context.verified,
            first_contact=context.first_contact,
            tags=context.customer.tags,
            tier=next(
                (t.split(":", 1)[1] for t in context.customer.tags if t.startswith("tier:")), None
            ),
            lifetime_value=float(context.lifetime_value),
            orders_count=context.orders_count,
        ),
        history=HistoryFacts(
            recent_contacts=tuple(
                ContactFact(at=c.at, order_ref=c.order_ref, escalated=c.escalated)
                for c in context.recent_contacts
            ),
            escalations_total=context.escalations_total,
            bot_failures=context.bot_failures,
            consecutive_clarify=context.consecutive_clarify,
            minutes_since_staff=minutes_since_staff,
            conversation_state=context.conversation_state,
        ),
        now=now,
        order=order_facts(order, context, named, now) if order else None,
    )
