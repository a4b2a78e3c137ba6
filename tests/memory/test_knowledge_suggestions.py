"""Staff answers become suggested knowledge entries (SQLite and PostgreSQL).

Each scenario drives a real escalation through the pipeline and a real claim, reply and
resolve through the handoff service, then suggests from the handoff in its own transaction.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.handoff import HandoffDeps, claim, note, resolve, staff_reply
from memory.demo import KNOWLEDGE_DIR
from memory.handoffs import open_handoff_cards
from memory.knowledge import RECOMMENDED_THRESHOLD, KnowledgeBase
from memory.knowledge_files import load_entries
from memory.knowledge_suggestions import (
    SuggestionDecided,
    SuggestionError,
    SuggestionNotFound,
    accept_suggestion,
    get_suggestion,
    list_suggestions,
    reject_suggestion,
    suggest_from_handoff,
)
from memory.models import Customer, Handoff, KnowledgeSuggestion, Order
from memory.personal_data import PersonalData, scrub
from tests.bot.harness import Harness

ASK_FOR_PERSON = "I want to talk to a human agent please"


def deps(h: Harness) -> HandoffDeps:
    return HandoffDeps(h.runtime.session_factory, h.clock, h.runtime.outbox.wake)


async def write(h: Harness, user: str, text: str, *, ref: str | None = None) -> None:
    """A customer turn while the conversation is with staff: stored, the bot stays quiet."""
    h.clock.now += timedelta(minutes=1)
    assert await h.runtime.ingest(h.message(user, text, ref=ref))
    await h.process()


async def escalate(h: Harness, user: str, text: str, *, ref: str | None = None) -> int:
    reply = await h.say(user, text, ref=ref)
    assert reply.metadata["action"] == "escalate", reply.metadata
    (card,) = await open_handoff_cards(h.runtime.read_factory)
    return int(card["id"])


async def suggest(h: Harness, handoff_id: int) -> int | None:
    async with h.runtime.session_factory() as session, session.begin():
        return await suggest_from_handoff(session, handoff_id, h.clock())


async def maya(h: Harness) -> tuple[str, Customer, Order]:
    """A demo customer with a name, an email, a phone and a shipped parcel."""
    ref, order = await h.customer_with_latest("shipped")
    async with h.runtime.session_factory() as session:
        customer = (
            await session.scalars(select(Customer).where(Customer.external_ref == ref))
        ).one()
    assert customer.name and customer.email and order.tracking_number
    return ref, customer, order


async def test_a_resolved_handoff_becomes_a_pending_suggestion_without_personal_data(
    h: Harness,
) -> None:
    ref, customer, order = await maya(h)
    first, last = str(customer.name).split()
    handoff_id = await escalate(h, "web-maya", ASK_FOR_PERSON, ref=ref)
    await write(h, "web-maya", "hello?", ref=ref)
    await write(
        h,
        "web-maya",
        f"The tent pole in order {order.id} snapped on the first night. "
        f"Can you send a replacement pole? Mail me at {customer.email} or call +31 6 1234 5678.",
        ref=ref,
    )
    await write(h, "web-maya", f"I am {first}, by the way ({first} {last})", ref=ref)
    await claim(deps(h), handoff_id, "alice")
    await staff_reply(
        deps(h),
        handoff_id,
        "alice",
        f"Hi {first}, sorry about that! We send replacement poles for free within the "
        "2-year warranty.",
    )
    await note(deps(h), handoff_id, "alice", f"Customer {customer.email} is a regular; be nice")
    await staff_reply(
        deps(h),
        handoff_id,
        "alice",
        f"Your new pole goes out today with tracking {order.tracking_number}; "
        f"order #{order.id.split('-')[-1]} stays open until it arrives.",
    )
    await resolve(deps(h), handoff_id, "alice")

    suggestion_id = await suggest(h, handoff_id)

    assert suggestion_id is not None
    s = await get_suggestion(h.runtime.session_factory, suggestion_id)
    assert (s.state, s.staff, s.handoff_id) == ("pending", "alice", handoff_id)
    # "I want a person" and "hello?" carry no question; the introduction adds only a name.
    assert s.questions == [
        "The tent pole in order [order] snapped on the first night. "
        "Can you send a replacement pole? Mail me at [email] or call [phone].",
        "I am [name], by the way ([name])",
    ]
    assert s.answer == (
        "Hi [name], sorry about that! We send replacement poles for free within the "
        "2-year warranty.\n\n"
        "Your new pole goes out today with tracking [tracking]; "
        "order [order] stays open until it arrives."
    )
    assert "regular" not in s.answer, "an internal note is never part of the answer"
    assert [p.id for p in await list_suggestions(h.runtime.session_factory)] == [suggestion_id]


async def test_the_question_the_bot_could_not_answer_comes_before_the_request_for_a_person(
    h: Harness,
) -> None:
    await h.say("anon-engrave", "Can you engrave initials on the Glow Camp Lantern as a gift?")
    handoff_id = await escalate(h, "anon-engrave", ASK_FOR_PERSON)
    await claim(deps(h), handoff_id, "bob")
    await staff_reply(deps(h), handoff_id, "bob", "Yes: engraving costs 5 euros per lantern.")
    await resolve(deps(h), handoff_id, "bob")

    s = await get_suggestion(h.runtime.session_factory, await suggested(h, handoff_id))

    assert s.questions == ["Can you engrave initials on the Glow Camp Lantern as a gift?"]
    assert s.answer == "Yes: engraving costs 5 euros per lantern."


async def test_without_a_decision_the_last_customer_message_is_the_question(h: Harness) -> None:
    handoff_id = await escalate(h, "anon-nodecision", ASK_FOR_PERSON)
    async with h.runtime.session_factory() as session, session.begin():
        await session.execute(
            update(Handoff).where(Handoff.id == handoff_id).values(decision_id=None)
        )
    await write(h, "anon-nodecision", "It is about renting a tent for a weekend")
    await claim(deps(h), handoff_id, "alice")
    await staff_reply(deps(h), handoff_id, "alice", "We do not rent tents, sorry.")
    await resolve(deps(h), handoff_id, "alice")

    s = await get_suggestion(h.runtime.session_factory, await suggested(h, handoff_id))

    assert s.questions == [ASK_FOR_PERSON, "It is about renting a tent for a weekend"]


async def test_the_question_is_kept_short_and_cut_only_after_scrubbing(h: Harness) -> None:
    handoff_id = await escalate(h, "anon-long", ASK_FOR_PERSON)
    for text in (
        "Do the fuel canisters fit the Ember stove?",
        "Can I take them on a plane?",
        "And can you ship them abroad?",
        "Also, is the stove windproof?",
    ):
        await write(h, "anon-long", text)
    await _answer_and_resolve(h, handoff_id, "They fit; no flights; EU only; yes.")
    s = await get_suggestion(h.runtime.session_factory, await suggested(h, handoff_id))
    assert s.questions == [
        "Do the fuel canisters fit the Ember stove?",
        "Can I take them on a plane?",
        "And can you ship them abroad?",
    ]

    handoff_id = await escalate(h, "anon-longer", ASK_FOR_PERSON)
    long = "My stove leaks gas at the valve. " * 30  # 990 characters
    await write(h, "anon-longer", f"{long}ember.owner@example.com is my email, thanks!")
    await _answer_and_resolve(h, handoff_id, "Stop using it; we send a new valve.")
    s = await get_suggestion(h.runtime.session_factory, await suggested(h, handoff_id))
    # Cut first, the address would be left as "ember.own…", which is no email to scrub.
    assert s.question == f"{long}[email] i…"
    assert len(s.question) == 1000


async def test_no_staff_reply_no_suggestion(h: Harness) -> None:
    handoff_id = await escalate(h, "anon-silent", ASK_FOR_PERSON)
    await claim(deps(h), handoff_id, "alice")
    await note(deps(h), handoff_id, "alice", "Duplicate of another ticket; closing")
    await resolve(deps(h), handoff_id, "alice")

    assert await suggest(h, handoff_id) is None
    assert await _count(h) == 0


async def test_suggesting_twice_gives_the_same_suggestion(h: Harness) -> None:
    handoff_id = await _answered(h, "anon-twice", "Can I pay by bank transfer?", "Yes, we do.")
    first = await suggest(h, handoff_id)
    assert first is not None
    assert await suggest(h, handoff_id) == first
    assert await _count(h) == 1


async def test_accept_writes_an_entry_the_knowledge_base_loads_and_finds(
    h: Harness, tmp_path: Path
) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    question = "Can you engrave initials on the Glow Camp Lantern as a gift?"
    handoff_id = await _answered(h, "anon-accept", question, "Yes: 5 euros per lantern.")
    suggestion_id = await suggested(h, handoff_id)
    # A file already has the id the title would give: it is left alone.
    taken = folder / "can-you-engrave-initials-on-the-glow-camp-lantern.md"
    taken.write_text("---\nid: engraving-old\ntitle: Old\n---\nOld answer.\n")

    done = await accept_suggestion(
        h.runtime.session_factory, suggestion_id, folder=folder, by="sam", now=h.clock()
    )

    assert done.entry_id == "can-you-engrave-initials-on-the-glow-camp-lantern-2"
    assert done.title == question
    assert taken.read_text().endswith("Old answer.\n")
    assert (done.suggestion.state, done.suggestion.decided_by) == ("accepted", "sam")
    assert done.suggestion.entry_path == str(done.path)
    assert done.suggestion.decided_at == h.clock()
    kb = KnowledgeBase.load(folder)
    entry = kb.get(done.entry_id)
    assert entry is not None
    assert (entry.title, entry.questions, entry.answer) == (
        question,
        (question,),
        "Yes: 5 euros per lantern.",
    )
    best = kb.search(question)[0]
    assert best.entry.id == done.entry_id and best.confidence >= RECOMMENDED_THRESHOLD

    with pytest.raises(SuggestionDecided, match="already accepted"):
        await accept_suggestion(
            h.runtime.session_factory, suggestion_id, folder=folder, by="sam", now=h.clock()
        )
    with pytest.raises(SuggestionDecided):
        await reject_suggestion(h.runtime.session_factory, suggestion_id, by="sam", now=h.clock())
    assert len(list(folder.glob("can-you-engrave*.md"))) == 2


async def test_accept_with_a_title_and_into_a_folder_that_does_not_load(
    h: Harness, tmp_path: Path
) -> None:
    handoff_id = await _answered(h, "anon-title", "do u do gift wrap??", "Yes, for 3 euros.")
    suggestion_id = await suggested(h, handoff_id)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.md").write_text("no front matter\n")
    with pytest.raises(SuggestionError, match=r"does not load.*bad\.md"):
        await accept_suggestion(
            h.runtime.session_factory, suggestion_id, folder=broken, by="sam", now=h.clock()
        )
    assert sorted(p.name for p in broken.iterdir()) == ["bad.md"]
    assert (await get_suggestion(h.runtime.session_factory, suggestion_id)).state == "pending"

    good = tmp_path / "good"
    good.mkdir()
    done = await accept_suggestion(
        h.runtime.session_factory,
        suggestion_id,
        folder=good,
        by="sam",
        now=h.clock(),
        title="Do you gift-wrap orders?",
    )
    assert done.entry_id == "do-you-gift-wrap-orders"
    (entry,) = load_entries(good)
    assert (entry.title, entry.questions) == ("Do you gift-wrap orders?", ("do u do gift wrap??",))


async def test_reject_keeps_it_out_of_the_pending_list(h: Harness) -> None:
    handoff_id = await _answered(h, "anon-reject", "Is the shop open on Sunday?", "No.")
    suggestion_id = await suggested(h, handoff_id)

    done = await reject_suggestion(
        h.runtime.session_factory, suggestion_id, by="sam", now=h.clock()
    )

    assert (done.state, done.decided_by, done.entry_path) == ("rejected", "sam", None)
    assert await list_suggestions(h.runtime.session_factory) == []
    everything = await list_suggestions(
        h.runtime.session_factory, states=("pending", "accepted", "rejected")
    )
    assert [s.id for s in everything] == [suggestion_id]
    with pytest.raises(SuggestionNotFound, match="no suggestion 999"):
        await reject_suggestion(h.runtime.session_factory, 999, by="sam", now=h.clock())


def test_scrub_replaces_what_identifies_a_customer() -> None:
    known = PersonalData(
        names=("Ada Lovelace",),
        emails=("ada@example.com",),
        phone_regions=("US", "NL"),
        order_ids=("A-77",),
        tracking=("PO6354715405NL",),
    )
    assert scrub(
        "ada lovelace here: ADA@example.com, 06 1234 5678, +1 415 555 2671, order A-77, "
        "#10234, TL-10234, parcel PO6354715405NL and 1Z999AA10123456784. Ada says hi; "
        "we may return it at 10:30 on 2026-11-20 in EUR 2024.",
        known,
    ) == (
        "[name] here: [email], [phone], [phone], order [order], [order], [order], parcel "
        "[tracking] and [tracking]. [name] says hi; we may return it at 10:30 on 2026-11-20 "
        "in EUR 2024."
    )


# --- helpers ---------------------------------------------------------------------------


async def _answered(h: Harness, user: str, question: str, answer: str) -> int:
    """A person is asked for, the question follows, staff answer and resolve."""
    handoff_id = await escalate(h, user, ASK_FOR_PERSON)
    await write(h, user, question)
    await _answer_and_resolve(h, handoff_id, answer)
    return handoff_id


async def _answer_and_resolve(h: Harness, handoff_id: int, answer: str) -> None:
    await claim(deps(h), handoff_id, "alice")
    await staff_reply(deps(h), handoff_id, "alice", answer)
    await resolve(deps(h), handoff_id, "alice")
    await h.process()


async def suggested(h: Harness, handoff_id: int) -> int:
    found = await suggest(h, handoff_id)
    assert found is not None, "the handoff has a staff answer: it is suggested"
    return found


async def _count(h: Harness) -> int:
    async with h.runtime.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(KnowledgeSuggestion)) or 0)
