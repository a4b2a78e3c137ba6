"""Typed inputs and outputs of :func:`policies.decide`.

Everything here is plain data: the pipeline fills :class:`DecisionInput` from
the context builder and the understanding step, ``decide()`` returns a
:class:`Decision`. No I/O, no imports of other Threadline packages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Action(StrEnum):
    ANSWER = "answer"
    ESCALATE = "escalate"
    CLARIFY = "clarify"
    VERIFY_IDENTITY = "verify_identity"


@dataclass(frozen=True, slots=True)
class Signals:
    """What was understood from the customer's message."""

    text: str
    channel: str
    intent: str
    intent_confidence: float
    entities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sentiment: float = 0.0  # -1 (angry) … +1 (happy)
    needs_person: bool = False
    source: str = "offline"  # "offline" | "llm"


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    verified: bool
    first_contact: bool
    tags: tuple[str, ...] = ()
    tier: str | None = None
    lifetime_value: float = 0.0
    orders_count: int = 0


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """The order the message is about (named in it, or the customer's latest)."""

    id: str
    status: str
    total: float
    currency: str
    age_days: float
    days_since_delivery: float | None
    belongs_to_customer: bool
    named_in_message: bool


@dataclass(frozen=True, slots=True)
class ContactFact:
    """One contact: a visit in which the customer wrote (the current one included)."""

    at: datetime
    order_ref: str | None = None
    escalated: bool = False


@dataclass(frozen=True, slots=True)
class HistoryFacts:
    recent_contacts: tuple[ContactFact, ...] = ()  # newest first, bounded
    escalations_total: int = 0
    bot_failures: int = 0
    consecutive_clarify: int = 0
    minutes_since_staff: float | None = None
    conversation_state: str = "bot"


@dataclass(frozen=True, slots=True)
class DecisionInput:
    signals: Signals
    customer: CustomerFacts
    history: HistoryFacts
    now: datetime
    order: OrderFacts | None = None


@dataclass(frozen=True, slots=True)
class ConditionTrace:
    """What one condition looked at and whether it held."""

    condition: str
    expected: object
    seen: object
    ok: bool
    group: bool = False  # an all / any / not line summing up the lines above it


@dataclass(frozen=True, slots=True)
class RuleTrace:
    rule_id: str
    matched: bool
    conditions: tuple[ConditionTrace, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    rule_id: str
    reasons: tuple[str, ...] = ()
    # escalate
    queue: str | None = None
    priority: str | None = None
    customer_message: str | None = None
    # clarify
    question: str | None = None
    # answer
    tools: tuple[str, ...] | None = None  # None: every tool the responder has
    template: str | None = None
    trace: tuple[RuleTrace, ...] = ()
