"""`threadline knowledge suggestions …`, run as an admin would, on SQLite and PostgreSQL.

The store is prepared the way production fills it: real escalations through the pipeline,
staff answers through the handoff service, a suggestion made from each resolved handoff.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.handoff import HandoffDeps, claim, resolve, staff_reply
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from memory.demo import KNOWLEDGE_DIR
from memory.handoffs import open_handoff_cards
from memory.knowledge import KnowledgeBase
from memory.knowledge_suggestions import suggest_from_handoff
from tests.bot.harness import Harness
from tests.conftest import DEMO_NOW

ENGRAVE = "Can you engrave initials on the Glow Camp Lantern as a gift?"
RENT = "Do you rent out tents for a weekend trip?"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


async def _answered_questions(url: str, understander: OfflineUnderstander) -> list[tuple[int, int]]:
    """Two customers ask for a person and then their question; alice answers and resolves.

    (suggestion id, handoff id) of each.
    """
    h = await Harness.open(Settings(DATABASE_URL=url), understander, DEMO_NOW)
    runtime, clock = h.runtime, h.clock
    deps = HandoffDeps(runtime.session_factory, clock, runtime.outbox.wake)
    ids = []
    try:
        for user, question, answer in (
            ("anon-engrave", ENGRAVE, "Yes: engraving costs 5 euros per lantern."),
            ("anon-rent", RENT, "We do not, but rentals@partner.example does."),
        ):
            assert (await h.say(user, "I want to talk to a human agent please")).metadata[
                "action"
            ] == "escalate"
            assert await runtime.ingest(h.message(user, question))
            await h.process()
            (card,) = await open_handoff_cards(runtime.read_factory)
            await claim(deps, card["id"], "alice")
            await staff_reply(deps, card["id"], "alice", answer)
            await resolve(deps, card["id"], "alice")
            await h.process()
            async with runtime.session_factory() as session, session.begin():
                suggestion_id = await suggest_from_handoff(session, card["id"], clock())
            assert suggestion_id is not None
            ids.append((suggestion_id, int(card["id"])))
    finally:
        await h.close()
    return ids


@pytest.fixture
def suggested(
    demo_database_url: str, understander: OfflineUnderstander, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[int, int]]:
    monkeypatch.setenv("DATABASE_URL", demo_database_url)
    monkeypatch.setenv("THREADLINE_LOG_LEVEL", "WARNING")
    monkeypatch.delenv("THREADLINE_KNOWLEDGE", raising=False)
    return asyncio.run(_answered_questions(demo_database_url, understander))


@pytest.fixture
def shop_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shop's own knowledge folder (a copy of the demo entries), as the server reads it."""
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    monkeypatch.setenv("THREADLINE_KNOWLEDGE", str(folder))
    return folder


def test_list_show_and_json(suggested: list[tuple[int, int]]) -> None:
    (engrave, _), (rent, _) = suggested
    code, out, _ = run("knowledge", "suggestions")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATE", "HANDOFF", "STAFF", "CREATED", "QUESTION"]
    assert lines[1].startswith(f"{engrave}  ") and "pending" in lines[1] and "alice" in lines[1]
    assert (
        "2026-11-20" in lines[1] and "Can you engrave initials on the Glow Camp Lantern" in lines[1]
    )
    assert lines[2].startswith(f"{rent}  ") and RENT in lines[2]

    code, out, _ = run("knowledge", "suggestions", "show", str(engrave))
    assert code == 0
    assert out.splitlines()[0] == f"suggestion {engrave} (pending)"
    assert f"question:\n  {ENGRAVE}\nanswer:\n  Yes: engraving costs 5 euros per lantern.\n" in out
    assert f"title if accepted: {ENGRAVE}" in out
    assert "edit the entry" not in out
    code, out, _ = run("knowledge", "suggestions", "show", str(rent))
    assert "answer:\n  We do not, but [email] does.\n" in out
    assert "the answer has [email] in it: edit the entry after accepting" in out

    code, out, _ = run("knowledge", "suggestions", "--json")
    listed = json.loads(out)
    assert [(s["id"], s["state"], s["question"], s["staff"]) for s in listed] == [
        (engrave, "pending", ENGRAVE, "alice"),
        (rent, "pending", RENT, "alice"),
    ]

    code, _, err = run("knowledge", "suggestions", "show", "999")
    assert code == 1 and "there is no suggestion 999" in err


def test_accept_needs_a_folder_of_the_shops_own(suggested: list[tuple[int, int]]) -> None:
    code, _, err = run("knowledge", "suggestions", "accept", str(suggested[0][0]))
    assert code == 1
    assert "give --to DIR or set THREADLINE_KNOWLEDGE" in err
    code, _, err = run(
        "knowledge", "suggestions", "accept", str(suggested[0][0]), "--to", str(KNOWLEDGE_DIR)
    )
    assert code == 1 and "demo shop entries" in err
    assert sorted(p.name for p in KNOWLEDGE_DIR.iterdir() if p.name.startswith("can-")) == []


def test_accept_into_the_configured_folder_then_reject_the_other(
    suggested: list[tuple[int, int]], shop_folder: Path
) -> None:
    (engrave, _), (rent, rent_handoff) = suggested
    code, out, err = run(
        "knowledge",
        "suggestions",
        "accept",
        str(engrave),
        "--title",
        "Do you engrave lanterns?",
        "--as",
        "sam",
    )
    assert code == 0, err
    path = shop_folder / "do-you-engrave-lanterns.md"
    assert out.splitlines()[:3] == [
        f"accepted suggestion {engrave} as knowledge entry 'do-you-engrave-lanterns'",
        f"  file:  {path}",
        "  title: Do you engrave lanterns?",
    ]
    assert "Running servers answer from it within a second" in out
    best = KnowledgeBase.load(shop_folder).search(ENGRAVE)[0]
    assert (best.entry.id, best.entry.answer) == (
        "do-you-engrave-lanterns",
        "Yes: engraving costs 5 euros per lantern.",
    )

    code, _, err = run("knowledge", "suggestions", "accept", str(engrave))
    assert code == 1 and f"suggestion {engrave} is already accepted (by sam" in err

    code, out, _ = run("knowledge", "suggestions", "reject", str(rent), "--as", "sam")
    assert (code, out) == (0, f"rejected suggestion {rent} (handoff {rent_handoff})\n")
    assert run("knowledge", "suggestions")[1] == "no pending suggestions\n"
    code, out, _ = run("knowledge", "suggestions", "--all", "--json")
    states = {s["id"]: (s["state"], s["decided_by"], s["entry_path"]) for s in json.loads(out)}
    assert states == {engrave: ("accepted", "sam", str(path)), rent: ("rejected", "sam", None)}


def test_accept_into_another_folder_says_the_server_does_not_read_it(
    suggested: list[tuple[int, int]], shop_folder: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, _ = run(
        "knowledge", "suggestions", "accept", str(suggested[1][0]), "--to", str(elsewhere)
    )
    assert code == 0
    assert f"Note: the server reads {shop_folder} (THREADLINE_KNOWLEDGE), not this folder." in out
    assert "it still says [email] where personal data was removed" in out
    assert [p.name for p in elsewhere.iterdir()] == ["do-you-rent-out-tents-for-a-weekend-trip.md"]
