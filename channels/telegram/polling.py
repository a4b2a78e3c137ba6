"""Long polling: for development without a public URL.

Updates fetched with ``getUpdates`` go through the same parse and ingest path
as the webhook. The offset moves past an update only once it is stored, so a
storage failure fetches it again (ingest drops the duplicate if it was stored).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError

from bot.messages import SendError
from channels.telegram.channel import TelegramChannel

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message",)
POLL_TIMEOUT_S = 30
MAX_BACKOFF_S = 60.0


class PollingError(Exception):
    """Polling cannot go on (a refused token, no connection at start); the message says why."""


class Poller:
    def __init__(self, channel: TelegramChannel, *, timeout: int = POLL_TIMEOUT_S) -> None:
        self._channel = channel
        self._timeout = timeout
        self.offset: int | None = None

    async def prepare(self) -> None:
        """Connect and remove any webhook: Telegram serves one or the other, not both."""
        await self._channel.connect()
        await self._channel.bot.delete_webhook(drop_pending_updates=False)

    async def poll_once(self) -> int:
        """Fetch one batch (waiting up to ``timeout`` s for it) and store it; returns its size."""
        updates = await self._channel.bot.get_updates(
            offset=self.offset, timeout=self._timeout, allowed_updates=list(ALLOWED_UPDATES)
        )
        for update in updates:
            receipt = await self._channel.receive(update)
            log.info(
                "telegram: update %s: %d stored, %d duplicate%s",
                update.update_id,
                receipt.stored,
                receipt.duplicates,
                f", refused: {receipt.rejected}" if receipt.rejected else "",
            )
            self.offset = update.update_id + 1
        return len(updates)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; network and storage errors back off and retry."""
        try:
            await self.prepare()
        except (SendError, TelegramError) as exc:
            reason = exc.reason if isinstance(exc, SendError) else exc.message
            raise PollingError(f"cannot start polling: {reason}") from exc
        failures = 0
        while not stop.is_set():
            try:
                await self._until_stopped(self.poll_once(), stop)
                failures = 0
            except InvalidToken as exc:
                raise PollingError(f"Telegram refused the bot token: {exc.message}") from exc
            except Conflict as exc:
                failures += 1
                log.error("telegram: %s (another poller or a webhook is active)", exc.message)
            except (NetworkError, TelegramError) as exc:
                failures += 1
                log.warning("telegram: polling failed: %s", exc.message)
            except Exception:
                failures += 1
                log.exception("telegram: storing polled updates failed")
            if failures:
                delay = min(2.0 ** (failures - 1), MAX_BACKOFF_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    @staticmethod
    async def _until_stopped(work: Coroutine[Any, Any, int], stop: asyncio.Event) -> None:
        """Run ``work``; give it up (the offset stays put) when ``stop`` is set first."""
        task = asyncio.create_task(work)
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, stopper):
                pending.cancel()
            await asyncio.gather(task, stopper, return_exceptions=True)
        if task in done:
            task.result()
