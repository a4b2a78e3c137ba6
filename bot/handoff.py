"""The handoff service: what staff do with a conversation the bot handed over.

Plain async functions, one transaction each, every step stored: ``claim``,
``staff_reply``, ``note``, ``resolve`` and ``back_to_bot``. The staff console
and a Slack staff adapter call the same functions with the agent's name.

Rules that hold whatever the caller:

* two agents claiming at once: exactly one wins, the other gets
  :class:`AlreadyClaimed` naming the winner;
* only the agent who claimed a handoff replies, resolves or hands it back;
* a reply goes to the customer's *current* channel identity (that of their most
  recent message), through the outbox; it is never an inbound event, so the
  pipeline never takes it for a customer message;
* a note is stored ``internal``: never queued, never replayed to the customer,
  never in the bot's context;
* resolve asks the customer for a 1–5 rating; :func:`take_rating` records the
  answer when it comes straight after;
* with staff Slack on, every change queues its post to the handoff's Slack thread in
  the same transaction (the card update, the log line, a console reply or note);
  what came from the thread itself is not posted back to it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.handoffs import (
    RATING_REQUEST_KIND,
    RATING_THANKS_KIND,
    HandoffRow,
    Reachable,
    add_system_note,
    add_turn,
    close_handoff,
    current_reach,
    get_handoff,
    queue_delivery,
    reassign,
    set_conversation_state,
    try_claim,
)
from memory.knowledge_suggestions import suggest_from_handoff
from memory.ports import UnitOfWork
from memory.records import EventRecord
from memory.staff_posts import queue_staff_post

log = logging.getLogger(__name__)

MAX_STAFF_TEXT = 4000
RATING_QUESTION = (
    "Our team has marked your request as resolved. How did we do? "
    "Reply with a number from 1 (poor) to 5 (excellent)."
)
RATING_CHOICES = ("1", "2", "3", "4", "5")
RATING_THANKS = "Thank you for rating us {score}/5. If you need anything else, just write here."
BACK_TO_BOT = (
    "You're back with our virtual assistant. It can see what our team said, "
    "so just carry on; ask for a person any time."
)
_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5|stars?|★+)?\s*[.!]?\s*$", re.IGNORECASE)


class HandoffError(Exception):
    """A staff action that cannot be done; the message says why, for the agent."""


class HandoffNotFound(HandoffError):
    pass


class AlreadyClaimed(HandoffError):
    def __init__(self, handoff_id: int, claimed_by: str) -> None:
        super().__init__(f"handoff {handoff_id} is already claimed by {claimed_by}")
        self.claimed_by = claimed_by


class NotYourHandoff(HandoffError):
    pass


class HandoffClosed(HandoffError):
    pass


@dataclass(frozen=True, slots=True)
class HandoffDeps:
    session_factory: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    on_queued: Callable[[], None] = lambda: None  # wakes the outbox sender
    # Staff Slack is on: changes are posted to the handoff's thread (via staff_posts).
    staff_slack: bool = False
    on_staff_post: Callable[[], None] = lambda: None  # wakes the staff post sender


@dataclass(frozen=True, slots=True)
class StaffAction:
    """What one staff action stored (and queued for the customer, if anything)."""

    handoff_id: int
    conversation_id: int
    message_id: int
    delivered_to: Reachable | None = None


async def claim(deps: HandoffDeps, handoff_id: int, staff: str) -> StaffAction:
    """Take a waiting handoff; the conversation is the agent's until resolve or hand-back."""
    now = deps.clock()
    async with deps.session_factory() as session, session.begin():
        handoff = await _open_handoff(session, handoff_id)
        if not await try_claim(session, handoff_id, staff, now):
            await _raise_taken(session, handoff_id, staff)
        await set_conversation_state(session, handoff.conversation_id, "staff", now)
        message_id = await _system_note(session, handoff, f"{staff} claimed the conversation", now)
        await _post_change(deps, session, handoff_id, message_id, now)
    _wake_staff_posts(deps)
    log.info("handoff %s claimed by %s", handoff_id, staff)
    return StaffAction(handoff_id, handoff.conversation_id, message_id)


async def assign(deps: HandoffDeps, handoff_id: int, staff: str, to_staff: str) -> StaffAction:
    """Give an open handoff to ``to_staff``: waiting, or claimed by ``staff`` themselves."""
    to_staff = to_staff.strip()
    if not to_staff:
        raise HandoffError("say who to assign the conversation to")
    now = deps.clock()
    async with deps.session_factory() as session, session.begin():
        handoff = await _not_anothers(session, handoff_id, staff, "assign")
        if handoff.claimed_by == to_staff:
            raise HandoffError(f"handoff {handoff_id} is already {to_staff}'s")
        if not await reassign(
            session, handoff_id, handoff.state, handoff.claimed_by, to_staff, now
        ):
            await _raise_taken(session, handoff_id, staff)
        await set_conversation_state(session, handoff.conversation_id, "staff", now)
        message_id = await _system_note(
            session, handoff, f"{staff} assigned the conversation to {to_staff}", now
        )
        await _post_change(deps, session, handoff_id, message_id, now)
    _wake_staff_posts(deps)
    log.info("handoff %s assigned to %s by %s", handoff_id, to_staff, staff)
    return StaffAction(handoff_id, handoff.conversation_id, message_id)


