"""Plain-text views of a policy and its decisions, for the admin CLI."""

from __future__ import annotations

from collections.abc import Iterable

from policies.conditions import leaves
from policies.errors import PolicyIssue
from policies.model import Decision, DecisionInput
from policies.policy import DEFAULT_RULE_ID, Policy


def summary(policy: Policy) -> str:
    default = policy.default.action.value
    return (
        f"{len(policy.rules)} rules, default {default}, version {policy.version} "
        f"({', '.join(policy.sources)})"
    )


def unknown_intents(policy: Policy, known: Iterable[str]) -> list[PolicyIssue]:
    """Intent names the rules compare against that the understanding never produces."""
    names = set(known)
    found: list[PolicyIssue] = []
    for rule in policy.rules:
        for leaf in leaves(rule.condition):
            if leaf.name != "intent":
                continue
            for word in leaf.literals:
                if word not in names:
                    found.append(
                        PolicyIssue(
                            rule.file,
                            rule.line,
                            f"rule '{rule.id}': intent '{word}' is not one the understanding "
                            "knows, so this comparison never matches",
                        )
                    )
    return found


def _cell(value: object) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def _days(value: float) -> str:
    whole = round(value)
    return f"{whole} day" if whole == 1 else f"{whole} days"


def describe_input(inp: DecisionInput) -> str:
    s, c, o = inp.signals, inp.customer, inp.order
    lines = [
        f"Message:  {s.text!r} on {s.channel}",
        f"Signals:  intent {s.intent} ({s.intent_confidence:.2f}), sentiment {s.sentiment:+.2f}, "
        f"needs_person {_cell(s.needs_person)}, entities "
        + (", ".join(f"{k}={'/'.join(v)}" for k, v in s.entities.items() if v) or "none"),
        f"Customer: verified {_cell(c.verified)}, first contact {_cell(c.first_contact)}, "
        f"tags {_cell(list(c.tags))}, lifetime value {c.lifetime_value:g}",
        "Order:    none"
        if o is None
        else f"Order:    {o.id} {o.status}, total {o.total:g} {o.currency}, "
        f"{_days(o.age_days)} old"
        + (
            ""
            if o.days_since_delivery is None
            else f", delivered {_days(o.days_since_delivery)} ago"
        ),
        f"Time:     {inp.now.isoformat(timespec='minutes')}",
    ]
    return "\n".join(lines)


def describe_decision(decision: Decision) -> str:
    parts = [f"Decision: {decision.action.value} (rule {decision.rule_id})"]
    if decision.queue:
        parts.append(f"queue {decision.queue}, priority {decision.priority}")
    if decision.template:
        parts.append(f"template {decision.template}")
    if decision.tools is not None:
        parts.append(f"tools {', '.join(decision.tools)}")
    lines = [" — ".join(parts)]
    lines.extend(f"  because: {reason}" for reason in decision.reasons)
    return "\n".join(lines)


def trace_table(decision: Decision) -> str:
    """Every traced rule and condition: what it expected, what it saw, whether it held."""
    rows: list[tuple[str, str, str, str]] = [("RULE / CONDITION", "EXPECTED", "SEEN", "OK")]
    for rule in decision.trace:
        decides = rule.rule_id == decision.rule_id
        marker = "→ " if decides else "  "
        verdict = "DECIDES" if decides else ("matched" if rule.matched else "no match")
        rows.append((f"{marker}{rule.rule_id}", "", "", verdict))
        for line in rule.conditions:
            rows.append(
                (
                    f"      {line.condition}",
                    str(line.expected),
                    _cell(line.seen),
                    "yes" if line.ok else "no",
                )
            )
    if decision.rule_id == DEFAULT_RULE_ID:
        rows.append(("→ default", "", "", "DECIDES"))
    widths = [min(max(len(r[i]) for r in rows), 48) for i in range(3)]
    out = []
    for r in rows:
        cells = [r[i][: widths[i]].ljust(widths[i]) for i in range(3)]
        out.append("  ".join([*cells, r[3]]).rstrip())
    return "\n".join(out)
