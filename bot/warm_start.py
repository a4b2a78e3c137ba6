"""What a long-running process does once it has started, before it serves.

``threadline serve``, ``worker`` and ``telegram poll`` call :func:`warm_start`; tests and
``threadline chat`` do not (they start many short runtimes, or one for a few lines).

1. A process that runs the worker compiles its batch statements for every batch size
   (memory.batch_sql: ``warm_batch_statements``): on SQLite each size is its own
   statement, and the largest take tens of milliseconds to compile — stalls the first
   batches after a restart would otherwise take in turn (docs/benchmarks.md).
2. Then it freezes the heap it built, compiled statements included. By then the process
   holds a few hundred thousand objects that live as long as it does (imported modules,
   SQLAlchemy's tables and compiled statements, the fitted intent classifier, the knowledge
   index, the policies). CPython's collector rescanned every one of them at each full
   (oldest-generation) collection, which the churn of handling messages keeps triggering:
   tens of milliseconds each, on the loop's thread. ``gc.freeze()`` moves the survivors of
   one collection to a permanent generation the collector skips; what is created
   afterwards is collected as before. A test run or an embedding application decides about
   its own heap.
"""

from __future__ import annotations

import gc
import logging
import time

from bot.bootstrap import Runtime
from memory.batch_sql import warm_batch_statements

log = logging.getLogger(__name__)


async def warm_start(runtime: Runtime) -> None:
    started = time.perf_counter()
    compiled = 0
    if runtime.worker is not None:
        compiled = await warm_batch_statements(
            runtime.read_factory, most=runtime.worker.batch_size, limits=runtime.context_limits
        )
    frozen = freeze_startup_heap()
    log.info(
        "warm start: %d batch statements compiled, %d objects frozen, in %.2f s",
        compiled,
        frozen,
        time.perf_counter() - started,
    )


def freeze_startup_heap() -> int:
    """Collect once, then exempt everything still alive from future collections.

    Returns how many objects are now frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
