"""A background loop that drains work, then sleeps until woken or the poll interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class PollingLoop:
    """Runs ``cycle()`` while it finds work (it returns how much it handled).

    With nothing to do it waits for ``wake()`` (in-process news of new work) or
    ``poll_interval`` (work from other processes, retries that came due). A
    failing cycle is logged and tried again; it never ends the loop.

    ``linger``: after a cycle that found work, wait this long before the next. A loop
    that shares its process with a web server gives it the time to take in and
    answer what arrived meanwhile, so the next cycle finds that work together
    instead of a sliver of it (docs/benchmarks.md).
    """

    def __init__(
        self,
        name: str,
        cycle: Callable[[], Awaitable[int]],
        *,
        poll_interval: float,
        linger: float = 0.0,
    ) -> None:
        self._name = name
        self._cycle = cycle
        self._poll = poll_interval
        self._linger = linger
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        while True:
            # Cleared before the cycle, not after: news that arrives while a cycle runs
            # (work committed after its query) must not be lost.
            self._wake.clear()
            try:
                handled = await self._cycle()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s cycle failed; retrying", self._name)
                handled = 0
            if handled:
                if self._linger:
                    await asyncio.sleep(self._linger)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
