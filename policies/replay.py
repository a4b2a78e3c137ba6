"""Re-decide stored inputs under a changed policy and report what would change."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from policies.engine import decide
from policies.model import Action, DecisionInput
from policies.policy import Policy

EXAMPLES_PER_FLIP = 3


@dataclass(frozen=True, slots=True)
class Flip:
    """Decisions that moved from one rule/action to another, with a few example messages."""

    old_rule: str
    old_action: Action
    new_rule: str
    new_action: Action
    count: int
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplayReport:
    total: int
    changed: int
    flips: tuple[Flip, ...]  # most frequent first
    answered_before: float  # share of decisions that were `answer`, 0..1
    answered_after: float
    escalated_before: float
    escalated_after: float
    old_version: str
    new_version: str

    def render(self) -> str:
        """A plain-text report for the terminal."""
        lines = [
            f"Replayed {self.total} decision(s): policy {self.old_version} → {self.new_version}",
            f"Changed: {self.changed} ({_pct(self.changed, self.total)})",
            f"Answered by the bot: {self.answered_before:.1%} before, "
            f"{self.answered_after:.1%} after",
            f"Escalated to a person: {self.escalated_before:.1%} before, "
            f"{self.escalated_after:.1%} after",
        ]
        if self.flips:
            lines.append("")
            lines.append("Flips (old rule → new rule):")
            for flip in self.flips:
                lines.append(
                    f"  {flip.count:>5}  {flip.old_rule} ({flip.old_action}) → "
                    f"{flip.new_rule} ({flip.new_action})"
                )
                lines.extend(f"         e.g. {_short(text)!r}" for text in flip.examples)
        return "\n".join(lines)


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "0.0%"


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def replay(old_policy: Policy, new_policy: Policy, inputs: Iterable[DecisionInput]) -> ReplayReport:
    """Decide every input under both policies; pure, like :func:`decide`."""
    counts: Counter[tuple[str, Action, str, Action]] = Counter()
    examples: defaultdict[tuple[str, Action, str, Action], list[str]] = defaultdict(list)
    total = answered_old = answered_new = escalated_old = escalated_new = 0
    for inp in inputs:
        total += 1
        old = decide(old_policy, inp)
        new = decide(new_policy, inp)
        answered_old += old.action is Action.ANSWER
        answered_new += new.action is Action.ANSWER
        escalated_old += old.action is Action.ESCALATE
        escalated_new += new.action is Action.ESCALATE
        if old.rule_id == new.rule_id and old.action is new.action:
            continue
        key = (old.rule_id, old.action, new.rule_id, new.action)
        counts[key] += 1
        if len(examples[key]) < EXAMPLES_PER_FLIP:
            examples[key].append(inp.signals.text)
    flips = tuple(
        Flip(k[0], k[1], k[2], k[3], n, tuple(examples[k]))
        for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][2]))
    )
    share = (lambda n: n / total) if total else (lambda n: 0.0)
    return ReplayReport(
        total=total,
        changed=sum(counts.values()),
        flips=flips,
        answered_before=share(answered_old),
        answered_after=share(answered_new),
        escalated_before=share(escalated_old),
        escalated_after=share(escalated_new),
        old_version=old_policy.version,
        new_version=new_policy.version,
    )
