"""Which rules can match a given intent, computed once per policy so ``decide()`` skips the rest.

Most rules name the intents they are about (``intent: refund_request``). For each intent the
index keeps, in policy order, the rules that name it plus the rules that name no intent at all;
first match wins exactly as if every rule were tried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from policies.conditions import Condition, Leaf
from policies.operators import Check

Plan = tuple[tuple[int, Check], ...]


def intents_of(condition: Condition) -> frozenset[str] | None:
    """The intents without which ``condition`` cannot hold; None when any intent may do."""
    if isinstance(condition, Leaf):
        return condition.only if condition.name == "intent" else None
    if condition.op == "not":
        return None
    parts = [intents_of(child) for child in condition.children]
    if condition.op == "any":
        if any(part is None for part in parts):
            return None
        return frozenset().union(*(p for p in parts if p is not None))
    narrowed = [p for p in parts if p is not None]
    if not narrowed:
        return None
    return frozenset.intersection(*narrowed)


def build_index(conditions: Sequence[Condition]) -> tuple[Mapping[str, Plan], Plan]:
    """(plan per named intent, plan for every other intent); a plan is (rule index, check)."""
    limits = [intents_of(c) for c in conditions]
    named = sorted({intent for limit in limits if limit is not None for intent in limit})
    pairs = list(zip(conditions, limits, strict=True))
    unrestricted = tuple((i, c.check) for i, (c, limit) in enumerate(pairs) if limit is None)
    by_intent = {
        intent: tuple(
            (i, c.check) for i, (c, limit) in enumerate(pairs) if limit is None or intent in limit
        )
        for intent in named
    }
    return by_intent, unrestricted
