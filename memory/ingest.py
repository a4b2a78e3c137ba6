"""Durable ingest with group commit.

Every inbound platform event is stored and committed before the platform gets
its answer. Concurrent arrivals share one transaction: a single writer task
takes whatever is queued, inserts it with one Core statement
(``INSERT … ON CONFLICT DO NOTHING RETURNING``) and commits once; each caller
still waits for the commit that holds its own row. Duplicates of
``(channel, external_event_id)`` are answered ``False`` and stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.messages import InboundMessage
from memory.models import InboundEvent

log = logging.getLogger(__name__)

MAX_BATCH = 256


def event_row(msg: InboundMessage) -> dict[str, Any]:
    """The ``inbound_events`` row for one message (the whole message, replayable)."""
    payload: dict[str, Any] = {
        "attachments": [a.to_json() for a in msg.attachments],
        "metadata": msg.metadata,
    }
    if msg.display_name:
        payload["display_name"] = msg.display_name
    if msg.verified_customer_ref:
        payload["verified_customer_ref"] = msg.verified_customer_ref
    if msg.verified_email:
        payload["verified_email"] = msg.verified_email
    return {
        "channel": msg.channel,
        "external_event_id": msg.external_event_id,
        "external_user_id": msg.external_user_id,
        "text": msg.text,
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "received_at": msg.received_at,
    }


def insert_ignoring_duplicates(dialect: str) -> Insert:
    stmt = (
        postgresql.insert(InboundEvent) if dialect == "postgresql" else sqlite.insert(InboundEvent)
    )
    return stmt.on_conflict_do_nothing(index_elements=["channel", "external_event_id"]).returning(
        InboundEvent.id, InboundEvent.channel, InboundEvent.external_event_id
    )


@dataclass
class _Pending:
    row: dict[str, Any]
    done: asyncio.Future[bool]


class GroupCommitIngestor:
    """Stores inbound messages; ``await ingest(msg)`` returns after the commit.

    ``writers`` tasks drain the queue (1 for SQLite, which has one writer
    anyway; a few for PostgreSQL). ``on_stored`` runs after each commit with
    the number of new rows, e.g. to wake the worker.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        writers: int = 1,
        on_stored: Callable[[int], None] | None = None,
    ) -> None:
        self._engine = engine
        self._stmt = insert_ignoring_duplicates(engine.dialect.name)
        # SQLite needs its BEGIN IMMEDIATE (one writer); PostgreSQL commits the statement.
        self._autocommit = engine.dialect.name == "postgresql"
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writers = writers
        self._tasks: list[asyncio.Task[None]] = []
        self._on_stored = on_stored

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._write_loop(), name=f"ingest-writer-{i}")
                for i in range(self._writers)
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.done.done():
                pending.done.set_exception(RuntimeError("ingest stopped before commit"))

    async def ingest(self, msg: InboundMessage) -> bool:
        """Store ``msg`` durably. True: new event; False: a redelivery, dropped."""
        if not self._tasks:
            raise RuntimeError("ingestor not started")
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(event_row(msg), done))
        return await done

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                stored = await self._write(batch)
            except Exception as exc:  # the callers get the error; the loop goes on
                log.exception("ingest batch of %d failed", len(batch))
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(exc)
                continue
            if stored and self._on_stored is not None:
                self._on_stored(stored)

    async def _write(self, batch: Sequence[_Pending]) -> int:
        unique: dict[tuple[str, str], dict[str, Any]] = {}
        for pending in batch:
            key = (pending.row["channel"], pending.row["external_event_id"])
            unique.setdefault(key, pending.row)
        async with self._engine.connect() as conn:
            if self._autocommit:
                # One INSERT is atomic by itself: no BEGIN/COMMIT round trips.
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                result = await conn.execute(self._stmt, list(unique.values()))
                inserted = {(row.channel, row.external_event_id) for row in result}
            else:
                async with conn.begin():
                    result = await conn.execute(self._stmt, list(unique.values()))
                    inserted = {(row.channel, row.external_event_id) for row in result}
        claimed: set[tuple[str, str]] = set()
        for pending in batch:
            key = (pending.row["channel"], pending.row["external_event_id"])
            is_new = key in inserted and key not in claimed
            claimed.add(key)
            if not pending.done.done():
                pending.done.set_result(is_new)
        return len(inserted)
