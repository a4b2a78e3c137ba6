"""A real runtime (store, pipeline, policy, understanding, responder) on a test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.bootstrap import build_runtime
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from tests.bot.harness import Clock, Harness, RecordingChannel
from tests.conftest import DEMO_NOW


@pytest.fixture
async def h(demo_database_url: str, understander: OfflineUnderstander) -> AsyncIterator[Harness]:
    clock = Clock(DEMO_NOW)
    runtime = build_runtime(
        Settings(DATABASE_URL=demo_database_url),
        clock=clock,
        embedded_worker=True,
        understander=understander,
    )
    channel = RecordingChannel()
    runtime.outbox.add_sender(channel.name, channel)
    await runtime.ingestor.start()
    yield Harness(runtime, channel, clock)
    await runtime.ingestor.stop()
    await runtime.engine.dispose()
