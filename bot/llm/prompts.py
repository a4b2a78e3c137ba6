"""Prompt files operators can edit: the shipped ones, overridden file by file from a folder.

``system.md`` (the reply's instructions, with ``$facts``), ``context.md`` (the quoted customer
context, with ``$context``), ``understand.md`` (intent JSON, with ``$intents``) and
``summarize.md``. Placeholders use ``$name``; a file that drops one is used as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

SHIPPED_PROMPTS = Path(__file__).resolve().parent / "prompts"
PROMPT_NAMES = ("system", "context", "understand", "summarize")


class PromptError(ValueError):
    """A prompt file that cannot be used (missing, empty or unreadable)."""


@dataclass(frozen=True, slots=True)
class Prompts:
    system: str
    context: str
    understand: str
    summarize: str

    @classmethod
    def load(cls, override: Path | None = None) -> Prompts:
        """The shipped prompts, each replaced by ``override/<name>.md`` when that file exists."""
        if override is not None and not override.is_dir():
            raise PromptError(f"{override}: not a folder of prompt files")
        texts: dict[str, str] = {}
        for name in PROMPT_NAMES:
            path = SHIPPED_PROMPTS / f"{name}.md"
            if override is not None and (override / f"{name}.md").is_file():
                path = override / f"{name}.md"
            try:
                text = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise PromptError(f"{path}: cannot read: {exc}") from exc
            if not text:
                raise PromptError(f"{path}: the prompt is empty")
            texts[name] = text
        return cls(**texts)

    def render(self, name: str, **fields: str) -> str:
        """Prompt ``name`` with its ``$placeholders`` filled (unknown ones left as written)."""
        text: str = getattr(self, name)
        return Template(text).safe_substitute(fields)
