"""Web and worker as separate runtimes (the Procfile): each hears of the other's work at once.

Both runtimes here poll only once a minute, so a reply within seconds can only come
from the store's signals: the web's ingest wakes the worker, the worker's reply wakes
the web's outbox (PostgreSQL: LISTEN/NOTIFY; SQLite: the newest id of each work table).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.bootstrap import Runtime, build_runtime
from bot.messages import InboundMessage
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from memory.models import InboundEvent, Message
from tests.bot.harness import WatchedChannel

POLL_S = 60.0  # far longer than the tests wait (10 s): only a signal can move the work


@dataclass
class Split:
    web: Runtime
    worker: Runtime
    channel: WatchedChannel


@pytest.fixture
async def split(demo_database_url: str, understander: OfflineUnderstander) -> AsyncIterator[Split]:
    settings = Settings(DATABASE_URL=demo_database_url)
    web = build_runtime(
        settings,
        embedded_worker=False,
        outbox_poll_interval=POLL_S,
        understander=understander,
    )
    worker = build_runtime(
        settings,
        embedded_worker=True,
        other_process=True,
        worker_poll_interval=POLL_S,
        outbox_poll_interval=POLL_S,
        understander=understander,
    )
    channel = WatchedChannel()
    web.add_channel(channel)
    await web.start()
    await worker.start()
    try:
        yield Split(web, worker, channel)
    finally:
        await worker.stop()
        await web.stop()


def question(n: int, text: str) -> InboundMessage:
    return InboundMessage(
        channel="testchat",
        external_event_id=f"split-{n}",
        external_user_id=f"visitor-{n}",
        text=text,
        received_at=datetime.now(UTC),
    )


async def test_a_message_stored_by_the_web_is_answered_by_the_worker_without_polling(
    split: Split,
) -> None:
    assert split.web.worker is None and split.worker.worker is not None
    assert split.web.signals is not None and split.worker.signals is not None
    assert await split.web.ingest(question(1, "What is your return policy?"))
    await split.channel.wait_for(1)
    reply = split.channel.sent[0]
    assert reply.external_user_id == "visitor-1"
    assert "return" in reply.text.lower()
    async with split.web.session_factory() as session:
        state = await session.scalar(
            select(InboundEvent.state).where(InboundEvent.external_event_id == "split-1")
        )
        stored = await session.scalar(select(Message.text).where(Message.id == reply.message_id))
    assert state == "done"
    assert stored == reply.text


async def test_several_customers_at_once_each_get_one_reply(split: Split) -> None:
    texts = ["How long does shipping take?", "Which payment methods do you accept?", "Hi!"]
    for n, text in enumerate(texts, start=10):
        assert await split.web.ingest(question(n, text))
    await split.channel.wait_for(len(texts))
    await asyncio.sleep(0.2)  # anything sent twice would have arrived by now
    assert sorted(m.external_user_id for m in split.channel.sent) == [
        "visitor-10",
        "visitor-11",
        "visitor-12",
    ]


async def test_one_process_serving_both_halves_does_not_listen(
    demo_database_url: str, understander: OfflineUnderstander
) -> None:
    runtime = build_runtime(
        Settings(DATABASE_URL=demo_database_url), embedded_worker=True, understander=understander
    )
    try:
        assert runtime.signals is None, "in one process each step wakes the next directly"
    finally:
        await runtime.engine.dispose()
