"""Threading: which conversation a new customer message belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from memory.ports import UnitOfWork
from memory.records import ConversationRecord

SUMMARY_TURNS = 40
SUMMARY_CHARS = 600


def summarize_extractive(turns: list[tuple[str, str]]) -> str:
    """A short, bounded summary from the turns: what was asked and how it ended."""
    asked = [t for a, t in turns if a == "customer"]
    answered = [f"{a}: {t}" for a, t in turns if a in ("bot", "staff")]
    parts: list[str] = []
    if asked:
        parts.append(f"Customer asked: {asked[0]}")
        if len(asked) > 1:
            parts.append(f"Last customer message: {asked[-1]}")
    if answered:
        parts.append(f"Last reply ({answered[-1]})")
    summary = " | ".join(parts)
    return summary if len(summary) <= SUMMARY_CHARS else summary[: SUMMARY_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class Thread:
    """The conversation a message belongs to, and the one it closed (if it started anew)."""

    conversation: ConversationRecord
    closed_id: int | None = None


def continuation(
    latest: ConversationRecord | None, channel: str, now: datetime, window: timedelta
) -> tuple[ConversationRecord, dict[str, object]] | None:
    """The customer's latest conversation as it continues now, and the fields that change.

    None when there is none or it went quiet longer than ``window`` ago: a new one starts.
    A resolved one within the window reopens with the bot.
    """
    if latest is None or now - latest.last_message_at > window:
        return None
    fields: dict[str, object] = {"channel": channel, "last_message_at": now}
    state = latest.state
    if latest.state == "resolved":
        state = "bot"
        fields.update(state="bot", closed_at=None, consecutive_clarify=0, bot_failures=0)
    continued = ConversationRecord(
        id=latest.id,
        customer_id=latest.customer_id,
        state=state,
        channel=channel,
        started_at=latest.started_at,
        last_message_at=now,
        consecutive_clarify=0 if state != latest.state else latest.consecutive_clarify,
        bot_failures=0 if state != latest.state else latest.bot_failures,
    )
    return continued, fields


async def continue_or_start(
    uow: UnitOfWork, customer_id: int, channel: str, now: datetime, window: timedelta
) -> Thread:
    """The customer's conversation continues on any channel within ``window``.

    A resolved one within the window reopens with the bot; an older one is
    closed with a summary and a new conversation starts.
    """
    latest = await uow.conversations.latest(customer_id)
    continued = continuation(latest, channel, now, window)
    if continued is not None:
        conversation, fields = continued
        await uow.conversations.update(conversation.id, **fields)
        return Thread(conversation)
    closed_id = None
    if latest is not None and latest.closed_at is None:
        turns = await uow.messages.texts(latest.id, SUMMARY_TURNS)
        await uow.conversations.update(
            latest.id, closed_at=now, summary=summarize_extractive(turns)
        )
        closed_id = latest.id
    return Thread(await uow.conversations.start(customer_id, channel, now), closed_id)
