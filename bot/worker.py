"""The worker: processes stored inbound events, in order per sender.

On start it picks up whatever a crash left pending (expired leases included).
Woken at once by the ingestor after each commit; otherwise polls.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.pipeline import Outcome, PipelineDeps, handle_event
from bot.polling_loop import PollingLoop
from bot.summaries import Summarize, refresh_summary
from memory.queues import claim_events, mark_event_failed
from memory.records import EventRecord

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        deps: PipelineDeps,
        *,
        concurrency: int = 1,
        poll_interval: float = 1.0,
        on_processed: Callable[[Outcome], Awaitable[None]] | None = None,
        summarize: Summarize | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        self._factory = factory
        self._deps = deps
        self._concurrency = max(1, concurrency)
        self._on_processed = on_processed
        self._summarize = summarize
        self._clock = clock
        self._loop = PollingLoop("worker", self.run_once, poll_interval=poll_interval)

    def wake(self, _count: int = 0) -> None:
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run_once(self) -> int:
        """Claim and process one batch; returns how many events were handled."""
        events = await claim_events(self._factory, now=self._clock(), limit=32)
        if not events:
            return 0
        by_sender: dict[tuple[str, str], list[EventRecord]] = defaultdict(list)
        for event in events:
            by_sender[(event.channel, event.external_user_id)].append(event)
        lanes = list(by_sender.values())
        semaphore = asyncio.Semaphore(self._concurrency)

        async def lane(events_of_sender: list[EventRecord]) -> None:
            async with semaphore:
                for event in events_of_sender:
                    if not await self._process(event):
                        return  # keep this sender's order: the rest waits for a retry

        await asyncio.gather(*(lane(lane_events) for lane_events in lanes))
        return len(events)

    async def _process(self, event: EventRecord) -> bool:
        try:
            outcome = await handle_event(event, self._deps)
        except Exception as exc:
            log.exception("event %s failed (attempt %s)", event.id, event.attempts)
            await mark_event_failed(self._factory, event, repr(exc), now=self._clock())
            return False
        if self._on_processed is not None:
            await self._on_processed(outcome)
        if outcome.closed_conversation_id is not None and self._summarize is not None:
            try:
                await refresh_summary(
                    self._deps.uow, outcome.closed_conversation_id, self._summarize
                )
            except Exception:  # the extractive summary stays
                log.exception("summary of conversation %s failed", outcome.closed_conversation_id)
        return True

    async def drain(self) -> None:
        """Process until nothing is pending (tests, `threadline chat`)."""
        while await self.run_once():
            pass
