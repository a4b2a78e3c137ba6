"""A long-running process keeps what it built at start out of the garbage collector's way.

By the time a web or worker process serves, it holds a few hundred thousand objects that
live as long as it does: imported modules, SQLAlchemy's tables and compiled statements,
the fitted intent classifier, the knowledge index, the policies. CPython's collector
rescans every one of them at each full (oldest-generation) collection, which the churn of
handling messages keeps triggering: tens of milliseconds each, on the loop's thread.
``gc.freeze()`` moves the survivors of one collection to a permanent generation the
collector skips; what is created afterwards is collected as before.

Only process entry points call it, through bot.warm_start (``threadline serve``, ``worker``,
``telegram poll``): a test run or an embedding application decides about its own heap.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect once, then exempt everything still alive from future collections.

    Returns how many objects are now frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
