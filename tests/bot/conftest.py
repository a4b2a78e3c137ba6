"""A real runtime (store, pipeline, policy, understanding, responder) on a test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.bootstrap import build_runtime
from bot.settings import Settings
from memory.demo import SHOP_FILE
from memory.importer import import_file
from tests.bot.harness import NOW, Clock, Harness, RecordingChannel


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[Harness]:
    clock = Clock(NOW)
    runtime = build_runtime(Settings(DATABASE_URL=database_url), clock=clock, embedded_worker=True)
    channel = RecordingChannel()
    runtime.outbox.add_sender(channel.name, channel)
    report = await import_file(runtime.session_factory, SHOP_FILE, rebase_dates=True, now=NOW)
    assert not report.errors
    await runtime.ingestor.start()
    yield Harness(runtime, channel, clock)
    await runtime.ingestor.stop()
    await runtime.engine.dispose()
