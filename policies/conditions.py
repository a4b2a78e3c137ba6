"""Rule conditions: compiled from YAML into small closures once, evaluated by ``decide()``.

A condition is a tree: leaves compare one value read from the input (``order.total: {gt: 200}``),
groups combine them (``all``, ``any``, ``not``). Each node has a fast ``check`` closure for
deciding and can ``trace`` itself for explaining: which value each leaf saw and whether it held.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policies.catalog import CONDITIONS, GROUPS, ConditionKind, Getter, Kind
from policies.durations import format_duration, parse_duration
from policies.model import ConditionTrace, DecisionInput
from policies.operators import (
    NUMBER_OPS,
    SYMBOLS,
    TEXT_OPS,
    Check,
    Test,
    comparison,
    comparisons,
    direct,
    fmt,
    joined,
)
from policies.settings import WEEKDAYS, PolicySettings
from policies.yamlnodes import IssueLog, describe, is_number, key_line, line_of, suggest


@dataclass(frozen=True, slots=True, eq=False)
class Leaf:
    name: str
    expected: str
    read: Getter
    test: Test
    check: Check
    literals: tuple[str, ...] = ()  # the words compared against (intent names, statuses, …)
    only: frozenset[str] | None = None  # holds only when the value is one of these (eq / in)

    def trace(self, inp: DecisionInput, lines: list[ConditionTrace], prefix: str = "") -> bool:
        """Append what this condition saw to ``lines``; return whether it held."""
        seen = self.read(inp)
        ok = self.test(seen)
        lines.append(ConditionTrace(prefix + self.name, self.expected, _shown(seen), ok))
        return ok


@dataclass(frozen=True, slots=True, eq=False)
class Group:
    op: str  # all | any | not
    children: tuple[Condition, ...]
    check: Check
    implicit: bool = False  # several keys in one mapping: traced as plain lines

    def trace(self, inp: DecisionInput, lines: list[ConditionTrace], prefix: str = "") -> bool:
        """Append every leaf (and a line for this group) to ``lines``; return whether it held."""
        inner = prefix if self.implicit else f"{prefix}{self.op} › "
        held = sum(child.trace(inp, lines, inner) for child in self.children)
        total = len(self.children)
        ok = held == total if self.op == "all" else held > 0 if self.op == "any" else held == 0
        if self.implicit:
            return ok
        if self.op == "not":
            expected, seen = "does not hold", "held" if held else "did not hold"
        else:
            expected = f"all {total} hold" if self.op == "all" else "at least 1 holds"
            seen = f"{held} of {total} held"
        lines.append(ConditionTrace(prefix + self.op, expected, seen, ok, group=True))
        return ok


Condition = Leaf | Group


def _shown(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def all_of(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda inp: first(inp) and second(inp)
    items = tuple(checks)

    def check(inp: DecisionInput) -> bool:
        for item in items:  # noqa: SIM110 - a plain loop is faster than all() on a generator
            if not item(inp):
                return False
        return True

    return check


def any_of(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]
    items = tuple(checks)

    def check(inp: DecisionInput) -> bool:
        for item in items:  # noqa: SIM110 - a plain loop is faster than any() on a generator
            if item(inp):
                return True
        return False

    return check


class ConditionCompiler:
    """Turns the ``when:`` mapping of one rule into a :data:`Condition`, logging issues."""

    def __init__(self, log: IssueLog, settings: PolicySettings, settings_given: set[str]) -> None:
        self.log = log
        self.settings = settings
        self.settings_given = settings_given

    def compile(self, node: object, where: str, line: int, *, top: bool = True) -> Condition | None:
        if not isinstance(node, Mapping) or not node:
            self.log.error(line, f"{where}: expected a mapping of conditions, got {describe(node)}")
            return None
        parts: list[Condition] = []
        ok = True
        for key, value in node.items():
            at = key_line(node, key, line)
            part = self._one(str(key), value, f"{where}.{key}", at, where)
            if part is None:
                ok = False
            else:
                parts.append(part)
        if not ok:
            return None
        if len(parts) == 1:
            return parts[0]
        return Group("all", tuple(parts), all_of([p.check for p in parts]), implicit=top)

    def _one(
        self, name: str, value: object, where: str, line: int, parent: str
    ) -> Condition | None:
        if name in ("all", "any"):
            return self._group(name, value, where, line)
        if name == "not":
            inner = self.compile(value, where, line_of(value, line), top=False)
            if inner is None:
                return None
            inner_check = inner.check
            return Group("not", (inner,), lambda inp: not inner_check(inp))
        kind = CONDITIONS.get(name)
        if kind is None:
            hint = suggest(name, [*CONDITIONS, *GROUPS])
            self.log.error(line, f"{parent}: unknown condition '{name}'{hint}")
            return None
        if kind.needs is not None and kind.needs not in self.settings_given:
            self.log.error(line, f"{where}: needs settings.{kind.needs} to be set")
            return None
        return self._leaf(kind, value, where, line)

    def _group(self, op: str, value: object, where: str, line: int) -> Condition | None:
        if not isinstance(value, list) or not value:
            self.log.error(line, f"{where}: expected a list of conditions, got {describe(value)}")
            return None
        children: list[Condition] = []
        for index, item in enumerate(value):
            child = self.compile(item, f"{where}[{index}]", line_of(item, line + index), top=False)
            if child is None:
                return None
            children.append(child)
        checks = [c.check for c in children]
        return Group(op, tuple(children), all_of(checks) if op == "all" else any_of(checks))

    def _leaf(self, kind: ConditionKind, value: object, where: str, line: int) -> Leaf | None:
        if kind.kind is Kind.WINDOW:
            return self._window(kind, value, where, line)
        if kind.kind is Kind.KEYWORDS:
            return self._text_search(kind, value, where, line, keywords=True)
        if kind.kind is Kind.PATTERN:
            return self._text_search(kind, value, where, line, keywords=False)
        assert kind.getter is not None
        read = kind.getter(self.settings)
        built = self._test(kind, value, where, line)
        if built is None:
            return None
        test, expected = built
        words = tuple(_words(value)) if kind.kind is Kind.TEXT else ()
        check: Check = lambda i: test(read(i))  # noqa: E731
        only: frozenset[str] | None = None
        pairs = comparisons(value) if kind.kind in (Kind.TEXT, Kind.NUMBER) else None
        if pairs is not None and len(pairs) == 1:
            op, target = pairs[0]
            check = direct(read, op, target)
            if kind.kind is Kind.TEXT and op in ("eq", "in"):
                only = frozenset(words)
        elif kind.kind is Kind.BOOL:
            flag = value
            check = lambda i: read(i) is flag  # noqa: E731
        return Leaf(kind.name, expected, read, test, check, words, only)

    def _test(
        self, kind: ConditionKind, value: object, where: str, line: int
    ) -> tuple[Test, str] | None:
        if kind.kind is Kind.BOOL:
            if not isinstance(value, bool):
                self.log.error(line, f"{where}: expected true or false, got {describe(value)}")
                return None
            flag = value
            return (lambda v: v is flag), fmt(flag)
        if kind.kind is Kind.WEEKDAY:
            return self._weekdays(value, where, line)
        if kind.kind is Kind.TAGS:
            return self._tags(value, where, line)
        return self._compare(kind.kind, value, where, line)

    def _compare(self, kind: Kind, value: object, where: str, line: int) -> tuple[Test, str] | None:
        wanted = "a number" if kind is Kind.NUMBER else "a word"
        fits = is_number if kind is Kind.NUMBER else (lambda v: isinstance(v, str))
        ops: Mapping[Any, Any]
        if isinstance(value, Mapping):
            ops = value
        elif isinstance(value, list):
            ops = {"in": value}
        else:
            ops = {"eq": value}
        if not ops:
            self.log.error(line, f"{where}: expected {wanted} or comparisons, got an empty mapping")
            return None
        allowed = NUMBER_OPS if kind is Kind.NUMBER else TEXT_OPS
        tests: list[Test] = []
        labels: list[str] = []
        for op, target in ops.items():
            at = key_line(ops, op, line)
            if op not in allowed:
                self.log.error(
                    at,
                    f"{where}: unknown operator '{op}'{suggest(str(op), allowed)}"
                    f" (allowed: {', '.join(allowed)})",
                )
                return None
            if op in ("in", "not_in"):
                if not isinstance(target, list) or not target or not all(map(fits, target)):
                    self.log.error(at, f"{where}.{op}: expected a list of {wanted}s")
                    return None
                target = [float(t) if kind is Kind.NUMBER else str(t) for t in target]
            elif not fits(target):
                self.log.error(at, f"{where}.{op}: expected {wanted}, got {describe(target)}")
                return None
            else:
                target = float(target) if kind is Kind.NUMBER else str(target)
            tests.append(comparison(str(op), target))
            labels.append(f"{SYMBOLS[str(op)]} {fmt(_shown(target))}")
        return joined(tests), " and ".join(labels)

    def _tags(self, value: object, where: str, line: int) -> tuple[Test, str] | None:
        if isinstance(value, str):
            tag = value
            return (lambda v: tag in v), f"has {tag}"
        op, tags = ("in", value)
        if isinstance(value, Mapping) and len(value) == 1:
            op, tags = next(iter(value.items()))
        if op not in ("in", "not_in") or not isinstance(tags, list) or not tags:
            self.log.error(
                line,
                f"{where}: expected a tag, a list of tags, or {{in: [...]}} / {{not_in: [...]}}",
            )
            return None
        wanted = frozenset(str(t) for t in tags)
        if op == "in":
            return (lambda v: not wanted.isdisjoint(v)), f"has any of {fmt(sorted(wanted))}"
        return (lambda v: wanted.isdisjoint(v)), f"has none of {fmt(sorted(wanted))}"

    def _weekdays(self, value: object, where: str, line: int) -> tuple[Test, str] | None:
        items = value if isinstance(value, list) else [value]
        days: set[int] = set()
        for item in items:
            parsed = parse_days(item)
            if parsed is None:
                self.log.error(
                    line,
                    f"{where}: {item!r} is not a day (use mon, tue, wed, thu, fri, sat, sun"
                    " or a range like mon-fri)",
                )
                return None
            days.update(parsed)
        chosen = frozenset(WEEKDAYS[d] for d in days)
        return (lambda v: v in chosen), fmt([WEEKDAYS[d] for d in sorted(days)])

    def _window(self, kind: ConditionKind, value: object, where: str, line: int) -> Leaf | None:
        if not isinstance(value, Mapping) or "within" not in value:
            self.log.error(
                line,
                f"{where}: expected a window and a comparison, e.g. {{within: 7d, gte: 3}}",
            )
            return None
        within_line = key_line(value, "within", line)
        try:
            within = parse_duration(str(value["within"]))
        except ValueError as exc:
            self.log.error(within_line, f"{where}.within: {exc}")
            return None
        ops = {k: v for k, v in value.items() if k != "within"}
        if not ops:
            self.log.error(line, f"{where}: add a comparison next to 'within', e.g. gte: 3")
            return None
        built = self._compare(Kind.NUMBER, ops, where, line)
        if built is None:
            return None
        test, expected = built
        assert kind.counter is not None
        read = kind.counter(within)
        label = f"within {format_duration(within)}: {expected}"
        return Leaf(kind.name, label, read, test, lambda i: test(read(i)))

    def _text_search(
        self, kind: ConditionKind, value: object, where: str, line: int, *, keywords: bool
    ) -> Leaf | None:
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(i, str) and i.strip() for i in items):
            what = "words or phrases" if keywords else "regular expressions"
            self.log.error(line, f"{where}: expected one or a list of {what}")
            return None
        if keywords:
            alternatives = "|".join(re.escape(str(i).strip()) for i in items)
            source = rf"(?<!\w)(?:{alternatives})(?!\w)"
            expected = "any of " + ", ".join(f"'{i}'" for i in items)
        else:
            source = "|".join(f"(?:{i})" for i in items)
            expected = "matches " + " or ".join(f"/{i}/" for i in items)
            for item in items:
                try:
                    re.compile(str(item))
                except re.error as exc:
                    self.log.error(line, f"{where}: {item!r} is not a valid pattern: {exc}")
                    return None
        search = re.compile(source, re.IGNORECASE).search

        def read(inp: DecisionInput) -> object:
            found = search(inp.signals.text)
            return None if found is None else found.group(0)

        return Leaf(
            kind.name,
            expected,
            read,
            lambda v: v is not None,
            lambda inp: search(inp.signals.text) is not None,
        )


def _words(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, Mapping):
        return [w for v in value.values() for w in _words(v)]
    return []


def leaves(condition: Condition) -> list[Leaf]:
    """Every leaf of a condition tree, in order."""
    if isinstance(condition, Leaf):
        return [condition]
    return [leaf for child in condition.children for leaf in leaves(child)]


def parse_days(item: object) -> set[int] | None:
    """``"mon-fri"`` → {0..4}; ``"sat"`` → {5}; anything else → None."""
    if not isinstance(item, str):
        return None
    text = item.strip().lower()
    if "-" in text:
        first, _, last = text.partition("-")
        if first not in WEEKDAYS or last not in WEEKDAYS:
            return None
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last)
        if start <= end:
            return set(range(start, end + 1))
        return set(range(start, 7)) | set(range(0, end + 1))
    if text not in WEEKDAYS:
        return None
    return {WEEKDAYS.index(text)}
