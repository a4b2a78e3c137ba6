"""`threadline knowledge suggestions …`: review staff answers offered as knowledge entries.

The store modules are imported by the commands that use them: every `threadline` command
loads this module, and the knowledge search library is not worth loading for the others.

Exit codes: 0 done, 1 refused (the reason is printed), 2 usage.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import utcnow
from bot.settings import Settings
from memory.demo import KNOWLEDGE_DIR

if TYPE_CHECKING:
    from memory.knowledge_suggestions import Suggestion

T = TypeVar("T")
QUESTION_WIDTH = 60
RELOAD_NOTE = "Running servers answer from it within a second: they watch this folder."


def _default_admin() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "admin"


def _refuse(reason: str) -> NoReturn:
    click.echo(f"refused: {reason}", err=True)
    sys.exit(1)


def _with_store(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Run ``work`` against the configured database (migrated to the current schema)."""
    from bot.cli import require_schema
    from memory.db import create_null_pool_engine, make_session_factory
    from memory.knowledge_suggestions import SuggestionError

    async def go() -> T:
        await require_schema(settings)
        engine = create_null_pool_engine(settings.database_url)
        try:
            return await work(make_session_factory(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except SuggestionError as exc:
        _refuse(str(exc))


def _settings() -> Settings:
    from bot.cli import load_settings

    return load_settings()


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns as wide as their widest cell."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    return [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    ]


@click.group()
def knowledge() -> None:
    """The knowledge base: staff answers suggested as entries."""


@knowledge.group(invoke_without_command=True)
@click.option("--all", "every_state", is_flag=True, help="Accepted and rejected ones too.")
@click.option("--json", "as_json", is_flag=True, help="One JSON list, full texts.")
@click.pass_context
def suggestions(ctx: click.Context, every_state: bool, as_json: bool) -> None:
    """List suggested entries (pending ones unless --all); see show, accept, reject."""
    if ctx.invoked_subcommand is not None:
        return
    from memory.knowledge_suggestions import STATES, list_suggestions

    states = STATES if every_state else ("pending",)
    found = _with_store(_settings(), lambda f: list_suggestions(f, states=states))
    if as_json:
        click.echo(json.dumps([s.as_json() for s in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("no suggestions" if every_state else "no pending suggestions")
        return
    rows = [
        (
            str(s.id),
            s.state,
            str(s.handoff_id),
            s.staff,
            _when(s.created_at),
            _one_line(s.question or "(no question found)", QUESTION_WIDTH),
        )
        for s in found
    ]
    for line in table(("ID", "STATE", "HANDOFF", "STAFF", "CREATED", "QUESTION"), rows):
        click.echo(line)
    if not every_state:
        click.echo("\nread one with `threadline knowledge suggestions show ID`")


@suggestions.command()
@click.argument("suggestion_id", type=int, metavar="ID")
def show(suggestion_id: int) -> None:
    """Show the whole question and answer of suggestion ID."""
    from memory.knowledge_suggestions import get_suggestion

    found = _with_store(_settings(), lambda f: get_suggestion(f, suggestion_id))
    for line in describe(found):
        click.echo(line)


def describe(s: Suggestion) -> list[str]:
    from memory.knowledge_suggestions import default_title
    from memory.personal_data import placeholders_in

    lines = [
        f"suggestion {s.id} ({s.state})",
        f"  handoff {s.handoff_id}, conversation {s.conversation_id}, answered by {s.staff} "
        f"on {_when(s.created_at)}",
    ]
    if s.state != "pending":
        lines.append(f"  {s.state} by {s.decided_by} on {_when(s.decided_at)}")
    if s.entry_path:
        lines.append(f"  entry: {s.entry_path}")
    lines.append("question:")
    lines += [f"  {q}" for q in s.questions] or ["  (no question found)"]
    lines.append("answer:")
    lines += [f"  {line}" if line else "" for line in s.answer.splitlines()]
    left = placeholders_in(s.answer)
    if left and s.state == "pending":
        lines.append(f"the answer has {', '.join(left)} in it: edit the entry after accepting")
    if s.state == "pending":
        lines.append(f"title if accepted: {default_title(s.question) or '(give one with --title)'}")
    return lines


@suggestions.command()
@click.argument("suggestion_id", type=int, metavar="ID")
@click.option("--title", default=None, help="The entry's title (default: from the question).")
@click.option(
    "--to",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Knowledge folder to write into (default: THREADLINE_KNOWLEDGE).",
)
@click.option("--as", "by", default=None, help="Your name for the record (default: login).")
def accept(suggestion_id: int, title: str | None, folder: Path | None, by: str | None) -> None:
    """Write suggestion ID as a knowledge entry; mark it accepted."""
    from memory.knowledge_suggestions import accept_suggestion
    from memory.personal_data import placeholders_in

    settings = _settings()
    destination = _destination(folder, settings.knowledge_path)
    admin = by or _default_admin()
    done = _with_store(
        settings,
        lambda f: accept_suggestion(
            f, suggestion_id, folder=destination, by=admin, now=utcnow(), title=title
        ),
    )
    click.echo(f"accepted suggestion {suggestion_id} as knowledge entry {done.entry_id!r}")
    click.echo(f"  file:  {done.path}")
    click.echo(f"  title: {done.title}")
    left = placeholders_in(done.suggestion.answer)
    if left:
        click.echo(
            f"Edit the answer before customers see it: it still says {', '.join(left)} "
            "where personal data was removed, and answers are sent as written."
        )
    served = settings.knowledge_path
    if served is None or served.resolve() != destination.resolve():
        click.echo(
            f"Note: the server reads {served if served else 'the demo shop entries'} "
            "(THREADLINE_KNOWLEDGE), not this folder."
        )
    else:
        click.echo(RELOAD_NOTE)


def _destination(folder: Path | None, configured: Path | None) -> Path:
    destination = folder or configured
    if destination is None:
        _refuse(
            "no knowledge folder to write into: give --to DIR or set THREADLINE_KNOWLEDGE "
            "to your shop's folder (the demo entries shipped with Threadline are not written to)"
        )
    if destination.resolve() == KNOWLEDGE_DIR.resolve():
        _refuse(
            f"{destination} holds the demo shop entries shipped with Threadline; copy them to "
            "a folder of your own, point THREADLINE_KNOWLEDGE at it and accept into that"
        )
    return destination


@suggestions.command()
@click.argument("suggestion_id", type=int, metavar="ID")
@click.option("--as", "by", default=None, help="Your name for the record (default: login).")
def reject(suggestion_id: int, by: str | None) -> None:
    """Mark suggestion ID rejected: it stays out of the knowledge base."""
    from memory.knowledge_suggestions import reject_suggestion

    admin = by or _default_admin()
    done = _with_store(
        _settings(), lambda f: reject_suggestion(f, suggestion_id, by=admin, now=utcnow())
    )
    click.echo(f"rejected suggestion {done.id} (handoff {done.handoff_id})")
