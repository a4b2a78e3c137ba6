"""Freezing the start-up heap: survivors are exempt, later garbage is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.heap import freeze_startup_heap


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
    assert freeze_startup_heap() == gc.get_freeze_count() > 0

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
