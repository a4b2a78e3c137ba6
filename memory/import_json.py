"""Threadline's own JSON import format (``docs/import.md``), validated entry by entry.

Every entry keeps the line where it starts in the file, so errors point at it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from memory.import_records import (
    CustomerRecord,
    OrderRecord,
    ParsedFile,
    ProductRecord,
    RowError,
    describe_validation_error,
)


class ImportFileError(ValueError):
    """The whole file cannot be read (unknown extension, not JSON, no header…)."""


SECTIONS: dict[str, type[CustomerRecord] | type[ProductRecord] | type[OrderRecord]] = {
    "customers": CustomerRecord,
    "products": ProductRecord,
    "orders": OrderRecord,
}


def parse_threadline_json(text: str, name: str = "file") -> ParsedFile:
    """Validate a Threadline JSON file entry by entry, keeping each entry's line."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    parsed = ParsedFile()
    for section, line, entry in _entries_with_lines(text, parsed.errors):
        model = SECTIONS[section]
        try:
            record = model.model_validate(entry)
        except ValidationError as exc:
            label = _entry_label(section, entry)
            parsed.errors.append(RowError(line, f"{label}: {describe_validation_error(exc)}"))
            continue
        parsed.add(line, record)
    return parsed


def _entry_label(section: str, entry: Any) -> str:
    singular = section.rstrip("s")
    if isinstance(entry, dict):
        for key in ("id", "email", "sku"):
            if isinstance(entry.get(key), str | int):
                return f"{singular} {entry[key]}"
    return singular


def _entries_with_lines(text: str, errors: list[RowError]) -> Iterator[tuple[str, int, Any]]:
    """Walk the top-level object and yield (section, line, entry) for each array element.

    Uses the standard decoder's ``raw_decode`` at known offsets, so every entry keeps the
    line where it starts.
    """
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if pos >= len(text) or text[pos] != "{":
        errors.append(RowError(_line_of(text, pos), "the file must be a JSON object"))
        return
    pos = _skip_ws(text, pos + 1)
    while pos < len(text) and text[pos] != "}":
        key_line = _line_of(text, pos)
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, _skip_ws(text, pos) + 1)  # past ':'
        if key in SECTIONS and text[pos] == "[":
            pos = _skip_ws(text, pos + 1)
            while text[pos] != "]":
                line = _line_of(text, pos)
                entry, pos = decoder.raw_decode(text, pos)
                yield key, line, entry
                pos = _skip_ws(text, pos)
                if text[pos] == ",":
                    pos = _skip_ws(text, pos + 1)
            pos += 1
        else:
            _value, pos = decoder.raw_decode(text, pos)
            if key in SECTIONS:
                errors.append(RowError(key_line, f"{key!r} must be a list"))
            elif key not in ("version", "shop"):
                errors.append(RowError(key_line, f"unknown section {key!r} was ignored"))
        pos = _skip_ws(text, pos)
        if text[pos] == ",":
            pos = _skip_ws(text, pos + 1)


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1
