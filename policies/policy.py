"""A loaded policy: settings, rules in order, and the default action — all validated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from policies.conditions import Condition
from policies.model import Action
from policies.operators import Check
from policies.settings import PolicySettings

DEFAULT_RULE_ID = "default"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """What a rule does when it matches (``then:``) or what happens when none does."""

    action: Action
    queue: str | None = None  # escalate
    priority: str | None = None  # escalate
    message: str | None = None  # escalate / verify_identity: said to the customer
    question: str | None = None  # clarify
    tools: tuple[str, ...] | None = None  # answer: None means every tool
    template: str | None = None  # answer


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    id: str
    condition: Condition
    then: ActionSpec
    reason: str | None
    description: str | None
    file: str
    line: int


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    rules: tuple[Rule, ...]
    default: ActionSpec
    settings: PolicySettings
    version: str  # hash of the files' content: store it with each decision
    sources: tuple[str, ...] = ()
    default_reason: str | None = None
    checks: tuple[Check, ...] = field(default=())  # rules[i].condition.check, for speed
    # (rule index, check) in policy order: the rules that can match a named intent …
    by_intent: Mapping[str, tuple[tuple[int, Check], ...]] = field(default_factory=dict)
    # … and, for any other intent, the rules that name no intent
    unrestricted: tuple[tuple[int, Check], ...] = ()

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)
