"""`threadline outcomes`: how conversations ended, from the store.

Resolved by the bot (never handed to a person), resolved by staff, how many of those the
customer came back to within a few days (on any channel), and the ratings given.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import click

from bot.clock import utcnow
from bot.settings import Settings


@click.command()
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Conversations started in the last DAYS days.",
)
@click.option(
    "--reopen-days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="A customer writing again within this many days of a staff resolve counts as reopened.",
)
@click.option("--json", "as_json", is_flag=True, help="The numbers as one JSON object.")
def outcomes(days: int, reopen_days: int, as_json: bool) -> None:
    """Resolved by the bot or by staff, reopened, and ratings."""
    from bot.cli import load_settings

    settings = load_settings()
    since = utcnow() - timedelta(days=days)
    numbers = asyncio.run(_outcomes(settings, since, reopen_days))
    if as_json:
        click.echo(json.dumps({"since": since.isoformat(), **numbers}, indent=2))
        return
    for line in describe(numbers, since=since, days=days):
        click.echo(line)


async def _outcomes(settings: Settings, since: datetime, reopen_days: int) -> dict[str, Any]:
    from bot.cli import require_schema
    from memory.db import create_null_pool_engine, make_read_session_factory
    from memory.handoffs import conversation_outcomes

    await require_schema(settings)
    engine = create_null_pool_engine(settings.database_url)
    try:
        return await conversation_outcomes(
            make_read_session_factory(engine), since=since, reopen_days=reopen_days
        )
    finally:
        await engine.dispose()


def _share(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "-"


def describe(numbers: dict[str, Any], *, since: datetime, days: int) -> list[str]:
    """The outcomes as a small table, with each count's share."""
    total = int(numbers["conversations"])
    by_staff = int(numbers["resolved_by_staff"])
    average = numbers["average_rating"]
    rows = [
        ("conversations", str(total), ""),
        (
            "resolved by the bot",
            str(numbers["resolved_by_bot"]),
            _share(numbers["resolved_by_bot"], total),
        ),
        ("handed to staff", str(numbers["escalated"]), _share(numbers["escalated"], total)),
        ("resolved by staff", str(by_staff), _share(by_staff, total)),
        (
            f"reopened within {numbers['reopened_within_days']} days",
            str(numbers["reopened"]),
            f"{_share(numbers['reopened'], by_staff)} of staff-resolved" if by_staff else "",
        ),
        ("ratings", str(numbers["ratings"]), f"average {average}/5" if average is not None else ""),
    ]
    label = max(len(r[0]) for r in rows)
    count = max(len(r[1]) for r in rows)
    return [
        f"Conversations started in the last {days} days (since {since:%Y-%m-%d %H:%M} UTC)",
        "",
        *(
            f"  {name.ljust(label)}  {value.rjust(count)}  {note}".rstrip()
            for name, value, note in rows
        ),
        "",
        "Resolved by the bot: never handed to a person (including conversations still open).",
    ]
