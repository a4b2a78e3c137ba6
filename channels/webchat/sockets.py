"""Open web-chat sockets of this process, grouped by user (one user may have many tabs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict, deque
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 5.0


class RateWindow:
    """At most ``limit`` events in any ``seconds``-long window (a sliding log of times)."""

    def __init__(self, limit: int = 20, seconds: float = 10.0) -> None:
        self.limit = limit
        self.seconds = seconds
        self._times: deque[float] = deque()

    def allow(self, now: float | None = None) -> bool:
        at = time.monotonic() if now is None else now
        while self._times and at - self._times[0] >= self.seconds:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(at)
        return True


def close_reason(reason: str) -> bytes:
    """A close reason cut to the 123 bytes a WebSocket close frame can carry."""
    return reason.encode()[:123].decode(errors="ignore").encode()


class Connection:
    """One open socket; frames are written one at a time, in order.

    Until :meth:`release` is called, pushed frames are held back, so a reply that
    arrives while the history is being loaded reaches the client after the history.
    """

    def __init__(self, ws: web.WebSocketResponse, rate: RateWindow | None = None) -> None:
        self.ws = ws
        self._lock = asyncio.Lock()
        self._held: list[dict[str, Any]] | None = []
        self.rate = rate or RateWindow()  # customer messages this socket may send

    async def send(self, frame: dict[str, Any]) -> bool:
        """Write one JSON frame; False when the socket is gone or too slow (then it is closed)."""
        if self._held is not None:
            self._held.append(frame)
            return True
        return await self._write([frame])

    async def release(self, *first: dict[str, Any]) -> bool:
        """Write ``first``, then every frame held back so far; later frames go straight out."""
        frames = [*first, *(self._held or [])]
        self._held = None
        return await self._write(frames)

    async def send_now(self, frame: dict[str, Any]) -> bool:
        """Write one frame at once, ahead of anything held back (for a last error)."""
        return await self._write([frame])

    async def _write(self, frames: list[dict[str, Any]]) -> bool:
        if self.ws.closed:
            return False
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S), self._lock:
                for frame in frames:
                    await self.ws.send_str(json.dumps(frame, ensure_ascii=False))
        except TimeoutError:
            log.warning("webchat socket too slow to take a frame; closing it")
            await self.close(1008, "client too slow")
            return False
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def close(self, code: int, reason: str) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.close(code=code, message=close_reason(reason))


class SocketHub:
    def __init__(self) -> None:
        self._by_user: dict[str, set[Connection]] = defaultdict(set)

    def add(self, user: str, conn: Connection) -> None:
        self._by_user[user].add(conn)

    def remove(self, user: str, conn: Connection) -> None:
        conns = self._by_user.get(user)
        if conns is None:
            return
        conns.discard(conn)
        if not conns:
            del self._by_user[user]

    def count(self, user: str) -> int:
        return len(self._by_user.get(user, ()))

    async def send_to(
        self, user: str, frame: dict[str, Any], *, exclude: Connection | None = None
    ) -> int:
        """Send to every open socket of ``user`` (but ``exclude``); return how many took it."""
        targets = [c for c in self._by_user.get(user, ()) if c is not exclude]
        if not targets:
            return 0
        results = await asyncio.gather(*(c.send(frame) for c in targets))
        return sum(results)

    async def close_all(self, code: int, reason: str) -> None:
        conns = [c for group in self._by_user.values() for c in group]
        await asyncio.gather(*(c.close(code, reason) for c in conns))