async def staff_reply(
    deps: HandoffDeps, handoff_id: int, staff: str, text: str, *, origin: str = "console"
) -> StaffAction:
    """Send the claiming agent's reply to the customer wherever they wrote last.

    ``origin="slack"``: the reply was written in the handoff's Slack thread, which
    therefore already shows it.
    """
    body = _clean(text)
    now = deps.clock()
    async with deps.session_factory() as session, session.begin():
        handoff = await _owned(session, handoff_id, staff)
        message_id, to = await _say_to_customer(
            session,
            handoff,
            "staff",
            body,
            {"staff": staff, "handoff_id": handoff_id, "origin": origin},
            now,
        )
        if origin != "slack":
            await _post_to_thread(deps, session, handoff_id, "mirror", now, message_id)
    deps.on_queued()
    _wake_staff_posts(deps)
    return StaffAction(handoff_id, handoff.conversation_id, message_id, to)


async def note(
    deps: HandoffDeps, handoff_id: int, staff: str, text: str, *, origin: str = "console"
) -> StaffAction:
    """An internal note on an open handoff: for colleagues only, never for the customer."""
    body = _clean(text)
    now = deps.clock()
    async with deps.session_factory() as session, session.begin():
        handoff = await _open_handoff(session, handoff_id)
        message_id = await add_turn(
            session,
            conversation_id=handoff.conversation_id,
            customer_id=handoff.customer_id,
            author="staff",
            channel="staff",
            text=body,
            now=now,
            internal=True,
            meta={"staff": staff, "handoff_id": handoff_id, "note": True, "origin": origin},
        )
        if origin != "slack":
            await _post_to_thread(deps, session, handoff_id, "mirror", now, message_id)
    _wake_staff_posts(deps)
    return StaffAction(handoff_id, handoff.conversation_id, message_id)


async def resolve(deps: HandoffDeps, handoff_id: int, staff: str) -> StaffAction:
    """Close the handoff and the conversation; ask the customer for a 1–5 rating."""
    return await _close(
        deps,
        handoff_id,
        staff,
        handoff_state="resolved",
        conversation_state="resolved",
        text=RATING_QUESTION,
        meta={"kind": RATING_REQUEST_KIND, "quick_replies": list(RATING_CHOICES)},
    )


async def back_to_bot(deps: HandoffDeps, handoff_id: int, staff: str) -> StaffAction:
    """Hand the conversation back: the bot answers again, with the staff turns in context."""
    return await _close(
        deps,
        handoff_id,
        staff,
        handoff_state="returned",
        conversation_state="bot",
        text=BACK_TO_BOT,
        meta={"kind": "handback"},
    )


async def _close(
    deps: HandoffDeps,
    handoff_id: int,
    staff: str,
    *,
    handoff_state: str,
    conversation_state: str,
    text: str,
    meta: dict[str, object],
) -> StaffAction:
    now = deps.clock()
    async with deps.session_factory() as session, session.begin():
        handoff = await _not_anothers(session, handoff_id, staff, "close")
        if not await close_handoff(session, handoff_id, handoff_state, staff, now):
            raise HandoffClosed(f"handoff {handoff_id} is already closed")
        verb = "resolved the conversation" if handoff_state == "resolved" else "handed back to bot"
        note_id = await _system_note(session, handoff, f"{staff} {verb}", now)
        await set_conversation_state(session, handoff.conversation_id, conversation_state, now)
        message_id, to = await _say_to_customer(
            session, handoff, "bot", text, {**meta, "handoff_id": handoff_id, "staff": staff}, now
        )
        if handoff_state == "resolved":
            # The staff's answer to the escalated question, offered as a knowledge entry.
            await suggest_from_handoff(session, handoff_id, now)
        await _post_change(deps, session, handoff_id, note_id, now)
    deps.on_queued()
    _wake_staff_posts(deps)
    log.info("handoff %s %s by %s", handoff_id, handoff_state, staff)
    return StaffAction(handoff_id, handoff.conversation_id, message_id, to)


# --- ratings (called by the pipeline) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class RatingTaken:
    score: int
    text: str
    reply_message_id: int


def parse_rating(text: str) -> int | None:
    """``4``, ``4/5``, ``5 stars`` → the score; anything else is not a rating."""
    match = _RATING.match(text)
    return int(match.group(1)) if match else None


