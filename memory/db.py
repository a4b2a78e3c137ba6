"""Engine and sessions for SQLite (default) and PostgreSQL.

SQLite gets WAL, foreign keys, ``BEGIN IMMEDIATE`` so two read-modify-write
transactions can never lose an update, and its statements run on the event loop's
thread with lock waits as async sleeps (memory.sqlite_driver).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import NullPool

from memory.sqlite_driver import connector

READ_ONLY = "threadline_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Create the async engine for ``url`` with the settings Threadline relies on."""
    if is_sqlite(url):
        database = make_url(url).database or ":memory:"
        if database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = _create_async_engine(url, async_creator=connector(database, busy_timeout_s=30))
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip per checkout on the hot path; connections
    # are recycled hourly instead and a dropped one fails its transaction (retried).
    return _create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600)


def create_null_pool_engine(url: str) -> AsyncEngine:
    """An engine without pooling, for one-shot admin commands and migrations."""
    if is_sqlite(url):
        return create_engine(url)
    return _create_async_engine(url, poolclass=NullPool)


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The connection is in autocommit mode: SQLAlchemy emits BEGIN itself (below).
        # No busy_timeout: lock waits are async sleeps in memory.sqlite_driver.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front, so read-modify-write cannot lose an
        # update; readers (see ``read_only``) start deferred and never wait for a writer.
        if connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool for transactions that only read.

    On SQLite they begin deferred: with WAL they read a snapshot while a writer
    works, instead of queueing behind it for the write lock.
    """
    return engine.execution_options(**{READ_ONLY: True})


def make_read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(read_only(engine), expire_on_commit=False)
