"""Summaries of closed conversations, rewritten by a model when one is configured.

The store writes an extractive summary in the transaction that closes a
conversation; with an LLM, the worker replaces it afterwards, outside any
transaction. If the model fails the extractive one simply stays.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from memory.conversations import SUMMARY_TURNS
from memory.ports import UnitOfWork

log = logging.getLogger(__name__)

Summarize = Callable[[list[tuple[str, str]]], Awaitable[str]]


async def refresh_summary(
    uow: Callable[[], UnitOfWork], conversation_id: int, summarize: Summarize
) -> str:
    async with uow() as work:
        turns = await work.messages.texts(conversation_id, SUMMARY_TURNS)
    summary = await summarize(turns)
    async with uow() as work:
        await work.conversations.update(conversation_id, summary=summary)
        await work.commit()
    return summary
