"""SQLite on the loop's thread: waiting for the write lock never stops the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from memory.db import create_engine, make_session_factory, read_only
from memory.models import Customer
from memory.sqlite_driver import connector

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def customer(email: str) -> dict[str, object]:
    return {"email": email, "created_at": NOW}


async def test_a_writer_waits_for_the_lock_while_the_holder_finishes(tmp_path: Path) -> None:
    """Two writers in one process: the second waits without blocking the first."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Customer.metadata.create_all)
    factory = make_session_factory(engine)
    holding, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with factory() as session, session.begin():  # BEGIN IMMEDIATE: the write lock
            await session.execute(insert(Customer), [customer("first@example.com")])
            holding.set()
            await release.wait()  # other tasks run while the lock is held

    async def second() -> None:
        async with factory() as session, session.begin():
            await session.execute(insert(Customer), [customer("second@example.com")])

    try:
        holder = asyncio.create_task(first())
        held = asyncio.create_task(holding.wait())
        await asyncio.wait({holder, held}, return_when=asyncio.FIRST_COMPLETED)
        assert held.done(), holder.exception()
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0.05)
        assert not waiter.done(), "the second writer waits for the lock"
        release.set()  # only possible because the waiting writer left the loop free
        await asyncio.gather(holder, waiter)
        async with factory() as session:
            emails = (await session.scalars(select(Customer.email).order_by(Customer.id))).all()
        assert emails == ["first@example.com", "second@example.com"]
    finally:
        await engine.dispose()


async def test_a_lock_held_past_the_timeout_is_an_error_not_a_hang(tmp_path: Path) -> None:
    connect = connector(str(tmp_path / "held.db"), busy_timeout_s=0.05)
    holder, waiter = await connect(), await connect()
    try:
        await (await holder.execute("PRAGMA journal_mode=WAL")).close()
        await holder.execute("CREATE TABLE t (x INTEGER)")
        await holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await waiter.execute("BEGIN IMMEDIATE")
        await holder.execute("INSERT INTO t VALUES (1)")
        await holder.commit()
        await waiter.execute("BEGIN IMMEDIATE")  # free again: the waiter gets it at once
        await waiter.execute("INSERT INTO t VALUES (2)")
        await waiter.execute("COMMIT")
        rows = await (await holder.execute("SELECT x FROM t ORDER BY x")).fetchall()
        assert rows == [(1,), (2,)]
    finally:
        await holder.close()
        await waiter.close()


async def test_errors_other_than_a_lock_are_raised_at_once(tmp_path: Path) -> None:
    connection = await connector(str(tmp_path / "err.db"), busy_timeout_s=30)()
    with pytest.raises(sqlite3.OperationalError, match="syntax error"):
        await connection.execute("SELEC 1")
    await connection.close()
    await connection.close()  # closing twice is harmless
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        connection.cursor()


async def test_readers_see_the_last_commit_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Customer.metadata.create_all)
            await conn.execute(insert(Customer).values(customer("old@example.com")))
        factory = make_session_factory(engine)
        async with factory() as writer, writer.begin():
            await writer.execute(insert(Customer).values(customer("new@example.com")))
            async with read_only(engine).connect() as reader:  # WAL: no wait for the writer
                seen = await reader.scalar(select(func.count()).select_from(Customer))
        assert seen == 1
    finally:
        await engine.dispose()
