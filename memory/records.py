"""Records the repositories hand out (plain data; no ORM object leaves memory/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    id: int
    channel: str
    external_user_id: str
    customer_id: int
    verified: bool
    verified_via: str | None
    display_name: str | None = None
    unreachable: bool = False
    last_seen_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: int
    external_ref: str | None
    email: str | None
    name: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: int
    customer_id: int
    state: str
    channel: str
    started_at: datetime
    last_message_at: datetime
    consecutive_clarify: int = 0
    bot_failures: int = 0
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored inbound event, as the worker processes it."""

    id: int
    channel: str
    external_event_id: str
    external_user_id: str
    text: str
    payload: dict[str, Any]
    received_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    id: int
    message_id: int
    conversation_id: int
    channel: str
    external_user_id: str
    text: str
    author: str
    attempts: int
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HandoffRecord:
    id: int
    conversation_id: int
    state: str
    queue: str
    priority: str
    rule_id: str
    reason: str
    created_at: datetime
    claimed_by: str | None = None
    sla_due_at: datetime | None = None  # when a person should have claimed it


@dataclass(frozen=True, slots=True)
class ContextRequest:
    """Whose context to build, for which conversation and channel (``context.build_many``)."""

    customer_id: int
    conversation: ConversationRecord
    channel: str
    verified: bool
    verified_via: str | None
    now: datetime

    def keywords(self) -> dict[str, Any]:
        """The same request as ``context.build``'s keyword arguments."""
        return {
            "customer_id": self.customer_id,
            "conversation": self.conversation,
            "channel": self.channel,
            "verified": self.verified,
            "verified_via": self.verified_via,
            "now": self.now,
        }
