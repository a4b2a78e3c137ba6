"""What a long-running process does once it has started, before it serves.

``threadline serve``, ``worker`` and ``telegram poll`` call :func:`warm_start`; tests and
``threadline chat`` do not (they start many short runtimes, or one for a few lines).

1. A process that runs the worker compiles its batch statements for every batch size
   (memory.batch_sql: ``warm_batch_statements``): on SQLite each size is its own
   statement, and the largest take tens of milliseconds to compile — stalls the first
   batches after a restart would otherwise take in turn (docs/benchmarks.md).
2. Then it freezes the heap it built (bot.heap), compiled statements included.
"""

from __future__ import annotations

import logging
import time

from bot.bootstrap import Runtime
from bot.heap import freeze_startup_heap
from memory.batch_sql import warm_batch_statements

log = logging.getLogger(__name__)


async def warm_start(runtime: Runtime) -> None:
    started = time.perf_counter()
    compiled = 0
    if runtime.worker is not None:
        compiled = await warm_batch_statements(runtime.read_factory, most=runtime.worker.batch_size)
    frozen = freeze_startup_heap()
    log.info(
        "warm start: %d batch statements compiled, %d objects frozen, in %.2f s",
        compiled,
        frozen,
        time.perf_counter() - started,
    )
