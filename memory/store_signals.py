"""News of work that another process stored: wakes the loops that would otherwise poll.

With the Procfile's separate ``web`` and ``worker`` processes, a customer's message is
stored by the web process and answered by the worker, whose reply is sent by the web
process again. In one process each step wakes the next directly; across processes the
loops used to find the work only at their next poll (a second each way). Here each
process learns of new rows as they commit:

- **PostgreSQL**: statement triggers (migration 0004) ``NOTIFY`` one channel per kind
  of work when rows are inserted into ``inbound_events``, ``outbox`` or ``staff_posts``;
  one ``LISTEN`` connection per process passes them on. It reconnects when the server
  goes away, and then signals every kind once, for anything stored meanwhile.
- **SQLite**: a connection of its own reads the newest id of each work table every
  ``interval`` seconds (three primary-key lookups in one statement, microseconds) and
  signals the kinds whose id grew.

A signal is only a hint: the loops still poll, so a lost signal costs latency, not work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# The kinds of work, and the PostgreSQL channel each is notified on (migration 0004).
CHANNELS = {
    "inbound": "threadline_inbound",
    "outbox": "threadline_outbox",
    "staff_posts": "threadline_staff_posts",
}
KINDS = tuple(CHANNELS)
# kind → its table (on PostgreSQL, the table whose trigger notifies that channel)
TABLES = {"inbound": "inbound_events", "outbox": "outbox", "staff_posts": "staff_posts"}
NEWEST_IDS = "SELECT " + ", ".join(f"(SELECT max(id) FROM {t})" for t in TABLES.values())
CONNECT_TIMEOUT_S = 10.0

OnSignal = Callable[[str], None]


class StoreSignals(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def store_signals(url: str, on_signal: OnSignal) -> StoreSignals:
    """The listener for the database at ``url`` (SQLAlchemy URL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return SqliteNewestIds(parsed.database or ":memory:", on_signal)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return PostgresListener(dsn, on_signal)


class _Task(ABC):
    """One background task, started and cancelled with the runtime.

    ``start()`` returns once the task listens (or has found it cannot, and the loops
    poll): work stored after that is signalled.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        if self._task is not None:
            return
        self._task = task = asyncio.create_task(self.run(), name=self._name)
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if task.done():  # it could not even begin: say why, and let the loops poll
            log.error("store signals stopped: %r; the loops poll instead", task.exception())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:  # it had stopped by itself; the loops polled since
            log.exception("store signals had stopped")

    @abstractmethod
    async def run(self) -> None:
        """Listen until cancelled."""


class PostgresListener(_Task):
    def __init__(self, dsn: str, on_signal: OnSignal, *, reconnect_after: float = 5.0) -> None:
        super().__init__("store-signals")
        self._dsn = dsn
        self._on_signal = on_signal
        self._reconnect_after = reconnect_after
        self._kind_of = {channel: kind for kind, channel in CHANNELS.items()}

    def _notified(self, _conn: Any, _pid: int, channel: str, _payload: str) -> None:
        kind = self._kind_of.get(channel)
        if kind is not None:
            self._on_signal(kind)

    async def run(self) -> None:
        import asyncpg  # only PostgreSQL deployments need it loaded

        first = True
        while True:
            try:
                await self._listen(catch_up=not first)
                log.warning("store signals: the PostgreSQL connection was lost; reconnecting")
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("store signals unavailable (%s); the loops poll meanwhile", exc)
            first = False
            self._ready.set()
            await asyncio.sleep(self._reconnect_after)

    async def _listen(self, *, catch_up: bool) -> None:
        """LISTEN on every channel until the connection is lost."""
        import asyncpg

        lost = asyncio.Event()
        conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_S)
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            for channel in CHANNELS.values():
                await conn.add_listener(channel, self._notified)
            if catch_up:  # what was stored while we were away
                for kind in KINDS:
                    self._on_signal(kind)
            self._ready.set()
            await lost.wait()
        finally:
            if not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)


class SqliteNewestIds(_Task):
    def __init__(self, database: str, on_signal: OnSignal, *, interval: float = 0.02) -> None:
        super().__init__("store-signals")
        self._database = database
        self._on_signal = on_signal
        self._interval = interval

    async def run(self) -> None:
        # Its own connection, on the loop's thread: each read is a few B-tree lookups.
        conn = sqlite3.connect(self._database, isolation_level=None, check_same_thread=False)
        try:
            seen = _newest_ids(conn)
            self._ready.set()
            while True:
                await asyncio.sleep(self._interval)
                try:
                    now = _newest_ids(conn)
                except sqlite3.Error as exc:
                    log.warning("store signals: %s", exc)
                    continue
                for kind, newest in now.items():
                    if newest != seen[kind]:
                        self._on_signal(kind)
                seen = now
        finally:
            conn.close()


def _newest_ids(conn: sqlite3.Connection) -> dict[str, int]:
    row = conn.execute(NEWEST_IDS).fetchone()
    return {kind: int(newest or 0) for kind, newest in zip(TABLES, row, strict=True)}
