"""The outbox sender: delivers stored replies through their channel, once each.

Items are claimed with a lease, a batch at a time; the delivered ones are
marked sent together at the end of the batch (one statement; a crash before it
sends them again when the lease runs out, as a crash right after a send always
could). A platform's ``retry_after`` is honoured; other errors back off
exponentially; a permanent error (the customer blocked the bot) is not retried. Items of one
conversation go out in order: after a failure the rest of that conversation
waits for the retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import Author, OutboundMessage, SendError
from bot.polling_loop import PollingLoop
from memory.queues import (
    claim_outbox,
    mark_send_failed,
    mark_sent,
    mark_unreachable,
    release_outbox,
)
from memory.records import OutboxRecord

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(minutes=10)


class Sender(Protocol):
    async def send(self, msg: OutboundMessage) -> str | None: ...


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** max(0, attempts - 1)), MAX_BACKOFF)


def outbound(item: OutboxRecord) -> OutboundMessage:
    quick = item.meta.get("quick_replies") or ()
    return OutboundMessage(
        channel=item.channel,
        external_user_id=item.external_user_id,
        text=item.text,
        conversation_id=item.conversation_id,
        message_id=item.message_id,
        author=Author(item.author),
        quick_replies=tuple(str(q) for q in quick),
        metadata={k: v for k, v in item.meta.items() if k in ("rule", "action", "reasons", "kind")},
    )


class OutboxSender:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        *,
        clock: Callable[[], datetime],
        poll_interval: float = 1.0,
    ) -> None:
        self._factory = factory
        self._senders = dict(senders)
        self._clock = clock
        self._loop = PollingLoop("outbox", self.run_once, poll_interval=poll_interval)

    def wake(self) -> None:
        self._loop.wake()

    def add_sender(self, channel: str, sender: Sender) -> None:
        self._senders[channel] = sender

    async def start(self) -> None:
        if self._senders:
            await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run_once(self) -> int:
        """Deliver one claimed batch; the delivered ones are marked sent together."""
        items = await claim_outbox(self._factory, channels=list(self._senders), now=self._clock())
        blocked: set[int] = set()
        sent: list[tuple[int, str | None]] = []
        try:
            for item in items:
                if item.conversation_id in blocked:
                    await release_outbox(self._factory, item.id, retry_at=self._clock())
                    continue
                delivered, external_id = await self._deliver(item)
                if delivered:
                    sent.append((item.id, external_id))
                else:
                    blocked.add(item.conversation_id)
        finally:
            await mark_sent(self._factory, sent, now=self._clock())
        return len(items)

    async def _deliver(self, item: OutboxRecord) -> tuple[bool, str | None]:
        """(delivered, the platform's id of the message if it gives one)."""
        sender = self._senders[item.channel]
        try:
            return True, await sender.send(outbound(item))
        except SendError as exc:
            await self._failed(item, exc.reason, exc.retry_after, exc.permanent)
        except Exception as exc:
            log.exception("sending outbox item %s on %s failed", item.id, item.channel)
            await self._failed(item, repr(exc), None, False)
        return False, None

    async def _failed(
        self, item: OutboxRecord, reason: str, retry_after: float | None, permanent: bool
    ) -> None:
        give_up = permanent or item.attempts + 1 >= MAX_ATTEMPTS
        retry_at = None
        if not give_up:
            delay = timedelta(seconds=retry_after) if retry_after else backoff(item.attempts + 1)
            retry_at = self._clock() + delay
        log.warning(
            "outbox item %s on %s not sent (%s); %s",
            item.id,
            item.channel,
            reason,
            "giving up" if give_up else f"retrying at {retry_at:%H:%M:%S}",
        )
        await mark_send_failed(self._factory, item.id, reason, retry_at=retry_at)
        if permanent:
            # The customer cannot be reached there (e.g. blocked the bot): no retry storm,
            # and the identity says so until they write again.
            await mark_unreachable(self._factory, item.channel, item.external_user_id)
