"""Telegram's sending limits: about one message per second per chat, 30 per second overall.

:class:`SendLimiter` makes a sender wait for its slot instead of dropping or
provoking 429s. Sends to one chat go out one after another, at least
``per_chat_interval`` apart; all sends of this process are at least
``1 / overall_per_second`` apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram.constants import FloodLimit

PER_CHAT_INTERVAL = 1.0 / FloodLimit.MESSAGES_PER_SECOND_PER_CHAT
OVERALL_PER_SECOND = float(FloodLimit.MESSAGES_PER_SECOND)
_PRUNE_ABOVE = 1024


@dataclass
class _Chat:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last: float = float("-inf")
    users: int = 0


class SendLimiter:
    """Waits until one more message may go to ``chat``; never drops one."""

    def __init__(
        self,
        *,
        per_chat_interval: float = PER_CHAT_INTERVAL,
        overall_per_second: float = OVERALL_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_chat_interval < 0 or overall_per_second <= 0:
            raise ValueError("limits must be positive")
        self._per_chat = per_chat_interval
        self._spacing = 1.0 / overall_per_second
        self._clock = clock
        self._sleep = sleep
        self._chats: dict[str, _Chat] = {}
        self._next_overall = float("-inf")

    async def wait(self, chat: str) -> None:
        """Return when a message to ``chat`` may be sent now."""
        state = self._chats.setdefault(chat, _Chat())
        state.users += 1
        try:
            async with state.lock:
                await self._until(state.last + self._per_chat)
                slot = max(self._clock(), self._next_overall)
                self._next_overall = slot + self._spacing
                await self._until(slot)
                state.last = slot
        finally:
            state.users -= 1
            if len(self._chats) > _PRUNE_ABOVE:
                self._prune()

    async def _until(self, moment: float) -> None:
        delay = moment - self._clock()
        if delay > 0:
            await self._sleep(delay)

    def _prune(self) -> None:
        now = self._clock()
        for chat, state in list(self._chats.items()):
            if state.users == 0 and state.last + self._per_chat <= now:
                del self._chats[chat]
