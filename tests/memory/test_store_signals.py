"""Store signals: another process hears of new work as soon as it commits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.db import create_engine
from memory.models import InboundEvent
from memory.store_signals import KINDS, PostgresListener, store_signals
from tests.conftest import pg_url
from tests.memory.rows import conversation, queue_bot_reply

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WAIT_S = 10.0


class Heard:
    def __init__(self) -> None:
        self.kinds: list[str] = []
        self._news = asyncio.Event()

    def __call__(self, kind: str) -> None:
        self.kinds.append(kind)
        self._news.set()

    async def until(self, kind: str) -> None:
        async with asyncio.timeout(WAIT_S):
            while kind not in self.kinds:
                self._news.clear()
                await self._news.wait()


def event_row(n: int) -> dict[str, object]:
    return {
        "channel": "webchat",
        "external_event_id": f"e{n}",
        "external_user_id": "u",
        "text": "hello",
        "payload": {},
        "state": "pending",
        "attempts": 0,
        "received_at": T0,
    }


async def store_event(factory: async_sessionmaker[AsyncSession], n: int) -> None:
    async with factory() as session, session.begin():
        await session.execute(insert(InboundEvent).values(event_row(n)))


async def store_reply(factory: async_sessionmaker[AsyncSession]) -> None:
    async with factory() as session, session.begin():
        await queue_bot_reply(session, await conversation(session), "hi")


@pytest.fixture
async def heard(database_url: str) -> AsyncIterator[Heard]:
    """What a process listening on the test's database hears."""
    heard = Heard()
    signals = store_signals(database_url, heard)
    await signals.start()
    try:
        yield heard
    finally:
        await signals.stop()


async def test_new_work_is_signalled_when_it_commits(
    heard: Heard, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await store_event(session_factory, 1)
    await heard.until("inbound")
    assert set(heard.kinds) == {"inbound"}, "only the kind of work that was stored"
    heard.kinds.clear()
    await store_reply(session_factory)
    await heard.until("outbox")


async def test_an_uncommitted_insert_is_not_signalled(
    heard: Heard, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session, session.begin():
        await session.execute(insert(InboundEvent).values(event_row(0)))
        await asyncio.sleep(0.2)
        assert heard.kinds == [], "nothing is announced before the commit"
        await session.rollback()
    await store_event(session_factory, 2)  # the next commit is heard as usual
    await heard.until("inbound")
    async with session_factory() as session:
        stored = await session.scalar(select(func.count()).select_from(InboundEvent))
    assert stored == 1


async def test_the_listener_comes_back_after_postgresql_drops_it(postgres_database: str) -> None:
    pg = pg_url(postgres_database)
    heard = Heard()
    listener = PostgresListener(
        pg.replace("postgresql+asyncpg", "postgresql"), heard, reconnect_after=0.05
    )
    await listener.start()
    engine = create_engine(pg, pool_size=1)
    try:
        async with engine.connect() as conn:  # what a server restart does to the listener
            dropped = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND query LIKE 'LISTEN%'"
                )
            )
        assert dropped == 1
        await heard.until("outbox")  # back: it catches up on every kind, in case
        assert set(heard.kinds) == set(KINDS)
        heard.kinds.clear()
        await store_event(async_sessionmaker(engine), 3)
        await heard.until("inbound")
    finally:
        await listener.stop()
        await engine.dispose()


async def test_a_database_it_cannot_read_leaves_the_loops_polling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    heard = Heard()
    signals = store_signals(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}", heard)
    await signals.start()  # returns: the runtime starts, its loops poll as before
    await signals.stop()
    assert heard.kinds == []
    assert "store signals stopped" in caplog.text
    assert "unable to open database file" in caplog.text
