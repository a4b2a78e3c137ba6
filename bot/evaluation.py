"""Evaluate understanding plus policy on labelled messages: would the bot escalate the right ones?

Each row is a customer message and the handling it should get:

- ``ESCALATE_EXPLICIT``: the customer asks for a person; the bot must escalate;
- ``ANSWER_FAQ``, ``ANSWER_ORDER_DATA``: answerable from the knowledge base or the customer's
  orders; the bot must not escalate;
- ``COMPLAINT_POLICY_DEPENDENT``, ``TRANSACTION_POLICY_DEPENDENT``, ``IN_SCOPE_INTENT`` and any
  other label: what happens is the shop's policy; reported, not scored.

Every message is understood, then decided with a neutral context: a verified returning customer,
no order in question, no earlier contacts, on a weekday afternoon.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policies.model import (
    Action,
    CustomerFacts,
    Decision,
    DecisionInput,
    HistoryFacts,
    Signals,
)

MUST_ESCALATE = frozenset({"ESCALATE_EXPLICIT"})
MUST_NOT_ESCALATE = frozenset({"ANSWER_FAQ", "ANSWER_ORDER_DATA"})
ACTIONS = tuple(a.value for a in Action)
NEUTRAL_MOMENT = datetime(2026, 1, 14, 15, 0, tzinfo=UTC)  # a Wednesday afternoon
NEUTRAL_CUSTOMER = CustomerFacts(
    verified=True, first_contact=False, orders_count=3, lifetime_value=180.0
)
EVAL_CHANNEL = "webchat"
MAX_EXAMPLES = 10

Understand = Callable[[str, str], Signals]
DecideFn = Callable[[DecisionInput], Decision]


class EvalFileError(ValueError):
    """The CSV cannot be evaluated (missing columns, unreadable)."""


@dataclass(frozen=True, slots=True)
class EvalRow:
    text: str
    label: str


@dataclass(frozen=True, slots=True)
class Miss:
    """A row handled against its label, with what the bot understood and decided."""

    text: str
    label: str
    intent: str
    confidence: float
    action: str
    rule_id: str


@dataclass(frozen=True, slots=True)
class EvalReport:
    rows: int
    confusion: Mapping[str, Mapping[str, int]]  # label -> action -> count
    intents: Mapping[str, Mapping[str, int]]  # label -> intent -> count
    escalated_explicit: int  # ESCALATE_EXPLICIT rows escalated (true positives)
    explicit_total: int
    escalated_answerable: int  # ANSWER_* rows escalated (false escalations)
    answerable_total: int
    escalated_other: int  # policy-dependent rows escalated (not scored)
    answered: int
    false_escalation_rules: Mapping[str, int]
    missed_escalations: tuple[Miss, ...] = ()
    false_escalations: tuple[Miss, ...] = ()
    understand_ms_median: float = 0.0
    understand_ms_p95: float = 0.0
    moment: datetime = field(default=NEUTRAL_MOMENT)

    @property
    def escalation_recall(self) -> float | None:
        return _ratio(self.escalated_explicit, self.explicit_total)

    @property
    def escalation_precision(self) -> float | None:
        """Among escalations of rows with a definite expectation, the share that were right."""
        return _ratio(self.escalated_explicit, self.escalated_explicit + self.escalated_answerable)

    @property
    def escalation_precision_all(self) -> float | None:
        """Among every escalation, policy-dependent rows included, the share asked for a person."""
        total = self.escalated_explicit + self.escalated_answerable + self.escalated_other
        return _ratio(self.escalated_explicit, total)

    @property
    def false_escalation_rate(self) -> float | None:
        return _ratio(self.escalated_answerable, self.answerable_total)

    @property
    def answer_rate(self) -> float | None:
        return _ratio(self.answered, self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "escalation_precision": self.escalation_precision,
            "escalation_precision_all": self.escalation_precision_all,
            "escalation_recall": self.escalation_recall,
            "false_escalation_rate": self.false_escalation_rate,
            "answer_rate": self.answer_rate,
            "counts": {
                "escalated_explicit": self.escalated_explicit,
                "explicit_total": self.explicit_total,
                "escalated_answerable": self.escalated_answerable,
                "answerable_total": self.answerable_total,
                "escalated_policy_dependent": self.escalated_other,
                "answered": self.answered,
            },
            "confusion": {label: dict(row) for label, row in self.confusion.items()},
            "intents": {label: dict(row) for label, row in self.intents.items()},
            "false_escalation_rules": dict(self.false_escalation_rules),
            "missed_escalations": [_miss_json(m) for m in self.missed_escalations],
            "false_escalations": [_miss_json(m) for m in self.false_escalations],
            "understand_ms": {
                "median": round(self.understand_ms_median, 3),
                "p95": round(self.understand_ms_p95, 3),
            },
            "context": {
                "customer": "verified, returning",
                "order": None,
                "history": "none",
                "now": self.moment.isoformat(),
            },
        }


def read_rows(path: Path) -> list[EvalRow]:
    """Rows of a CSV with at least the columns ``text`` and ``decision``."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in ("text", "decision") if c not in columns]
            if missing:
                raise EvalFileError(
                    f"{path}: missing column(s) {', '.join(missing)}; "
                    f"found {', '.join(columns) or 'none'}"
                )
            rows = []
            for raw in reader:
                record = {(k or "").strip(): (v or "") for k, v in raw.items()}
                text, label = record["text"].strip(), record["decision"].strip()
                if text and label:
                    rows.append(EvalRow(text, label))
            return rows
    except OSError as exc:
        raise EvalFileError(f"{path}: cannot read the file: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise EvalFileError(f"{path}: not a readable UTF-8 CSV file: {exc}") from exc


def neutral_input(signals: Signals, now: datetime = NEUTRAL_MOMENT) -> DecisionInput:
    """The decision input used for every row: nothing but the message itself is known."""
    return DecisionInput(
        signals=signals, customer=NEUTRAL_CUSTOMER, history=HistoryFacts(), now=now, order=None
    )


def evaluate(
    rows: Iterable[EvalRow],
    understand: Understand,
    decide_fn: DecideFn,
    *,
    now: datetime = NEUTRAL_MOMENT,
) -> EvalReport:
    """Understand and decide every row; count what was escalated and answered per label."""
    confusion: dict[str, Counter[str]] = {}
    intents: dict[str, Counter[str]] = {}
    rules: Counter[str] = Counter()
    missed: list[Miss] = []
    false: list[Miss] = []
    timings: list[float] = []
    total = answered = explicit = explicit_hit = answerable = answerable_hit = other_hit = 0
    for row in rows:
        started = time.perf_counter()
        signals = understand(row.text, EVAL_CHANNEL)
        timings.append((time.perf_counter() - started) * 1000)
        decision = decide_fn(neutral_input(signals, now))
        action = decision.action.value
        total += 1
        confusion.setdefault(row.label, Counter())[action] += 1
        intents.setdefault(row.label, Counter())[signals.intent] += 1
        escalated = decision.action is Action.ESCALATE
        answered += decision.action is Action.ANSWER
        miss = Miss(
            row.text, row.label, signals.intent, signals.intent_confidence, action, decision.rule_id
        )
        if row.label in MUST_ESCALATE:
            explicit += 1
            explicit_hit += escalated
            if not escalated:
                missed.append(miss)
        elif row.label in MUST_NOT_ESCALATE:
            answerable += 1
            answerable_hit += escalated
            if escalated:
                false.append(miss)
                rules[decision.rule_id] += 1
        else:
            other_hit += escalated
    return EvalReport(
        rows=total,
        confusion=_ordered(confusion, ACTIONS),
        intents={label: dict(counts.most_common()) for label, counts in sorted(intents.items())},
        escalated_explicit=explicit_hit,
        explicit_total=explicit,
        escalated_answerable=answerable_hit,
        answerable_total=answerable,
        escalated_other=other_hit,
        answered=answered,
        false_escalation_rules=dict(rules.most_common()),
        missed_escalations=tuple(missed),
        false_escalations=tuple(false),
        understand_ms_median=statistics.median(timings) if timings else 0.0,
        understand_ms_p95=_percentile(timings, 0.95),
        moment=now,
    )


def format_report(report: EvalReport, *, show_misses: int = MAX_EXAMPLES) -> str:
    """The report as text for a terminal."""
    decided = report.escalated_explicit + report.escalated_answerable
    lines = [
        f"rows: {report.rows}",
        f"escalation recall (ESCALATE_EXPLICIT escalated):   {_pct(report.escalation_recall)}"
        f"  ({report.escalated_explicit}/{report.explicit_total})",
        f"escalation precision (vs ANSWER_* escalated):      {_pct(report.escalation_precision)}"
        f"  ({report.escalated_explicit}/{decided})",
        f"escalation precision (vs every escalation):        "
        f"{_pct(report.escalation_precision_all)}",
        f"false escalation rate (ANSWER_FAQ + ANSWER_ORDER_DATA): "
        f"{_pct(report.false_escalation_rate)}"
        f"  ({report.escalated_answerable}/{report.answerable_total})",
        f"answer rate (all rows): {_pct(report.answer_rate)}  ({report.answered}/{report.rows})",
        f"understanding time per message: median {report.understand_ms_median:.2f} ms, "
        f"p95 {report.understand_ms_p95:.2f} ms",
        "",
        "label × action",
        *_table(report.confusion),
    ]
    if report.false_escalation_rules:
        lines += ["", "rules behind false escalations:"]
        lines += [f"  {rule}: {n}" for rule, n in report.false_escalation_rules.items()]
    for title, misses in (
        ("missed escalations", report.missed_escalations),
        ("false escalations", report.false_escalations),
    ):
        if misses and show_misses > 0:
            lines += ["", f"{title} (first {min(show_misses, len(misses))} of {len(misses)}):"]
            lines += [
                f"  [{m.intent} {m.confidence:.2f} → {m.action} by {m.rule_id}] {m.text}"
                for m in misses[:show_misses]
            ]
    return "\n".join(lines)


def _table(confusion: Mapping[str, Mapping[str, int]]) -> list[str]:
    width = max([len("label"), *(len(label) for label in confusion)])
    header = f"{'label':<{width}} " + " ".join(f"{a:>15}" for a in ACTIONS) + f" {'total':>7}"
    out = [header, "-" * len(header)]
    for label, row in confusion.items():
        cells = " ".join(f"{row.get(a, 0):>15}" for a in ACTIONS)
        out.append(f"{label:<{width}} {cells} {sum(row.values()):>7}")
    return out


def _ordered(
    table: Mapping[str, Counter[str]], columns: tuple[str, ...]
) -> dict[str, dict[str, int]]:
    return {label: {c: table[label].get(c, 0) for c in columns} for label in sorted(table)}


def _miss_json(miss: Miss) -> dict[str, Any]:
    return {
        "text": miss.text,
        "label": miss.label,
        "intent": miss.intent,
        "confidence": miss.confidence,
        "action": miss.action,
        "rule_id": miss.rule_id,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
