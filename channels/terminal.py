"""The terminal channel: `threadline chat` reads customer lines and prints replies.

It goes through the same ingest, pipeline, store and outbox as every other
channel; ``send`` hands each delivered reply to the printer.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from bot.messages import InboundMessage, OutboundMessage


class TerminalChannel:
    name = "terminal"

    def __init__(self, printer: Callable[[OutboundMessage], None]) -> None:
        self._printer = printer
        self._session = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)
        self._sent = itertools.count(1)

    def parse(
        self,
        line: str,
        *,
        external_user_id: str,
        verified_email: str | None = None,
        received_at: datetime | None = None,
    ) -> InboundMessage:
        return InboundMessage(
            channel=self.name,
            external_event_id=f"{self._session}:{next(self._counter)}",
            external_user_id=external_user_id,
            text=line.strip(),
            received_at=received_at or datetime.now(UTC),
            verified_email=verified_email,
        )

    async def send(self, msg: OutboundMessage) -> str | None:
        self._printer(msg)
        return f"{self._session}:out:{next(self._sent)}"
