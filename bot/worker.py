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

from bot.batch_pipeline import BatchResult, Handed, handle_batch
from bot.pipeline import Outcome, PipelineDeps, handle_event
from bot.polling_loop import PollingLoop
from bot.summaries import Summarize, refresh_summary
from memory.queues import claim_events, mark_event_failed
from memory.records import EventRecord
from policies.model import Signals

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        deps: PipelineDeps,
        *,
        concurrency: int = 1,
        batch_size: int = 64,
        poll_interval: float = 1.0,
        linger: float = 0.0,
        on_processed: Callable[[Outcome], Awaitable[None]] | None = None,
        summarize: Summarize | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        self._factory = factory
        self._deps = deps
        self._concurrency = max(1, concurrency)
        self._batch_size = max(1, batch_size)
        self._on_processed = on_processed
        self._summarize = summarize
        self._clock = clock
        self._loop = PollingLoop(
            "worker", self.run_once, poll_interval=poll_interval, linger=linger
        )

    @property
    def batch_size(self) -> int:
        """The most events one claim takes."""
        return self._batch_size

    def wake(self, _count: int = 0) -> None:
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run_once(self) -> int:
        """Claim and process one batch; returns how many events were handled.

        Events go in rounds: the first of each sender's together (bot.batch_pipeline),
        then the second of each, … so a sender's messages keep their order. A sender
        whose event fails is stopped there: the rest of theirs waits for a retry.
        """
        events = await claim_events(self._factory, now=self._clock(), limit=self._batch_size)
        if not events:
            return 0
        lanes: dict[tuple[str, str], list[EventRecord]] = defaultdict(list)
        for event in events:
            lanes[(event.channel, event.external_user_id)].append(event)
        stopped: set[tuple[str, str]] = set()
        for depth in range(max(len(lane) for lane in lanes.values())):
            round_ = [
                lane[depth]
                for sender, lane in lanes.items()
                if depth < len(lane) and sender not in stopped
            ]
            await self._round(round_, stopped)
        return len(events)

    async def _round(self, events: list[EventRecord], stopped: set[tuple[str, str]]) -> None:
        try:
            result = await handle_batch(events, self._deps)
        except Exception:
            log.exception("a batch of %d events failed; processing them one by one", len(events))
            result = BatchResult([], [Handed(event, None) for event in events])
        for outcome in result.outcomes:
            await self._after(outcome)
        semaphore = asyncio.Semaphore(self._concurrency)

        async def alone(handed: Handed) -> None:
            async with semaphore:
                event = handed.event
                if not await self._process(event, handed.signals):
                    stopped.add((event.channel, event.external_user_id))

        await asyncio.gather(*(alone(handed) for handed in result.one_by_one))

    async def _process(self, event: EventRecord, signals: Signals | None = None) -> bool:
        try:
            outcome = await handle_event(event, self._deps, signals)
        except Exception as exc:
            log.exception("event %s failed (attempt %s)", event.id, event.attempts)
            await mark_event_failed(self._factory, event, repr(exc), now=self._clock())
            return False
        await self._after(outcome)
        return True

    async def _after(self, outcome: Outcome) -> None:
        if self._on_processed is not None:
            await self._on_processed(outcome)
        if outcome.closed_conversation_id is not None and self._summarize is not None:
            try:
                await refresh_summary(
                    self._deps.uow, outcome.closed_conversation_id, self._summarize
                )
            except Exception:  # the extractive summary stays
                log.exception("summary of conversation %s failed", outcome.closed_conversation_id)

    async def drain(self) -> None:
        """Process until nothing is pending (tests, `threadline chat`)."""
        while await self.run_once():
            pass
