"""Policy test cases: a message and the facts around it, and the decision an admin expects.

A case file is a YAML list; each case may give the intent explicitly (then nothing else is
guessed) or leave it to the offline understanding, passed in as ``understand``. A case's
``history.contacts`` lists earlier contacts; the case's own message is one more, about the case's
order when it has one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from policies.engine import decide
from policies.errors import PolicyError
from policies.loader import read_yaml
from policies.model import (
    Action,
    ContactFact,
    CustomerFacts,
    Decision,
    DecisionInput,
    HistoryFacts,
    OrderFacts,
    Signals,
)
from policies.policy import Policy
from policies.yamlnodes import IssueLog, check_keys, describe, item_line, key_line

Understand = Callable[[str, str], Signals]
DEFAULT_NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday, midday
CASE_KEYS = (
    "name", "message", "channel", "intent", "intent_confidence", "sentiment", "needs_person",
    "entities", "now", "customer", "order", "history", "expect",
)  # fmt: skip
CUSTOMER_KEYS = ("verified", "first_contact", "tags", "tier", "lifetime_value", "orders_count")
ORDER_KEYS = (
    "id", "status", "total", "currency", "age_days", "days_since_delivery",
    "belongs_to_customer", "named_in_message",
)  # fmt: skip
HISTORY_KEYS = (
    "contacts", "escalations", "bot_failures", "consecutive_clarify", "minutes_since_staff",
    "conversation_state",
)  # fmt: skip
CONTACT_KEYS = ("days_ago", "order", "escalated")
EXPECT_KEYS = ("action", "rule", "queue", "priority", "template")


@dataclass(frozen=True, slots=True)
class PolicyCase:
    name: str
    message: str
    file: str
    line: int
    expect: Mapping[str, str]
    data: Mapping[str, Any]  # the case as written, validated


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: PolicyCase
    decision: Decision | None
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def load_cases(path: str | Path) -> list[PolicyCase]:
    """Read and validate a case file; raises :class:`PolicyError` with file:line issues."""
    file = Path(path)
    log = IssueLog(str(file))
    data, _raw = read_yaml(file, log)
    if log.issues:
        raise PolicyError(log.issues)
    if not isinstance(data, list):
        log.error(1, f"expected a list of cases, got {describe(data)}")
        raise PolicyError(log.issues)
    cases: list[PolicyCase] = []
    for index, item in enumerate(data):
        line = item_line(data, index, 1)
        case = _case(log, item, f"cases[{index}]", line)
        if case is not None:
            cases.append(case)
    if log.issues:
        raise PolicyError(log.issues)
    return cases


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _case(log: IssueLog, item: object, where: str, line: int) -> PolicyCase | None:
    if not isinstance(item, Mapping):
        log.error(line, f"{where}: expected a case (name, message, expect), got {describe(item)}")
        return None
    before = len(log.issues)
    check_keys(log, item, where, CASE_KEYS, line)
    for key, allowed in (
        ("customer", CUSTOMER_KEYS),
        ("order", ORDER_KEYS),
        ("history", HISTORY_KEYS),
        ("expect", EXPECT_KEYS),
    ):
        sub = item.get(key)
        if sub is None:
            continue
        if not isinstance(sub, Mapping):
            log.error(key_line(item, key, line), f"{where}.{key}: expected a mapping")
            continue
        check_keys(log, sub, f"{where}.{key}", allowed, key_line(item, key, line))
    for key in ("name", "message", "expect"):
        if key not in item:
            log.error(line, f"{where}: missing '{key}:'")
    expect = item.get("expect")
    if isinstance(expect, Mapping):
        action = expect.get("action")
        if action is not None and action not in {a.value for a in Action}:
            log.error(
                key_line(expect, "action", line),
                f"{where}.expect.action: '{action}' is not one of "
                + ", ".join(a.value for a in Action),
            )
        if "action" not in expect and "rule" not in expect:
            log.error(key_line(item, "expect", line), f"{where}.expect: give an action or a rule")
    if len(log.issues) > before:
        return None
    return PolicyCase(
        name=str(item["name"]),
        message=str(item["message"]),
        file=log.file,
        line=line,
        expect={str(k): str(v) for k, v in item["expect"].items()},
        data=_plain(item),
    )


def case_input(case: PolicyCase, understand: Understand | None) -> DecisionInput:
    """The :class:`DecisionInput` a case describes; ``ValueError`` when it cannot be built."""
    d = case.data
    now = _moment(d.get("now"))
    channel = str(d.get("channel", "webchat"))
    given: dict[str, Any] = {
        "intent_confidence": _float(d.get("intent_confidence")),
        "sentiment": _float(d.get("sentiment")),
        "needs_person": d.get("needs_person"),
        "entities": _entities(d.get("entities")),
    }
    if "intent" in d:
        intent = str(d["intent"])
        signals = Signals(text=case.message, channel=channel, intent=intent, intent_confidence=1.0)
    elif understand is not None:
        signals = understand(case.message, channel)
    else:
        raise ValueError("no intent given, and offline understanding is not available")
    overrides = {k: v for k, v in given.items() if v is not None}
    signals = dataclasses.replace(signals, **overrides)
    c = d.get("customer") or {}
    customer = CustomerFacts(
        verified=bool(c.get("verified", False)),
        first_contact=bool(c.get("first_contact", False)),
        tags=tuple(str(t) for t in c.get("tags") or ()),
        tier=None if c.get("tier") is None else str(c["tier"]),
        lifetime_value=float(c.get("lifetime_value", 0.0)),
        orders_count=int(c.get("orders_count", 0)),
    )
    order = _order(d.get("order"))
    h = d.get("history") or {}
    current = ContactFact(at=now, order_ref=None if order is None else order.id)
    earlier = tuple(
        ContactFact(
            at=now - timedelta(days=float(x.get("days_ago", 0))),
            order_ref=None if x.get("order") is None else str(x["order"]),
            escalated=bool(x.get("escalated", False)),
        )
        for x in h.get("contacts") or ()
    )
    history = HistoryFacts(
        recent_contacts=(current, *earlier),
        escalations_total=int(h.get("escalations", 0)),
        bot_failures=int(h.get("bot_failures", 0)),
        consecutive_clarify=int(h.get("consecutive_clarify", 0)),
        minutes_since_staff=_float(h.get("minutes_since_staff")),
        conversation_state=str(h.get("conversation_state", "bot")),
    )
    return DecisionInput(signals, customer, history, now, order)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _entities(value: Any) -> dict[str, tuple[str, ...]] | None:
    if value is None:
        return None
    return {
        str(k): tuple(str(x) for x in (v if isinstance(v, list) else [v])) for k, v in value.items()
    }


def _moment(value: Any) -> datetime:
    if value is None:
        return DEFAULT_NOW
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, 12, 0)
    else:
        moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _order(value: Any) -> OrderFacts | None:
    if value is None:
        return None
    since = value.get("days_since_delivery")
    return OrderFacts(
        id=str(value.get("id", "1001")),
        status=str(value.get("status", "pending")),
        total=float(value.get("total", 0.0)),
        currency=str(value.get("currency", "USD")),
        age_days=float(value.get("age_days", 0.0)),
        days_since_delivery=None if since is None else float(since),
        belongs_to_customer=bool(value.get("belongs_to_customer", True)),
        named_in_message=bool(value.get("named_in_message", False)),
    )


def run_case(policy: Policy, case: PolicyCase, understand: Understand | None) -> CaseResult:
    try:
        inp = case_input(case, understand)
    except (ValueError, TypeError, AttributeError) as exc:
        return CaseResult(case, None, (f"cannot build the case: {exc}",))
    decision = decide(policy, inp)
    failures: list[str] = []
    seen = {
        "action": decision.action.value,
        "rule": decision.rule_id,
        "queue": decision.queue,
        "priority": decision.priority,
        "template": decision.template,
    }
    for key, wanted in case.expect.items():
        if seen[key] != wanted:
            failures.append(f"expected {key} {wanted}, got {seen[key] or 'none'}")
    return CaseResult(case, decision, tuple(failures))


def run_cases(
    policy: Policy, cases: Sequence[PolicyCase], understand: Understand | None = None
) -> list[CaseResult]:
    return [run_case(policy, case, understand) for case in cases]