async def take_rating(
    uow: UnitOfWork, event: EventRecord, conversation_id: int, customer_id: int, now: datetime
) -> RatingTaken | None:
    """Record a rating that answers the question asked at resolve, thank the customer, commit.

    Called by the pipeline once the customer's turn is stored. None when the message
    is not a 1–5 answer right after the question: the pipeline carries on as usual.
    The conversation stays resolved; the score is stored on the thank-you turn.
    """
    score = parse_rating(event.text)
    if score is None:
        return None
    before = await uow.messages.texts(conversation_id, 2)
    if len(before) != 2 or before[0] != ("bot", RATING_QUESTION):
        return None
    text = RATING_THANKS.format(score=score)
    reply_id = await uow.messages.add(
        conversation_id=conversation_id,
        customer_id=customer_id,
        author="bot",
        channel=event.channel,
        text=text,
        now=now,
        meta={"kind": RATING_THANKS_KIND, "rating": score},
    )
    await uow.conversations.update(conversation_id, state="resolved", closed_at=now)
    await uow.outbox.enqueue(
        message_id=reply_id,
        conversation_id=conversation_id,
        channel=event.channel,
        external_user_id=event.external_user_id,
        now=now,
    )
    await uow.events.mark_done(event.id, now)
    await uow.commit()
    return RatingTaken(score, text, reply_id)


# --- helpers ----------------------------------------------------------------------------


def _clean(text: str) -> str:
    body = text.strip()
    if not body:
        raise HandoffError("the message is empty")
    if len(body) > MAX_STAFF_TEXT:
        raise HandoffError(f"the message is longer than {MAX_STAFF_TEXT} characters")
    return body


async def _open_handoff(session: AsyncSession, handoff_id: int) -> HandoffRow:
    handoff = await get_handoff(session, handoff_id)
    if handoff is None:
        raise HandoffNotFound(f"there is no handoff {handoff_id}")
    if handoff.state not in ("waiting", "claimed"):
        raise HandoffClosed(f"handoff {handoff_id} is already {handoff.state}")
    return handoff


async def _not_anothers(
    session: AsyncSession, handoff_id: int, staff: str, verb: str
) -> HandoffRow:
    """The open handoff, waiting or claimed by ``staff``: another's claim is theirs to ``verb``."""
    handoff = await _open_handoff(session, handoff_id)
    if handoff.state == "claimed" and handoff.claimed_by != staff:
        raise NotYourHandoff(
            f"handoff {handoff_id} is claimed by {handoff.claimed_by}; only they can {verb} it"
        )
    return handoff


async def _owned(session: AsyncSession, handoff_id: int, staff: str) -> HandoffRow:
    handoff = await _open_handoff(session, handoff_id)
    if handoff.state == "waiting":
        raise NotYourHandoff(f"claim handoff {handoff_id} before replying")
    if handoff.claimed_by != staff:
        raise NotYourHandoff(
            f"handoff {handoff_id} is claimed by {handoff.claimed_by}; only they reply"
        )
    return handoff


async def _raise_taken(session: AsyncSession, handoff_id: int, staff: str) -> None:
    now_row = await get_handoff(session, handoff_id)
    if now_row is not None and now_row.state == "claimed" and now_row.claimed_by:
        if now_row.claimed_by == staff:
            raise HandoffError(f"you have already claimed handoff {handoff_id}")
        raise AlreadyClaimed(handoff_id, now_row.claimed_by)
    raise HandoffClosed(f"handoff {handoff_id} is no longer waiting")


async def _reach(session: AsyncSession, handoff: HandoffRow) -> Reachable:
    to = await current_reach(session, handoff.customer_id)
    if to is None:
        raise HandoffError(f"the customer of handoff {handoff.id} has no channel to reach")
    return to


async def _say_to_customer(
    session: AsyncSession,
    handoff: HandoffRow,
    author: str,
    text: str,
    meta: dict[str, Any],
    now: datetime,
) -> tuple[int, Reachable]:
    """Store a turn and queue it to the channel the customer wrote on last."""
    to = await _reach(session, handoff)
    message_id = await add_turn(
        session,
        conversation_id=handoff.conversation_id,
        customer_id=handoff.customer_id,
        author=author,
        channel=to.channel,
        text=text,
        now=now,
        meta=meta,
    )
    await queue_delivery(
        session, message_id=message_id, conversation_id=handoff.conversation_id, to=to, now=now
    )
    return message_id, to


async def _post_to_thread(
    deps: HandoffDeps,
    session: AsyncSession,
    handoff_id: int,
    kind: str,
    now: datetime,
    message_id: int | None = None,
) -> None:
    if deps.staff_slack:
        await queue_staff_post(
            session, handoff_id=handoff_id, kind=kind, now=now, message_id=message_id
        )


async def _post_change(
    deps: HandoffDeps, session: AsyncSession, handoff_id: int, note_id: int, now: datetime
) -> None:
    """The card shows the new state; the thread gets the log line of who did what."""
    await _post_to_thread(deps, session, handoff_id, "update", now)
    await _post_to_thread(deps, session, handoff_id, "mirror", now, note_id)


def _wake_staff_posts(deps: HandoffDeps) -> None:
    if deps.staff_slack:
        deps.on_staff_post()


async def _system_note(session: AsyncSession, handoff: HandoffRow, text: str, now: datetime) -> int:
    return await add_system_note(
        session,
        handoff_id=handoff.id,
        conversation_id=handoff.conversation_id,
        customer_id=handoff.customer_id,
        text=text,
        now=now,
    )
