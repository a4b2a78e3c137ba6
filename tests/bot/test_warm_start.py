"""A long-running process's warm start: the worker's batch statements compiled for every
batch size, the start-up heap frozen (survivors exempt, later garbage still collected)."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterator

import pytest

from bot.bootstrap import build_runtime
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from bot.warm_start import freeze_startup_heap, warm_start


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process keeps collecting everything afterwards


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> Node:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a


@pytest.mark.usefixtures("unfrozen")
def test_what_lives_at_start_is_left_alone_and_later_garbage_is_still_collected() -> None:
    at_start = cycle()
    started = weakref.ref(at_start)
    frozen = freeze_startup_heap()
    # A frozen object freed by its last reference leaves the count: it can only shrink.
    assert 0 < gc.get_freeze_count() <= frozen

    del at_start
    gc.collect()
    assert started() is not None  # frozen: no collection scans it

    later = cycle()
    made_later = weakref.ref(later)
    del later
    gc.collect()
    assert made_later() is None  # a cycle made after the freeze is found and freed

    gc.unfreeze()
    gc.collect()
    assert started() is None


@pytest.mark.usefixtures("unfrozen")
async def test_a_process_that_runs_the_worker_compiles_its_batch_statements_first(
    database_url: str, understander: OfflineUnderstander, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = build_runtime(Settings(DATABASE_URL=database_url), understander=understander)
    assert runtime.worker is not None
    caplog.set_level(logging.INFO, logger="bot.warm_start")
    try:
        await warm_start(runtime)
    finally:
        await runtime.engine.dispose()
    # batches of up to 64: seven sizes of six statements on SQLite, one each on PostgreSQL
    compiled = 42 if runtime.settings.is_sqlite else 6
    assert f"warm start: {compiled} batch statements compiled" in caplog.text
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("unfrozen")
async def test_a_web_process_without_the_worker_compiles_nothing(
    database_url: str, understander: OfflineUnderstander, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(DATABASE_URL=database_url, THREADLINE_EMBEDDED_WORKER=False)
    runtime = build_runtime(settings, understander=understander)
    caplog.set_level(logging.INFO, logger="bot.warm_start")
    try:
        await warm_start(runtime)
    finally:
        await runtime.engine.dispose()
    assert "warm start: 0 batch statements compiled" in caplog.text
