"""The conversation store: one customer, one story across channels.

Customer → ChannelIdentity (channel, external user) → Conversation → Message,
plus the inbound event log (durable ingest, dedupe), append-only decisions,
handoffs to staff and the outbox of messages to deliver.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# BigInteger ids that stay autoincrementing INTEGER PRIMARY KEY on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite keeps no offset by itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Threadline stores UTC-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


def _ts() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), nullable=False)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(128), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    merged_into_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id"))
    created_at: Mapped[datetime] = _ts()


class ChannelIdentity(Base):
    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_user_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_user_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id"), index=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_via: Mapped[str | None] = mapped_column(String(32))
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _ts()
    last_seen_at: Mapped[datetime] = _ts()


class InboundEvent(Base):
    """Every platform event, stored before the platform gets its answer.

    ``state``: pending → done | failed. Workers lease pending events with
    ``locked_until``; events of one sender are processed in id order.
    """

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("channel", "external_event_id"),
        Index("ix_inbound_events_state_id", "state", "id"),
        Index("ix_inbound_events_sender", "channel", "external_user_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_event_id: Mapped[str] = mapped_column(String(200))
    external_user_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = _ts()
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Conversation(Base):
    """state: bot → waiting_staff → staff → bot | resolved."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_customer_started", "customer_id", "started_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id"))
    state: Mapped[str] = mapped_column(String(16), default="bot")
    channel: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = _ts()
    last_message_at: Mapped[datetime] = _ts()
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    summary: Mapped[str | None] = mapped_column(Text)
    consecutive_clarify: Mapped[int] = mapped_column(Integer, default=0)
    bot_failures: Mapped[int] = mapped_column(Integer, default=0)


class Message(Base):
    """A turn in a conversation: customer, bot, staff or system."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # A customer's own messages in time order: the one before a new message, for its
        # contact mark (memory.contact_marks).
        Index(
            "ix_messages_customer_author_created",
            "customer_id",
            "author",
            "created_at",
            "conversation_id",
            "order_ref",
        ),
        # Only the marked messages: the context's read of a customer's recent contacts.
        Index(
            "ix_messages_contact_marks",
            "customer_id",
            "created_at",
            "contact_mark",
            "conversation_id",
            "order_ref",
            sqlite_where=text("contact_mark IS NOT NULL"),
            postgresql_where=text("contact_mark IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(Id, ForeignKey("conversations.id"))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id"))
    author: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    inbound_event_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("inbound_events.id"), unique=True
    )
    order_ref: Mapped[str | None] = mapped_column(String(64))
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = _ts()
    # A customer message's part in their contacts (memory.contact_marks); NULL otherwise.
    contact_mark: Mapped[int | None] = mapped_column(SmallInteger)


class Decision(Base):
    """Append-only: every decision with the inputs it saw, for explain and replay."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_created", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(Id, ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("messages.id"))
    action: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(String(120))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    policy_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _ts()


