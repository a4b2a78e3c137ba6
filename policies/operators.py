"""Comparison operators of conditions: gt, gte, lt, lte, eq, ne, in, not_in."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, cast

from policies.catalog import Getter
from policies.model import DecisionInput
from policies.yamlnodes import is_number

Check = Callable[[DecisionInput], bool]
Test = Callable[[object], bool]

SYMBOLS = {
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "eq": "=",
    "ne": "!=",
    "in": "in",
    "not_in": "not in",
}
ORDERING = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
NUMBER_OPS = tuple(SYMBOLS)
TEXT_OPS = ("eq", "ne", "in", "not_in")


def comparison(op: str, target: Any) -> Test:
    if op in ORDERING:
        compare = ORDERING[op]
        return lambda v: v is not None and bool(compare(cast(Any, v), target))
    if op == "eq":
        return lambda v: bool(v == target)
    if op == "ne":
        return lambda v: bool(v != target)
    members = frozenset(target)
    if op == "in":
        return lambda v: v in members
    return lambda v: v not in members


def direct(read: Getter, op: str, target: Any) -> Check:
    """One comparison fused with its reader: one closure call per condition in ``decide()``."""
    get = cast(Callable[[DecisionInput], Any], read)
    if op == "eq":
        return lambda i: bool(get(i) == target)
    if op == "ne":
        return lambda i: bool(get(i) != target)
    if op == "in":
        members = frozenset(target)
        return lambda i: get(i) in members
    if op == "not_in":
        excluded = frozenset(target)
        return lambda i: get(i) not in excluded
    if op == "gt":
        return lambda i: (v := get(i)) is not None and v > target
    if op == "gte":
        return lambda i: (v := get(i)) is not None and v >= target
    if op == "lt":
        return lambda i: (v := get(i)) is not None and v < target
    return lambda i: (v := get(i)) is not None and v <= target


def joined(tests: list[Test]) -> Test:
    if len(tests) == 1:
        return tests[0]
    return lambda v: all(t(v) for t in tests)


def fmt(value: object) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def comparisons(value: object) -> list[tuple[str, Any]] | None:
    """The (operator, target) pairs of an already validated comparison, targets normalized."""
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [("in", value)]
    else:
        pairs = [("eq", value)]
    result: list[tuple[str, Any]] = []
    for op, target in pairs:
        value = [normal(t) for t in target] if isinstance(target, list) else normal(target)
        result.append((str(op), value))
    return result


def normal(value: object) -> object:
    if is_number(value):
        return float(cast(float, value))
    return str(value)
