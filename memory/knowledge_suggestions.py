"""Staff answers to escalated questions, offered to an admin as knowledge entries.

When staff resolve a handoff, :func:`suggest_from_handoff` stores the customer's question
and the claiming agent's answer as a *pending* suggestion, with personal data replaced by
placeholders (``[email]``, ``[phone]``, ``[order]``, ``[tracking]``, ``[name]``): a
knowledge entry is read by every customer, so it must not carry one customer's details.
An admin then accepts it (written as a Markdown entry into the knowledge folder) or
rejects it; nothing reaches customers until a person has read it.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.knowledge import tokenize
from memory.knowledge_files import KnowledgeError, load_entries
from memory.models import Conversation, Decision, Handoff, KnowledgeSuggestion, Message
from memory.personal_data import personal_data_of, scrub

MAX_QUESTION_TURNS = 3
MAX_QUESTION_CHARS = 1000
# The intent of a message that only asks for a person: the question is in the turns around it.
PERSON_INTENT = "human_agent"
STATES = ("pending", "accepted", "rejected")


class SuggestionError(Exception):
    """A suggestion that cannot be shown, accepted or rejected; the message says why."""


class SuggestionNotFound(SuggestionError):
    pass


class SuggestionDecided(SuggestionError):
    pass


@dataclass(frozen=True, slots=True)
class Suggestion:
    id: int
    handoff_id: int
    conversation_id: int
    question: str
    answer: str
    staff: str
    state: str
    entry_path: str | None
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None

    @property
    def questions(self) -> list[str]:
        """The customer's turns that make up the question, one per item."""
        return [q for q in self.question.split("\n\n") if q.strip()]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "handoff_id": self.handoff_id,
            "conversation_id": self.conversation_id,
            "question": self.question,
            "answer": self.answer,
            "staff": self.staff,
            "state": self.state,
            "entry_path": self.entry_path,
            "created_at": self.created_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decided_by": self.decided_by,
        }


def _suggestion(row: KnowledgeSuggestion) -> Suggestion:
    return Suggestion(
        id=row.id,
        handoff_id=row.handoff_id,
        conversation_id=row.conversation_id,
        question=row.question,
        answer=row.answer,
        staff=row.staff,
        state=row.state,
        entry_path=row.entry_path,
        created_at=row.created_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
    )


# --- creating a suggestion (inside the resolve transaction) ----------------------------


async def suggest_from_handoff(session: AsyncSession, handoff_id: int, now: datetime) -> int | None:
    """Store the staff answer of ``handoff_id`` as a pending suggestion; its id, or None.

    Runs in the caller's transaction (only flushes). None when the agent never wrote to
    the customer in this handoff: there is no answer to learn from. A second call for the
    same handoff returns the first suggestion's id.
    """
    existing = await _existing(session, handoff_id)
    if existing is not None:
        return existing
    # The caller's session may hold this handoff from before it was closed: read it afresh.
    handoff = await session.get(Handoff, handoff_id, populate_existing=True)
    if handoff is None:
        return None
    replies = await _staff_replies(session, handoff)
    if not replies:
        return None
    conversation = await session.get(Conversation, handoff.conversation_id)
    assert conversation is not None
    personal = await personal_data_of(session, conversation.customer_id)
    turns = await _question_turns(session, handoff, first_reply_id=replies[0].id)
    # Scrubbed before it is cut to length, so a cut never leaves half an email behind.
    question = "\n\n".join(_within_limits([scrub(t, personal) for t in turns]))
    answer = "\n\n".join(scrub(m.text.strip(), personal) for m in replies)
    values = {
        "handoff_id": handoff_id,
        "conversation_id": handoff.conversation_id,
        "question": question,
        "answer": answer,
        "staff": handoff.claimed_by or str(replies[-1].meta.get("staff", "")),
        "state": "pending",
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(KnowledgeSuggestion)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["handoff_id"])
        .returning(KnowledgeSuggestion.id)
    )
    created = (await session.execute(stmt)).scalar_one_or_none()
    await session.flush()
    # None: another transaction suggested it first (the unique handoff_id held).
    return created if created is not None else await _existing(session, handoff_id)


