"""Small builders for policy tests: inputs with sensible defaults, and policies from text."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from policies.loader import load_policy
from policies.model import (
    ContactFact,
    CustomerFacts,
    DecisionInput,
    HistoryFacts,
    OrderFacts,
    Signals,
)
from policies.policy import Policy

WEDNESDAY_NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def order(
    id: str = "1001",
    status: str = "shipped",
    total: float = 50.0,
    age_days: float = 3.0,
    days_since_delivery: float | None = None,
    belongs_to_customer: bool = True,
    named_in_message: bool = False,
) -> OrderFacts:
    return OrderFacts(
        id=id,
        status=status,
        total=total,
        currency="EUR",
        age_days=age_days,
        days_since_delivery=days_since_delivery,
        belongs_to_customer=belongs_to_customer,
        named_in_message=named_in_message,
    )


def make_input(
    text: str = "hello",
    intent: str = "greeting",
    confidence: float = 0.9,
    *,
    channel: str = "webchat",
    sentiment: float = 0.0,
    entities: Mapping[str, tuple[str, ...]] | None = None,
    needs_person: bool = False,
    verified: bool = False,
    first_contact: bool = False,
    tags: tuple[str, ...] = (),
    tier: str | None = None,
    lifetime_value: float = 0.0,
    orders_count: int = 0,
    the_order: OrderFacts | None = None,
    contacts: tuple[tuple[float, str | None, bool], ...] = (),
    escalations: int = 0,
    bot_failures: int = 0,
    consecutive_clarify: int = 0,
    minutes_since_staff: float | None = None,
    state: str = "bot",
    now: datetime = WEDNESDAY_NOON,
) -> DecisionInput:
    """``contacts``: (days ago, order ref, escalated) for each contact, newest first."""
    return DecisionInput(
        signals=Signals(
            text=text,
            channel=channel,
            intent=intent,
            intent_confidence=confidence,
            entities=dict(entities or {}),
            sentiment=sentiment,
            needs_person=needs_person,
        ),
        customer=CustomerFacts(
            verified=verified,
            first_contact=first_contact,
            tags=tags,
            tier=tier,
            lifetime_value=lifetime_value,
            orders_count=orders_count,
        ),
        history=HistoryFacts(
            recent_contacts=tuple(
                ContactFact(at=now - timedelta(days=days), order_ref=ref, escalated=esc)
                for days, ref, esc in contacts
            ),
            escalations_total=escalations,
            bot_failures=bot_failures,
            consecutive_clarify=consecutive_clarify,
            minutes_since_staff=minutes_since_staff,
            conversation_state=state,
        ),
        now=now,
        order=the_order,
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def policy_from(tmp_path: Path, text: str, name: str = "policy.yaml") -> Policy:
    return load_policy(write(tmp_path / name, text))


def one_rule(tmp_path: Path, when: str, settings: str = "") -> Policy:
    """A policy whose only rule ``hit`` escalates when ``when`` (YAML flow mapping) holds."""
    block = f"settings: {settings}\n" if settings else ""
    return policy_from(
        tmp_path,
        f"version: 1\n{block}rules:\n  - id: hit\n    when: {when}\n"
        "    then: escalate\ndefault: answer\n",
    )
