"""Read models handed from the store to the rest of Threadline.

Plain frozen dataclasses: no ORM objects leave ``memory/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class OrderItem:
    name: str
    sku: str
    qty: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class OrderView:
    id: str
    email: str
    status: str  # pending | shipped | delivered | cancelled | return_requested | …
    currency: str
    total: Decimal
    items: tuple[OrderItem, ...]
    created_at: datetime
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    tracking_carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    customer_id: int | None = None


@dataclass(frozen=True, slots=True)
class TurnView:
    message_id: int
    author: str  # customer | bot | staff | system
    channel: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PastConversation:
    id: int
    channel: str
    started_at: datetime
    last_message_at: datetime
    state: str
    summary: str | None
    escalated: bool


@dataclass(frozen=True, slots=True)
class CustomerView:
    id: int
    name: str | None
    email: str | None
    phone: str | None
    external_ref: str | None
    tags: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Contact:
    """One earlier contact: a conversation the customer wrote in."""

    at: datetime
    order_ref: str | None
    escalated: bool


@dataclass(frozen=True, slots=True)
class Context:
    """Everything the decision and the reply may use, built in bounded time."""

    customer: CustomerView
    verified: bool
    verified_via: str | None
    channel: str
    conversation_id: int
    conversation_state: str
    first_contact: bool
    # Oldest first, current conversation, any channel; empty when read without their texts
    # (memory.context.ContextLimits.turn_texts: the offline responder reads none).
    recent_turns: tuple[TurnView, ...]
    past_conversations: tuple[PastConversation, ...]  # newest first
    orders: tuple[OrderView, ...]  # newest first, bounded
    orders_count: int
    lifetime_value: Decimal
    recent_contacts: tuple[Contact, ...]  # newest first, bounded
    escalations_total: int
    bot_failures: int
    consecutive_clarify: int
    last_staff_at: datetime | None
