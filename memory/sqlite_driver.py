"""SQLite on the event loop's own thread, behind the async interface SQLAlchemy expects.

SQLAlchemy's ``sqlite+aiosqlite`` dialect drives aiosqlite, which runs every DB-API
call on a thread of its own: each statement is a hop there and back. Our statements
are point reads and single-row writes that SQLite finishes in tens of microseconds,
so the hop cost ten to thirty times the statement (measured in docs/benchmarks.md:
0.67 ms of CPU per ORM select through aiosqlite, 0.16 ms here). This module gives
the dialect a connection with aiosqlite's coroutine methods that runs ``sqlite3``
directly instead (``create_async_engine(..., async_creator=...)``).

What it must not do is block the loop while waiting for a lock. Every connection is
opened with no busy timeout; when SQLite answers "database is locked" (another
connection, often in this same process, holds the write lock) the statement is
retried after an ``asyncio.sleep`` with backoff, up to ``busy_timeout_s``, so the
holder of the lock gets to run and finish. Retrying is what SQLite's own busy handler
does, and it is safe here because a writer takes the lock up front (``BEGIN IMMEDIATE``,
memory.db): "locked" arrives at that statement or at ``COMMIT``, before anything changed,
not halfway through a write.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

FIRST_WAIT_S = 0.0005
LONGEST_WAIT_S = 0.005  # a failed try costs microseconds; a long sleep wastes the lock


def _locked(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(exc)


async def _when_unlocked(busy_timeout_s: float, call: Callable[..., T], *args: Any) -> T:
    wait, give_up_at = FIRST_WAIT_S, 0.0
    while True:
        try:
            return call(*args)
        except sqlite3.OperationalError as exc:
            if not _locked(exc):
                raise
            now = time.monotonic()
            if not give_up_at:
                give_up_at = now + busy_timeout_s
            elif now >= give_up_at:
                raise
            await asyncio.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT_S)


class Cursor:
    """aiosqlite's cursor interface over a ``sqlite3.Cursor``."""

    __slots__ = ("_busy_timeout_s", "_cursor")

    def __init__(self, cursor: sqlite3.Cursor, busy_timeout_s: float) -> None:
        self._cursor = cursor
        self._busy_timeout_s = busy_timeout_s

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        await _when_unlocked(self._busy_timeout_s, self._cursor.execute, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        rows = list(parameters)  # a retry must see every row again
        await _when_unlocked(self._busy_timeout_s, self._cursor.executemany, sql, rows)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if size is None:
            return self._cursor.fetchmany()
        return self._cursor.fetchmany(size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class Connection:
    """aiosqlite's connection interface over a ``sqlite3.Connection`` in autocommit mode.

    SQLAlchemy emits ``BEGIN``/``BEGIN IMMEDIATE`` itself (memory.db), so the
    connection never opens transactions of its own (``isolation_level=None``).
    """

    def __init__(self, connection: sqlite3.Connection, busy_timeout_s: float) -> None:
        self._conn: sqlite3.Connection | None = connection
        self._busy_timeout_s = busy_timeout_s

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # The dialect checks this attribute to tell an open connection from a closed one.
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self._open().cursor(), self._busy_timeout_s)

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await _when_unlocked(self._busy_timeout_s, self._open().commit)

    async def rollback(self) -> None:
        self._open().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (the pool's last resort for a connection it gave up on)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def connector(database: str, *, busy_timeout_s: float = 30.0) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine`` that opens ``database`` here."""

    async def connect() -> Connection:
        connection = sqlite3.connect(
            database,
            timeout=0,  # lock waits happen in _when_unlocked, never inside SQLite
            isolation_level=None,
            check_same_thread=False,  # the pool may close a connection from its finalizer
        )
        return Connection(connection, busy_timeout_s)

    return connect
