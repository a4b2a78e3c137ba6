"""Durable ingest: stored and committed before the caller returns, once per event."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.messages import Attachment, InboundMessage
from memory.ingest import GroupCommitIngestor
from memory.models import InboundEvent


def message(event_id: str, user: str = "u1", text: str = "hello") -> InboundMessage:
    return InboundMessage(
        channel="webchat",
        external_event_id=event_id,
        external_user_id=user,
        text=text,
        received_at=datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
        attachments=(Attachment(kind="photo", file_id="F1"),),
        verified_customer_ref="C1001",
    )


async def count_events(factory: async_sessionmaker[AsyncSession]) -> int:
    async with factory() as session:
        return int(await session.scalar(select(func.count()).select_from(InboundEvent)) or 0)


@pytest.fixture
async def ingestor(engine: AsyncEngine) -> GroupCommitIngestor:
    ing = GroupCommitIngestor(engine, writers=2 if engine.dialect.name != "sqlite" else 1)
    await ing.start()
    yield ing  # type: ignore[misc]
    await ing.stop()


async def test_concurrent_arrivals_are_all_committed_once(
    ingestor: GroupCommitIngestor, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = [f"ev-{i}" for i in range(200)]
    # Every event arrives twice at once, as a platform retry would.
    results = await asyncio.gather(*(ingestor.ingest(message(i)) for i in ids + ids))
    assert sum(results) == 200
    assert await count_events(session_factory) == 200


async def test_redelivery_after_commit_is_dropped(
    ingestor: GroupCommitIngestor, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    assert await ingestor.ingest(message("ev-1")) is True
    assert await ingestor.ingest(message("ev-1", text="retried")) is False
    async with session_factory() as session:
        rows = (await session.scalars(select(InboundEvent))).all()
    assert [(r.external_event_id, r.text, r.state) for r in rows] == [("ev-1", "hello", "pending")]
    assert rows[0].payload["attachments"] == [{"kind": "photo", "file_id": "F1"}]
    assert rows[0].payload["verified_customer_ref"] == "C1001"
    assert rows[0].received_at == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def test_same_event_id_on_another_channel_is_a_different_event(
    ingestor: GroupCommitIngestor, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    other = InboundMessage(
        channel="telegram",
        external_event_id="ev-1",
        external_user_id="u1",
        text="hi",
        received_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    assert await ingestor.ingest(message("ev-1")) is True
    assert await ingestor.ingest(other) is True
    assert await count_events(session_factory) == 2


async def test_on_stored_hears_of_new_rows_only(engine: AsyncEngine) -> None:
    stored: list[int] = []
    ing = GroupCommitIngestor(engine, on_stored=stored.append)
    await ing.start()
    try:
        await ing.ingest(message("a"))
        await ing.ingest(message("a"))
    finally:
        await ing.stop()
    assert stored == [1]


async def test_ingest_before_start_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError, match="not started"):
        await GroupCommitIngestor(engine).ingest(message("x"))
