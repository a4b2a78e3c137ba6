"""Summaries of closed conversations: written by the model when one is configured.

:func:`summarize_conversation` takes the same ``(author, text)`` turns as
:func:`memory.conversations.summarize_extractive` and falls back to it whenever the model
is missing, fails, or answers with nothing; the result is bounded the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.llm.client import LlmClient, LlmUnavailable
from bot.llm.prompts import Prompts
from bot.llm.redaction import Redactor
from memory.conversations import SUMMARY_CHARS, SUMMARY_TURNS, summarize_extractive

AUTHORS = {"customer": "Customer", "bot": "Assistant", "staff": "Staff"}
TURN_CHARS = 500


async def summarize_conversation(
    turns: Sequence[tuple[str, str]],
    *,
    client: LlmClient | None,
    prompts: Prompts,
    customer_emails: Sequence[str] = (),
    order_ids: Sequence[str] = (),
) -> str:
    """A short summary of ``turns`` (oldest first): the model's when it can, else extractive.

    ``customer_emails`` and ``order_ids`` are the customer's own: they stay readable; other
    people's contact details, orders and every card number are masked before the model sees
    the chat.
    """
    kept = [(a, t) for a, t in list(turns)[-SUMMARY_TURNS:] if a in AUTHORS and t.strip()]
    if client is None or not kept:
        return summarize_extractive(list(turns))
    redactor = Redactor(emails=customer_emails, order_ids=order_ids)
    chat = "\n".join(f"{AUTHORS[a]}: {redactor.redact(t[:TURN_CHARS])}" for a, t in kept)
    messages = [
        {"role": "system", "content": prompts.summarize},
        {"role": "user", "content": chat},
    ]
    try:
        completion = await client.complete(messages)
    except LlmUnavailable:
        return summarize_extractive(list(turns))
    text = " ".join((completion.text or "").split())
    if not text:
        return summarize_extractive(list(turns))
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"