class Handoff(Base):
    """state: waiting → claimed → resolved | returned."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_state_created", "state", "created_at"),
        Index("ix_handoffs_staff_thread", "staff_thread"),
        Index("ix_handoffs_state_sla_due", "state", "sla_due_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(Id, ForeignKey("conversations.id"), index=True)
    decision_id: Mapped[int | None] = mapped_column(Id, ForeignKey("decisions.id"))
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    queue: Mapped[str] = mapped_column(String(64), default="support")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    rule_id: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text, default="")
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    staff_channel: Mapped[str | None] = mapped_column(String(64))
    staff_thread: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _ts()
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Time-to-claim target from the queue (counted from the next opening when closed);
    # each time it passes unclaimed the handoff is reposted and its priority raised.
    sla_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sla_reposts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class StaffPost(Base):
    """A post to the staff Slack channel waiting to go out: the outbox of the staff side.

    ``kind``: card (the handoff's context card, opens the thread) | update (the card
    changed) | mirror (a customer or console turn copied into the thread) | repost (an
    unclaimed handoff past its time to claim) | notice (a line in the thread). Posts of one
    handoff go out in id order; a failed one holds the rest of that handoff back.
    """

    __tablename__ = "staff_posts"
    __table_args__ = (
        Index("ix_staff_posts_state_next", "state", "next_attempt_at", "id"),
        Index("ix_staff_posts_handoff_id", "handoff_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(Id, ForeignKey("handoffs.id"))
    kind: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = _ts()
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    external_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class KnowledgeSuggestion(Base):
    """A staff answer to an escalated question, offered as a knowledge entry.

    ``state``: pending → accepted (written to the knowledge folder as ``entry_path``)
    | rejected. One per handoff.
    """

    __tablename__ = "knowledge_suggestions"
    __table_args__ = (Index("ix_knowledge_suggestions_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(Id, ForeignKey("handoffs.id"), unique=True)
    conversation_id: Mapped[int] = mapped_column(Id, ForeignKey("conversations.id"))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    staff: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    entry_path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _ts()
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(120))


class OutboxItem(Base):
    """A message waiting to be delivered; sent once, retried with backoff."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(Id, ForeignKey("messages.id"), unique=True)
    conversation_id: Mapped[int] = mapped_column(Id, ForeignKey("conversations.id"))
    channel: Mapped[str] = mapped_column(String(32))
    external_user_id: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = _ts()
    external_message_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _ts()
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    description: Mapped[str] = mapped_column(Text, default="")


class Order(Base):
    """An order from the shop, as imported (JSON or Shopify CSV)."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_created", "customer_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    status: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = _ts()
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    tracking_carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(128))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(32), default="json")


class LinkCode(Base):
    """A one-time code that links another channel's identity to the customer who asked.

    Only the SHA-256 of the code is stored; it expires and can be used once.
    """

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id"), index=True)
    issued_to_identity_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("channel_identities.id")
    )
    issued_on: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    used_by_identity_id: Mapped[int | None] = mapped_column(Id, ForeignKey("channel_identities.id"))


class CustomerMerge(Base):
    """One customer folded into another; ``merge_moves`` lists every row it moved."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kept_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id"), index=True)
    merged_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id"), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    method: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = _ts()
    undone_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    undone_by: Mapped[str | None] = mapped_column(String(120))


class MergeMove(Base):
    """A row a merge moved from the merged customer to the kept one (for unmerge)."""

    __tablename__ = "merge_moves"
    __table_args__ = (Index("ix_merge_moves_merge_kind", "merge_id", "kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    merge_id: Mapped[int] = mapped_column(Id, ForeignKey("customer_merges.id"))
    kind: Mapped[str] = mapped_column(String(16))  # identity | conversation | message | order
    row_id: Mapped[int | None] = mapped_column(Id)
    order_id: Mapped[str | None] = mapped_column(String(64))
    # A message folded into the kept customer's conversation: the one it came from.
    conversation_id: Mapped[int | None] = mapped_column(Id)


class IdentityEvent(Base):
    """Append-only audit of who linked, unlinked, merged or unmerged what, how and when.

    ``action``: link | link_refused | merge | unmerge; ``actor``: customer |
    admin:<name>; ``method``: shop_login | email | order_email | link_code | admin.
    """

    __tablename__ = "identity_events"
    __table_args__ = (
        Index("ix_identity_events_from", "from_customer_id", "id"),
        Index("ix_identity_events_to", "to_customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(120))
    method: Mapped[str] = mapped_column(String(32))
    identity_id: Mapped[int | None] = mapped_column(Id, ForeignKey("channel_identities.id"))
    from_customer_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id"))
    to_customer_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id"))
    merge_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customer_merges.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = _ts()


# The tables behind the models, for Core statements on the hot paths (batches, claims).
CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]
CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
MESSAGES: Table = Message.__table__  # type: ignore[assignment]
DECISIONS: Table = Decision.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxItem.__table__  # type: ignore[assignment]
EVENTS: Table = InboundEvent.__table__  # type: ignore[assignment]
IDENTITIES: Table = ChannelIdentity.__table__  # type: ignore[assignment]
ORDERS: Table = Order.__table__  # type: ignore[assignment]
