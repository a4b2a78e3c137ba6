"""Orders, customers and contexts shared by the offline responder tests (no tests here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from memory.views import Context, CustomerView, OrderItem, OrderView
from policies.model import Action, Decision, Signals

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)

BOOTS = OrderItem("Ridgeline Hiking Boots", "RB-42", 1, Decimal("129.00"))
SOCKS = OrderItem("Merino Trail Socks", "MS-3P", 2, Decimal("14.50"))
TENT = OrderItem("Summit Two-Person Tent", "ST-2P", 1, Decimal("1299.00"))
LAMP = OrderItem("Camp Lantern", "CL-1", 1, Decimal("39.00"))


def order(
    order_id: str,
    status: str,
    *,
    created: datetime,
    items: tuple[OrderItem, ...] = (BOOTS,),
    total: str = "129.00",
    currency: str = "EUR",
    shipped: datetime | None = None,
    delivered: datetime | None = None,
    carrier: str | None = None,
    number: str | None = None,
    url: str | None = None,
) -> OrderView:
    return OrderView(
        id=order_id,
        email="anna.berg@example.org",
        status=status,
        currency=currency,
        total=Decimal(total),
        items=items,
        created_at=created,
        shipped_at=shipped,
        delivered_at=delivered,
        tracking_carrier=carrier,
        tracking_number=number,
        tracking_url=url,
        customer_id=7,
    )


def day(month: int, dom: int, hour: int = 12) -> datetime:
    return datetime(2026, month, dom, hour, 0, tzinfo=UTC)


PENDING = order(
    "TL-2001",
    "pending",
    created=day(3, 18),
    items=(BOOTS, SOCKS),
    total="158.00",
)
SHIPPED = order(
    "TL-2002",
    "shipped",
    created=day(3, 14),
    shipped=day(3, 16),
    carrier="DHL",
    number="JD014600006543",
    url="https://track.example.com/dhl/JD014600006543",
)
SHIPPED_NO_LINK = order(
    "TL-2003",
    "shipped",
    created=day(3, 12),
    shipped=day(3, 13),
    carrier="PostNL",
    number="3SPOST123456",
)
SHIPPED_UNTRACKED = order("TL-2004", "shipped", created=day(3, 10), shipped=day(3, 11))
DELIVERED_RECENT = order(
    "TL-1990",
    "delivered",
    created=day(2, 25),
    shipped=day(2, 26),
    delivered=day(3, 1),
    items=(TENT,),
    total="1299.00",
)
DELIVERED_OLD = order(
    "TL-1801",
    "delivered",
    created=day(1, 5),
    shipped=day(1, 6),
    delivered=day(1, 10),
    items=(LAMP,),
    total="39.00",
)
DELIVERED_UNDATED = order("TL-1802", "delivered", created=day(1, 20))
CANCELLED = order("TL-1950", "cancelled", created=day(2, 11))
RETURN_REQUESTED = order(
    "TL-1960",
    "return_requested",
    created=day(2, 1),
    shipped=day(2, 2),
    delivered=day(2, 5),
)
REFUNDED = order("TL-1700", "refunded", created=day(1, 2), shipped=day(1, 3), delivered=day(1, 6))
ON_HOLD = order("TL-2010", "on_hold", created=day(3, 19))


def customer(name: str | None = "Anna Berg") -> CustomerView:
    return CustomerView(
        id=7,
        name=name,
        email="anna.berg@example.org",
        phone=None,
        external_ref="shop-7",
        tags=(),
        created_at=day(1, 1),
    )


def context(
    orders: Iterable[OrderView] = (),
    *,
    verified: bool = True,
    state: str = "bot",
    name: str | None = "Anna Berg",
) -> Context:
    newest_first = tuple(sorted(orders, key=lambda o: o.created_at, reverse=True))
    return Context(
        customer=customer(name),
        verified=verified,
        verified_via="shop_login" if verified else None,
        channel="webchat",
        conversation_id=11,
        conversation_state=state,
        first_contact=False,
        recent_turns=(),
        past_conversations=(),
        orders=newest_first,
        orders_count=len(newest_first),
        lifetime_value=sum((o.total for o in newest_first), Decimal("0")),
        recent_contacts=(),
        escalations_total=0,
        bot_failures=0,
        consecutive_clarify=0,
        last_staff_at=None,
    )


def signals(
    text: str,
    intent: str,
    *,
    order_numbers: tuple[str, ...] = (),
    confidence: float = 0.9,
) -> Signals:
    entities: Mapping[str, tuple[str, ...]] = (
        {"order_number": order_numbers} if order_numbers else {}
    )
    return Signals(
        text=text,
        channel="webchat",
        intent=intent,
        intent_confidence=confidence,
        entities=entities,
    )


def answer(*, template: str | None = None, tools: tuple[str, ...] | None = None) -> Decision:
    return Decision(action=Action.ANSWER, rule_id="test-answer", template=template, tools=tools)


KNOWLEDGE_ENTRIES = {
    "returns-window.md": """---
id: returns-window
title: How long do I have to return something?
questions:
  - how do returns work
  - what is your return policy
  - can I send an item back
tags: [returns]
---
You can return unworn items within 30 days of delivery for a full refund.
""",
    "shipping-times.md": """---
id: shipping-times
title: How long does delivery take?
questions:
  - how long does shipping take
  - when will my parcel arrive
  - delivery time to Germany
tags: [shipping, delivery]
---
Orders ship within one business day; delivery takes 2 to 4 business days in the EU.
""",
    "payment-methods.md": """---
id: payment-methods
title: Which payment methods do you accept?
questions:
  - can I pay with PayPal
  - do you take credit cards
tags: [payments]
---
We accept Visa, Mastercard, PayPal and bank transfer.
""",
}


def write_knowledge(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in KNOWLEDGE_ENTRIES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
