"""Reading knowledge entries from a folder of Markdown and YAML files.

Markdown: YAML front matter (``id``, ``title``, ``questions``, ``tags``) between ``---``
lines, then the answer as the body. YAML: ``entries: [{id, title, questions, answer,
tags}]``. A malformed entry raises :class:`KnowledgeError` naming the file and line.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError

SUFFIXES = (".md", ".yaml", ".yml")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class KnowledgeError(ValueError):
    """A malformed knowledge file or entry, with where it is."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class KnowledgeEntry:
    id: str
    title: str
    questions: tuple[str, ...]
    answer: str
    tags: tuple[str, ...] = ()
    source: str = ""  # "path:line" where the entry is written


class _EntryFields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str
    title: str = Field(min_length=1)
    questions: list[str] = Field(default_factory=list)
    answer: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("use lower-case letters, digits, '-' and '_' (e.g. returns-window)")
        return value

    @field_validator("questions", "tags", mode="before")
    @classmethod
    def _string_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return value


def load_entries(folder: Path) -> list[KnowledgeEntry]:
    """Every entry under ``folder`` (recursively), in path order; ids must be unique.

    ``README.md`` files and names starting with ``_`` or ``.`` (drafts, hidden folders)
    are skipped.
    """
    if not folder.is_dir():
        raise KnowledgeError(folder, 0, "not a folder of knowledge entries")
    entries: list[KnowledgeEntry] = []
    seen: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES):
        if not path.is_file() or _skipped(path.relative_to(folder)):
            continue
        found = _read_markdown(path) if path.suffix.lower() == ".md" else _read_yaml(path)
        for line, entry in found:
            if entry.id in seen:
                raise KnowledgeError(
                    path, line, f"duplicate id {entry.id!r} (first defined at {seen[entry.id]})"
                )
            seen[entry.id] = entry.source
            entries.append(entry)
    return entries


def _skipped(relative: Path) -> bool:
    """README files and anything whose name starts with ``_`` or ``.`` are not entries."""
    if relative.name.lower() == "readme.md":
        return True
    return any(part.startswith(("_", ".")) for part in relative.parts)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def _parse_yaml(path: Path, text: str, first_line: int) -> Any:
    try:
        return _yaml().load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + (mark.line if mark is not None else 0)
        raise KnowledgeError(path, line, f"invalid YAML: {exc.problem or exc}") from exc


def _entry(path: Path, line: int, data: Any, body: str | None = None) -> KnowledgeEntry:
    if not isinstance(data, dict):
        raise KnowledgeError(path, line, "an entry must be a mapping of id, title, questions…")
    fields = dict(data)
    if body is not None:
        if "answer" in fields:
            raise KnowledgeError(path, line, "put the answer in the body, not in front matter")
        fields["answer"] = body
    try:
        valid = _EntryFields.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'entry'}: {err['msg']}"
            for err in exc.errors()
        )
        raise KnowledgeError(path, _field_line(data, exc, line), problems) from exc
    return KnowledgeEntry(
        id=valid.id,
        title=valid.title,
        questions=tuple(q for q in valid.questions if q),
        answer=unwrap(valid.answer),
        tags=tuple(valid.tags),
        source=f"{path}:{line}",
    )


def _field_line(data: Any, exc: ValidationError, default: int) -> int:
    """The line of the first field at fault, when the YAML loader recorded it."""
    first = exc.errors()[0]["loc"]
    if isinstance(data, CommentedMap) and first and first[0] in data:
        try:
            return default + int(data.lc.key(first[0])[0]) - int(data.lc.line)
        except (KeyError, TypeError, AttributeError):
            return default
    return default


def _read_markdown(path: Path) -> list[tuple[int, KnowledgeEntry]]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise KnowledgeError(path, 1, "a Markdown entry starts with '---' front matter")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise KnowledgeError(path, 1, "front matter is not closed with '---'") from None
    front = _parse_yaml(path, "\n".join(lines[1:end]), first_line=2)
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise KnowledgeError(path, end + 2, "the answer (the text after front matter) is empty")
    # Front matter starts on line 2; field errors point at the field's own line.
    return [(2, _entry(path, 2, front, body=body))]


def _read_yaml(path: Path) -> list[tuple[int, KnowledgeEntry]]:
    data = _parse_yaml(path, path.read_text(encoding="utf-8"), first_line=1)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise KnowledgeError(path, 1, "a YAML knowledge file holds 'entries:' with a list")
    unknown = sorted(set(data) - {"entries"})
    if unknown:
        raise KnowledgeError(path, 1, f"unknown top-level key(s): {', '.join(unknown)}")
    found = []
    for index, item in enumerate(data["entries"]):
        line = _item_line(data["entries"], index)
        found.append((line, _entry(path, line, item)))
    return found


def _item_line(items: Any, index: int) -> int:
    try:
        return int(items.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return 1


def unwrap(text: str) -> str:
    """Join hard-wrapped lines into paragraphs; keep blank lines and list items apart.

    Entries are written wrapped at ~90 columns; a chat bubble wraps by itself.
    """
    paragraphs: list[str] = []
    for block in text.strip().split("\n\n"):
        lines: list[str] = []
        for raw in block.splitlines():
            line = raw.strip()
            starts_item = line[:2] in ("- ", "* ") or (line[:1].isdigit() and ". " in line[:4])
            if lines and not starts_item:
                lines[-1] = f"{lines[-1]} {line}"
            else:
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)