async def _existing(session: AsyncSession, handoff_id: int) -> int | None:
    found: int | None = await session.scalar(
        select(KnowledgeSuggestion.id).where(KnowledgeSuggestion.handoff_id == handoff_id)
    )
    return found


async def _staff_replies(session: AsyncSession, handoff: Handoff) -> list[Message]:
    """What staff wrote to the customer in this handoff, never notes.

    Only the agent holding a handoff can write to the customer, so these are the claiming
    agent's replies (and, after a reassignment, those of whoever held it before).
    """
    rows = (
        await session.scalars(
            select(Message)
            .where(
                Message.conversation_id == handoff.conversation_id,
                Message.author == "staff",
                Message.internal.is_(False),
            )
            .order_by(Message.id)
        )
    ).all()
    return [m for m in rows if (m.meta or {}).get("handoff_id") == handoff.id and m.text.strip()]


async def _question_turns(
    session: AsyncSession, handoff: Handoff, *, first_reply_id: int
) -> list[str]:
    """The message that got the escalation, plus the customer's turns that add to it.

    When that message only asks for a person, the turn before it (the question the bot
    could not answer) and the turns after it carry the question; it is kept only if
    nothing else does. Each turn on one line; the caller cuts them to
    :data:`MAX_QUESTION_TURNS` turns and :data:`MAX_QUESTION_CHARS`.
    """
    escalated, asked_for_person = await _escalating_message(session, handoff)
    if escalated is None:
        return []
    after = (
        await session.scalars(
            _customer_turns(handoff.conversation_id)
            .where(Message.id > escalated.id, Message.id < first_reply_id)
            .order_by(Message.id)
            .limit(10)
        )
    ).all()
    later = [m.text for m in after]
    if asked_for_person:
        before = await _turn_before(session, handoff, escalated)
        return _adding_turns([*before, *later]) or _adding_turns([escalated.text, *later])
    return _adding_turns([escalated.text, *later])


def _customer_turns(conversation_id: int) -> Select[Message]:
    return select(Message).where(
        Message.conversation_id == conversation_id,
        Message.author == "customer",
        Message.internal.is_(False),
    )


async def _escalating_message(
    session: AsyncSession, handoff: Handoff
) -> tuple[Message | None, bool]:
    """The customer message the escalation decided on, and whether it only asked for a person."""
    if handoff.decision_id is not None:
        decision = await session.get(Decision, handoff.decision_id)
        if decision is not None:
            message = await session.get(Message, decision.message_id)
            signals = (decision.inputs or {}).get("signals") or {}
            if message is not None and message.author == "customer":
                return message, signals.get("intent") == PERSON_INTENT
    latest = await session.scalar(
        _customer_turns(handoff.conversation_id)
        .where(Message.created_at <= handoff.created_at)
        .order_by(Message.id.desc())
        .limit(1)
    )
    return latest, False


