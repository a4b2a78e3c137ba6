"""JSON form of :class:`DecisionInput`, stored with every decision so it can be replayed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from policies.model import (
    ContactFact,
    CustomerFacts,
    DecisionInput,
    HistoryFacts,
    OrderFacts,
    Signals,
)

FORMAT = 1


def _time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _parse_time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def input_to_json(inp: DecisionInput) -> dict[str, Any]:
    """A JSON-ready dict (only str, numbers, bools, None, lists and dicts)."""
    s, c, h, o = inp.signals, inp.customer, inp.history, inp.order
    return {
        "format": FORMAT,
        "now": _time(inp.now),
        "signals": {
            "text": s.text,
            "channel": s.channel,
            "intent": s.intent,
            "intent_confidence": s.intent_confidence,
            "entities": {k: list(v) for k, v in s.entities.items()},
            "sentiment": s.sentiment,
            "needs_person": s.needs_person,
            "source": s.source,
        },
        "customer": {
            "verified": c.verified,
            "first_contact": c.first_contact,
            "tags": list(c.tags),
            "tier": c.tier,
            "lifetime_value": c.lifetime_value,
            "orders_count": c.orders_count,
        },
        "history": {
            "recent_contacts": [
                {"at": _time(x.at), "order_ref": x.order_ref, "escalated": x.escalated}
                for x in h.recent_contacts
            ],
            "escalations_total": h.escalations_total,
            "bot_failures": h.bot_failures,
            "consecutive_clarify": h.consecutive_clarify,
            "minutes_since_staff": h.minutes_since_staff,
            "conversation_state": h.conversation_state,
        },
        "order": None
        if o is None
        else {
            "id": o.id,
            "status": o.status,
            "total": o.total,
            "currency": o.currency,
            "age_days": o.age_days,
            "days_since_delivery": o.days_since_delivery,
            "belongs_to_customer": o.belongs_to_customer,
            "named_in_message": o.named_in_message,
        },
    }


def input_from_json(data: Mapping[str, Any]) -> DecisionInput:
    """The inverse of :func:`input_to_json`; raises ``ValueError`` on a malformed record."""
    try:
        return _from_json(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a stored decision input: {exc!r}") from exc


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _from_json(data: Mapping[str, Any]) -> DecisionInput:
    s, c, h, o = data["signals"], data["customer"], data.get("history") or {}, data.get("order")
    signals = Signals(
        text=str(s["text"]),
        channel=str(s["channel"]),
        intent=str(s["intent"]),
        intent_confidence=float(s["intent_confidence"]),
        entities={str(k): tuple(str(x) for x in v) for k, v in (s.get("entities") or {}).items()},
        sentiment=float(s.get("sentiment", 0.0)),
        needs_person=bool(s.get("needs_person", False)),
        source=str(s.get("source", "offline")),
    )
    customer = CustomerFacts(
        verified=bool(c["verified"]),
        first_contact=bool(c["first_contact"]),
        tags=tuple(str(t) for t in c.get("tags") or ()),
        tier=None if c.get("tier") is None else str(c["tier"]),
        lifetime_value=float(c.get("lifetime_value", 0.0)),
        orders_count=int(c.get("orders_count", 0)),
    )
    history = HistoryFacts(
        recent_contacts=tuple(
            ContactFact(
                at=_parse_time(x["at"]),
                order_ref=None if x.get("order_ref") is None else str(x["order_ref"]),
                escalated=bool(x.get("escalated", False)),
            )
            for x in h.get("recent_contacts") or ()
        ),
        escalations_total=int(h.get("escalations_total", 0)),
        bot_failures=int(h.get("bot_failures", 0)),
        consecutive_clarify=int(h.get("consecutive_clarify", 0)),
        minutes_since_staff=_optional_float(h.get("minutes_since_staff")),
        conversation_state=str(h.get("conversation_state", "bot")),
    )
    order = None
    if o is not None:
        order = OrderFacts(
            id=str(o["id"]),
            status=str(o["status"]),
            total=float(o["total"]),
            currency=str(o["currency"]),
            age_days=float(o["age_days"]),
            days_since_delivery=_optional_float(o.get("days_since_delivery")),
            belongs_to_customer=bool(o["belongs_to_customer"]),
            named_in_message=bool(o["named_in_message"]),
        )
    return DecisionInput(
        signals=signals,
        customer=customer,
        history=history,
        now=_parse_time(data["now"]),
        order=order,
    )
