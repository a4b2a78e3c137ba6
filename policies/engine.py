"""``decide()``: the pure function from one message's inputs to a :class:`Decision`.

No I/O and no clock: the moment is ``inp.now``. Rules are tried in order and the first whose
conditions hold decides; when none does, the policy's default does.
"""

from __future__ import annotations

from policies.model import Action, ConditionTrace, Decision, DecisionInput, RuleTrace
from policies.policy import DEFAULT_RULE_ID, ActionSpec, Policy, Rule


def decide(policy: Policy, inp: DecisionInput, *, full_trace: bool = False) -> Decision:
    """Decide what to do with one message.

    ``trace`` holds the rule that decided, with every condition it checked; with
    ``full_trace=True`` it holds every rule of the policy (slower: for explaining).
    """
    matched: Rule | None = None
    for index, check in policy.by_intent.get(inp.signals.intent, policy.unrestricted):
        if check(inp):
            matched = policy.rules[index]
            break
    if full_trace:
        trace = tuple(rule_trace(rule, inp) for rule in policy.rules)
        winner = next((t for t in trace if t.rule_id == matched.id), None) if matched else None
    else:
        winner = rule_trace(matched, inp) if matched is not None else None
        trace = (winner,) if winner is not None else ()
    if matched is None:
        reason = policy.default_reason or "No rule matched, so the policy's default applies"
        return _decision(policy, inp, policy.default, DEFAULT_RULE_ID, [reason], trace)
    reasons = [matched.reason or f"Rule '{matched.id}' matched"]
    if winner is not None:
        reasons.extend(_fact(c) for c in winner.conditions if c.ok and not c.group)
    return _decision(policy, inp, matched.then, matched.id, reasons, trace)


def rule_trace(rule: Rule, inp: DecisionInput) -> RuleTrace:
    """Every condition of ``rule``: what it expected, what it saw, whether it held."""
    lines: list[ConditionTrace] = []
    held = rule.condition.trace(inp, lines)
    return RuleTrace(rule.id, held, tuple(lines))


def explain(policy: Policy, inp: DecisionInput) -> Decision:
    """The decision with the trace of every rule, for admins."""
    return decide(policy, inp, full_trace=True)


def _fact(line: ConditionTrace) -> str:
    seen = line.seen
    shown = "missing" if seen is None else seen
    if isinstance(seen, bool):
        shown = "true" if seen else "false"
    return f"{line.condition} was {shown} (rule wants {line.expected})"


def _decision(
    policy: Policy,
    inp: DecisionInput,
    spec: ActionSpec,
    rule_id: str,
    reasons: list[str],
    trace: tuple[RuleTrace, ...],
) -> Decision:
    action = spec.action
    if action is Action.CLARIFY and inp.history.consecutive_clarify >= 1:
        fallback = policy.settings.clarify_fallback
        reasons.append(
            f"The bot already asked to clarify {inp.history.consecutive_clarify} time(s) in a row, "
            "so a person takes over instead of asking again"
        )
        return Decision(
            action=Action.ESCALATE,
            rule_id=rule_id,
            reasons=tuple(reasons),
            queue=fallback.queue,
            priority=fallback.priority,
            customer_message=fallback.message,
            trace=trace,
        )
    if action is Action.CLARIFY:
        return Decision(
            action=action,
            rule_id=rule_id,
            reasons=tuple(reasons),
            question=spec.question,
            trace=trace,
        )
    return Decision(
        action=action,
        rule_id=rule_id,
        reasons=tuple(reasons),
        queue=spec.queue,
        priority=spec.priority,
        customer_message=spec.message,
        tools=spec.tools,
        template=spec.template,
        trace=trace,
    )