async def _turn_before(session: AsyncSession, handoff: Handoff, escalated: Message) -> list[str]:
    """The customer's turn just before ``escalated``, unless an earlier handoff came between."""
    previous_close = await session.scalar(
        select(Handoff.closed_at)
        .where(Handoff.conversation_id == handoff.conversation_id, Handoff.id < handoff.id)
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    query = _customer_turns(handoff.conversation_id).where(Message.id < escalated.id)
    if previous_close is not None:
        query = query.where(Message.created_at > previous_close)
    found = await session.scalar(query.order_by(Message.id.desc()).limit(1))
    return [found.text] if found is not None else []


def _adding_turns(texts: Iterable[str]) -> list[str]:
    """Turns that add words to the question so far ("hello?", "any news?" and ratings do not)."""
    seen: set[str] = set()
    kept: list[str] = []
    for text in texts:
        flat = " ".join(text.split())
        terms = {t for t in tokenize(flat) if not t.isdigit()}
        if terms - seen:
            kept.append(flat)
            seen |= terms
    return kept


def _within_limits(turns: list[str]) -> list[str]:
    """The first turns that fit in the limits; a first turn too long on its own is cut."""
    kept: list[str] = []
    used = 0
    for text in turns[:MAX_QUESTION_TURNS]:
        room = MAX_QUESTION_CHARS - used - (2 if kept else 0)
        if len(text) > room:
            if not kept:
                kept.append(text[: max(room - 1, 0)].rstrip() + "…")
            break
        kept.append(text)
        used += len(text) + (2 if len(kept) > 1 else 0)
    return kept


# --- reviewing suggestions (the admin's side) ------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptedEntry:
    suggestion: Suggestion
    entry_id: str
    title: str
    path: Path


async def list_suggestions(
    factory: async_sessionmaker[AsyncSession], *, states: Sequence[str] = ("pending",)
) -> list[Suggestion]:
    """Suggestions in ``states``, oldest first."""
    async with factory() as session:
        rows = (
            await session.scalars(
                select(KnowledgeSuggestion)
                .where(KnowledgeSuggestion.state.in_(list(states)))
                .order_by(KnowledgeSuggestion.id)
            )
        ).all()
    return [_suggestion(r) for r in rows]


async def get_suggestion(
    factory: async_sessionmaker[AsyncSession], suggestion_id: int
) -> Suggestion:
    async with factory() as session:
        row = await session.get(KnowledgeSuggestion, suggestion_id)
        if row is None:
            raise SuggestionNotFound(_missing(suggestion_id))
        return _suggestion(row)


async def accept_suggestion(
    factory: async_sessionmaker[AsyncSession],
    suggestion_id: int,
    *,
    folder: Path,
    by: str,
    now: datetime,
    title: str | None = None,
) -> AcceptedEntry:
    """Write the suggestion as a Markdown entry in ``folder`` and mark it accepted.

    The file is written inside the transaction that marks the suggestion, and removed
    again if that transaction does not commit: an entry on disk is an accepted suggestion.
    """
    written: Path | None = None
    try:
        async with factory() as session, session.begin():
            row = await _pending(session, suggestion_id)
            heading = " ".join((default_title(row.question) if title is None else title).split())
            entry_id, written = await asyncio.to_thread(
                write_entry, folder, heading, _suggestion(row), by=by, now=now
            )
            marked = await session.execute(
                update(KnowledgeSuggestion)
                .where(KnowledgeSuggestion.id == row.id, KnowledgeSuggestion.state == "pending")
                .values(state="accepted", entry_path=str(written), decided_at=now, decided_by=by)
                .execution_options(synchronize_session=False)
            )
            assert isinstance(marked, CursorResult)
            if marked.rowcount != 1:
                raise SuggestionDecided(f"suggestion {row.id} was decided meanwhile")
    except BaseException:
        if written is not None:
            await asyncio.to_thread(written.unlink, missing_ok=True)
        raise
    assert written is not None
    return AcceptedEntry(await get_suggestion(factory, suggestion_id), entry_id, heading, written)


async def reject_suggestion(
    factory: async_sessionmaker[AsyncSession], suggestion_id: int, *, by: str, now: datetime
) -> Suggestion:
    """Mark a pending suggestion rejected: it stays in the store, out of the knowledge base."""
    async with factory() as session, session.begin():
        row = await _pending(session, suggestion_id)
        row.state, row.decided_at, row.decided_by = "rejected", now, by
    return await get_suggestion(factory, suggestion_id)


async def _pending(session: AsyncSession, suggestion_id: int) -> KnowledgeSuggestion:
    row = await session.scalar(
        select(KnowledgeSuggestion).where(KnowledgeSuggestion.id == suggestion_id).with_for_update()
    )
    if row is None:
        raise SuggestionNotFound(_missing(suggestion_id))
    if row.state != "pending":
        when = row.decided_at.strftime("%Y-%m-%d %H:%M UTC") if row.decided_at else "earlier"
        raise SuggestionDecided(
            f"suggestion {suggestion_id} is already {row.state} (by {row.decided_by}, {when}); "
            "only pending suggestions can be accepted or rejected"
        )
    return row


def _missing(suggestion_id: int) -> str:
    return (
        f"there is no suggestion {suggestion_id} "
        "(list them with `threadline knowledge suggestions --all`)"
    )


# --- the entry file --------------------------------------------------------------------

_SENTENCE = re.compile(r"[^.!?]*[.!?]+|[^.!?]+$")
MAX_TITLE = 100
MAX_ID = 50  # whole words of the title, up to this many characters


def default_title(question: str) -> str:
    """The first asking sentence of the question (else its first sentence), kept short."""
    first = next((q for q in question.split("\n\n") if q.strip()), "")
    sentences = [s.strip() for s in _SENTENCE.findall(first) if s.strip()]
    title = next((s for s in sentences if s.endswith("?")), sentences[0] if sentences else "")
    if len(title) > MAX_TITLE:
        title = title[: MAX_TITLE - 1].rsplit(" ", 1)[0] + "…"
    return title[:1].upper() + title[1:]


def free_entry_id(title: str, taken: set[str], folder: Path, *, fallback: str) -> str:
    """A slug of ``title`` that no entry and no file in ``folder`` uses yet."""
    base = ""
    for word in re.findall(r"[a-z0-9]+", title.lower()):
        if base and len(base) + 1 + len(word) > MAX_ID:
            break
        base = f"{base}-{word}" if base else word[:MAX_ID]
    base = base or fallback
    candidate, n = base, 1
    while candidate in taken or any(folder.glob(f"{candidate}.*")):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def write_entry(
    folder: Path, title: str, suggestion: Suggestion, *, by: str, now: datetime
) -> tuple[str, Path]:
    """Write the entry under an id no entry or file in ``folder`` uses; (id, path).

    An existing file is never overwritten, and the folder must still load with the new
    entry in it, or the file is removed again.
    """
    heading = " ".join(title.split())
    if not heading:
        raise SuggestionError("the title is empty; give one with --title")
    if not folder.is_dir():
        raise SuggestionError(f"{folder} is not a folder; create it or choose another one")
    try:
        taken = {e.id for e in load_entries(folder)}
    except KnowledgeError as exc:
        raise SuggestionError(f"the knowledge folder does not load ({exc}); fix it first") from exc
    entry_id = free_entry_id(heading, taken, folder, fallback=f"staff-answer-{suggestion.id}")
    path = folder / f"{entry_id}.md"
    with path.open("x", encoding="utf-8") as out:
        out.write(entry_markdown(entry_id, heading, suggestion, by=by, now=now))
    try:
        load_entries(folder)
    except KnowledgeError as exc:
        path.unlink(missing_ok=True)
        raise SuggestionError(f"the new entry does not load: {exc}") from exc
    return entry_id, path


def entry_markdown(
    entry_id: str, title: str, suggestion: Suggestion, *, by: str, now: datetime
) -> str:
    """The entry in the format ``memory.knowledge_files`` reads: front matter, then the answer."""
    yaml = YAML(typ="rt")  # keeps the fields in the order people read them
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    front = io.StringIO()
    yaml.dump({"id": entry_id, "title": title, "questions": suggestion.questions}, front)
    origin = (
        f"# From handoff {suggestion.handoff_id}, answered by {suggestion.staff}; "
        f"accepted by {by} on {now:%Y-%m-%d}."
    )
    return f"---\n{origin}\n{front.getvalue()}---\n{suggestion.answer.strip()}\n"
