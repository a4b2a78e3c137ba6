"""`threadline outcomes` on a store filled by real conversations (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.clock import utcnow
from bot.handoff import HandoffDeps, claim, resolve, staff_reply
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from memory.handoffs import open_handoff_cards
from tests.bot.harness import Harness
from tests.conftest import DEMO_NOW

ASK_FOR_PERSON = "I want to talk to a human agent please"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


async def _four_conversations(url: str, understander: OfflineUnderstander) -> None:
    """One the bot answers; one staff resolve and the customer rates 5; one staff resolve
    and the customer comes back two hours later; one still waiting for staff."""
    h = await Harness.open(Settings(DATABASE_URL=url), understander, DEMO_NOW)
    runtime, clock = h.runtime, h.clock
    deps = HandoffDeps(runtime.session_factory, clock, runtime.outbox.wake)

    async def staff_resolved(user: str) -> None:
        assert (await h.say(user, ASK_FOR_PERSON)).metadata["action"] == "escalate"
        (card,) = await open_handoff_cards(runtime.read_factory)
        handoff_id = card["id"]
        await claim(deps, handoff_id, "alice")
        await staff_reply(deps, handoff_id, "alice", "Done: your address is updated.")
        await resolve(deps, handoff_id, "alice")
        await h.process()

    try:
        assert (await h.say("anon-bot", "How long does shipping take?")).metadata[
            "action"
        ] == "answer"
        await staff_resolved("anon-rated")
        clock.now += timedelta(minutes=5)
        assert (await h.say("anon-rated", "5")).text.startswith("Thank you for rating us 5/5")
        await staff_resolved("anon-back")
        clock.now += timedelta(hours=2)
        await h.say("anon-back", "How long does shipping take?")
        assert (await h.say("anon-waiting", ASK_FOR_PERSON)).metadata["action"] == "escalate"
    finally:
        await h.close()


@pytest.fixture
def days(
    demo_database_url: str, understander: OfflineUnderstander, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The store with four conversations; the --days that reaches back to them."""
    monkeypatch.setenv("DATABASE_URL", demo_database_url)
    monkeypatch.setenv("THREADLINE_LOG_LEVEL", "WARNING")
    asyncio.run(_four_conversations(demo_database_url, understander))
    return str(max(1, (utcnow() - DEMO_NOW).days + 2))


def test_outcomes_table_counts_bot_staff_reopened_and_ratings(days: str) -> None:
    code, out, err = run("outcomes", "--days", days)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"Conversations started in the last {days} days (since ")
    assert lines[2:9] == [
        "  conversations           4",
        "  resolved by the bot     1  25%",
        "  handed to staff         3  75%",
        "  resolved by staff       2  50%",
        "  reopened within 7 days  1  50% of staff-resolved",
        "  ratings                 1  average 5.0/5",
        "",
    ]


def test_outcomes_json_and_reopen_window(days: str) -> None:
    code, out, _ = run("outcomes", "--days", days, "--reopen-days", "3", "--json")
    assert code == 0
    numbers = json.loads(out)
    del numbers["since"]
    assert numbers == {
        "conversations": 4,
        "resolved_by_bot": 1,
        "resolved_by_staff": 2,
        "escalated": 3,
        "reopened_within_days": 3,
        "reopened": 1,
        "ratings": 1,
        "average_rating": 5.0,
    }


def test_outcomes_refuse_an_unmigrated_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    code, _, err = run("outcomes")
    assert code == 1 and "run `threadline migrate` first" in err
