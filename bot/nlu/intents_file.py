"""The intents file: example phrases per intent, in YAML that admins extend.

```yaml
version: 1
include_shipped: false      # true: start from the shipped intents, then add these
intents:
  order_status:
    description: Where an order is and what state it is in
    examples:
      - where is my order
      - has my order shipped yet
    patterns:               # optional regular expressions that decide the intent outright
      - '\\bstatus of (my|the) order\\b'
```

Every problem is reported as an :class:`IntentsFileError` naming the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

SHIPPED_INTENTS = Path(__file__).resolve().parent.parent.parent / "policies/default/intents.yaml"
INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
TOP_KEYS = frozenset({"version", "include_shipped", "intents"})
INTENT_KEYS = frozenset({"description", "examples", "patterns"})
MIN_EXAMPLES = 2


class IntentsFileError(ValueError):
    """A problem in an intents file, with the file and the 1-based line it is on."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class IntentSpec:
    name: str
    description: str
    examples: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True, slots=True)
class IntentCatalog:
    """Every intent the offline understanding knows, in file order."""

    intents: tuple[IntentSpec, ...]
    sources: tuple[Path, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.intents)

    def get(self, name: str) -> IntentSpec | None:
        return next((spec for spec in self.intents if spec.name == name), None)


def load_intents(path: Path) -> IntentCatalog:
    """Read and validate an intents file (and the shipped one, when it asks to include it)."""
    data = _read_yaml(path)
    if not isinstance(data, CommentedMap):
        raise IntentsFileError(path, 1, "the file must be a mapping with an 'intents' key")
    _check_keys(path, data, TOP_KEYS, "top level")
    version = data.get("version", 1)
    if version != 1:
        raise IntentsFileError(path, _line_of(data, "version"), f"unknown version {version!r}")
    include = data.get("include_shipped", False)
    if not isinstance(include, bool):
        raise IntentsFileError(
            path, _line_of(data, "include_shipped"), "'include_shipped' must be true or false"
        )
    intents = data.get("intents")
    if not isinstance(intents, CommentedMap) or not intents:
        raise IntentsFileError(
            path, _line_of(data, "intents"), "'intents' must be a mapping of intent names"
        )
    specs = [_parse_intent(path, intents, name) for name in intents]
    if not include or path.resolve() == SHIPPED_INTENTS:
        return IntentCatalog(tuple(specs), (path,))
    shipped = load_intents(SHIPPED_INTENTS)
    return IntentCatalog(_merge(shipped.intents, specs), (SHIPPED_INTENTS, path))


def _merge(base: tuple[IntentSpec, ...], extra: list[IntentSpec]) -> tuple[IntentSpec, ...]:
    """Add examples and patterns of ``extra`` to ``base``; new intents go at the end."""
    merged = {spec.name: spec for spec in base}
    for spec in extra:
        old = merged.get(spec.name)
        if old is None:
            merged[spec.name] = spec
            continue
        merged[spec.name] = IntentSpec(
            name=spec.name,
            description=spec.description or old.description,
            examples=old.examples + tuple(e for e in spec.examples if e not in old.examples),
            patterns=old.patterns + spec.patterns,
        )
    return tuple(merged.values())


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IntentsFileError(path, None, f"cannot read the file: {exc.strerror}") from exc
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise IntentsFileError(path, line, f"invalid YAML: {problem}") from exc
    except YAMLError as exc:
        raise IntentsFileError(path, None, f"invalid YAML: {exc}") from exc


def _parse_intent(path: Path, intents: CommentedMap, name: object) -> IntentSpec:
    line = _line_of(intents, name)
    if not isinstance(name, str) or not INTENT_NAME.match(name):
        raise IntentsFileError(
            path, line, f"intent name {name!r} must be lower-case letters, digits and '_'"
        )
    body = intents[name]
    if not isinstance(body, CommentedMap):
        raise IntentsFileError(
            path, line, f"intent '{name}' must be a mapping with 'examples' (and 'description')"
        )
    _check_keys(path, body, INTENT_KEYS, f"intent '{name}'")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise IntentsFileError(
            path, _line_of(body, "description"), f"intent '{name}': description must be text"
        )
    examples = _strings(path, body, "examples", name)
    if len(examples) < MIN_EXAMPLES:
        raise IntentsFileError(
            path,
            _line_of(body, "examples") or line,
            f"intent '{name}' needs at least {MIN_EXAMPLES} examples, found {len(examples)}",
        )
    patterns = tuple(
        _compile(path, body, name, index, raw)
        for index, raw in enumerate(_strings(path, body, "patterns", name))
    )
    return IntentSpec(name, description.strip(), tuple(examples), patterns)


def _strings(path: Path, body: CommentedMap, key: str, intent: str) -> list[str]:
    raw = body.get(key)
    if raw is None:
        return []
    if not isinstance(raw, CommentedSeq):
        raise IntentsFileError(
            path, _line_of(body, key), f"intent '{intent}': '{key}' must be a list of texts"
        )
    out: list[str] = []
    for index, item in enumerate(raw):
        if not isinstance(item, str) or not item.strip():
            raise IntentsFileError(
                path,
                _item_line(raw, index),
                f"intent '{intent}': {key} item {index + 1} must be non-empty text, got {item!r}",
            )
        out.append(item.strip())
    return out


def _compile(path: Path, body: CommentedMap, intent: str, index: int, raw: str) -> re.Pattern[str]:
    try:
        return re.compile(raw, re.IGNORECASE)
    except re.error as exc:
        seq = body["patterns"]
        raise IntentsFileError(
            path,
            _item_line(seq, index),
            f"intent '{intent}': pattern {index + 1} is not a valid regular expression: {exc}",
        ) from exc


def _check_keys(path: Path, data: CommentedMap, allowed: frozenset[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise IntentsFileError(
                path, _line_of(data, key), f"unknown key {key!r} at {where} (known: {known})"
            )


def _line_of(data: Mapping[Any, Any], key: object) -> int | None:
    if not isinstance(data, CommentedMap):
        return None
    try:
        position = data.lc.key(key)
    except (KeyError, TypeError):
        return None
    return int(position[0]) + 1


def _item_line(seq: CommentedSeq, index: int) -> int | None:
    try:
        return int(seq.lc.item(index)[0]) + 1
    except (KeyError, TypeError, IndexError):
        return None
