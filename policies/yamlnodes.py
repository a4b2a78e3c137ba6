"""Reading ruamel.yaml nodes with their line numbers, and collecting issues per file."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from policies.errors import PolicyIssue


class IssueLog:
    """Issues found while reading one file; ``line`` arguments are 1-based."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[PolicyIssue] = []

    def error(self, line: int, message: str) -> None:
        self.issues.append(PolicyIssue(self.file, line, message))


def line_of(node: object, default: int = 0) -> int:
    lc = getattr(node, "lc", None)
    return int(lc.line) + 1 if lc is not None else default


def key_line(mapping: object, key: object, default: int = 0) -> int:
    lc = getattr(mapping, "lc", None)
    if lc is None:
        return default
    try:
        return int(lc.key(key)[0]) + 1
    except (KeyError, TypeError, AttributeError):
        return line_of(mapping, default)


def item_line(seq: object, index: int, default: int = 0) -> int:
    lc = getattr(seq, "lc", None)
    if lc is None:
        return default
    try:
        return int(lc.item(index)[0]) + 1
    except (KeyError, TypeError, AttributeError, IndexError):
        return line_of(seq, default)


def suggest(word: str, names: Iterable[str]) -> str:
    """`` (did you mean 'intent'?)`` when a known name is close to ``word``, else ``""``."""
    options = list(names)
    by_tail = [n for n in options if n.rsplit(".", 1)[-1] == word]
    if by_tail:
        return f" (did you mean '{by_tail[0]}'?)"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def describe(value: object) -> str:
    """How an admin would name the type of a YAML value."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_keys(
    log: IssueLog, node: Mapping[Any, Any], where: str, allowed: Iterable[str], line: int
) -> None:
    """Report every key of ``node`` that is not in ``allowed``."""
    names = list(allowed)
    for key in node:
        if key not in names:
            log.error(
                key_line(node, key, line),
                f"{where}: unknown key '{key}'{suggest(str(key), names)}"
                f" (allowed: {', '.join(names)})",
            )
