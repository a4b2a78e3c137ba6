"""Test doubles at our own ports: a recording channel, a settable clock, a harness."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count

from sqlalchemy import select

from bot.bootstrap import Runtime, build_runtime
from bot.messages import InboundMessage, OutboundMessage, SendError
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from memory.models import Customer, Order


@dataclass
class RecordingChannel:
    """A channel whose platform we control: records sends, can fail on demand."""

    name: str = "testchat"
    sent: list[OutboundMessage] = field(default_factory=list)
    failures: list[SendError] = field(default_factory=list)
    _ids: count[int] = field(default_factory=lambda: count(1))

    async def send(self, msg: OutboundMessage) -> str | None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(msg)
        return f"ext-{next(self._ids)}"

    def routes(self) -> list[object]:
        return []

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


@dataclass
class WatchedChannel(RecordingChannel):
    """Records sends, and lets a test wait (up to 10 s) for them."""

    news: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, msg: OutboundMessage) -> str | None:
        external_id = await super().send(msg)
        self.news.set()
        return external_id

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.sent) < count:
                self.news.clear()
                await self.news.wait()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    runtime: Runtime
    channel: RecordingChannel
    clock: Clock
    _events: count[int] = field(default_factory=lambda: count(1))

    @classmethod
    async def open(
        cls, settings: Settings, understander: OfflineUnderstander, now: datetime
    ) -> Harness:
        """A started runtime (embedded worker, ingest) whose replies a recording channel keeps."""
        clock = Clock(now)
        runtime = build_runtime(
            settings, clock=clock, embedded_worker=True, understander=understander
        )
        channel = RecordingChannel()
        runtime.outbox.add_sender(channel.name, channel)
        await runtime.ingestor.start()
        return cls(runtime, channel, clock)

    async def close(self) -> None:
        await self.runtime.ingestor.stop()
        await self.runtime.engine.dispose()

    def message(
        self, user: str, text: str, *, ref: str | None = None, channel: str | None = None
    ) -> InboundMessage:
        return InboundMessage(
            channel=channel or self.channel.name,
            external_event_id=f"ev-{next(self._events)}",
            external_user_id=user,
            text=text,
            received_at=self.clock(),
            verified_customer_ref=ref,
        )

    async def say(self, user: str, text: str, *, ref: str | None = None) -> OutboundMessage:
        """Send one customer message through the whole pipeline; return the bot's reply."""
        before = len(self.channel.sent)
        assert await self.runtime.ingest(self.message(user, text, ref=ref))
        await self.process()
        assert len(self.channel.sent) == before + 1, "exactly one reply per message"
        return self.channel.sent[-1]

    async def process(self) -> None:
        assert self.runtime.worker is not None
        await self.runtime.worker.drain()
        while await self.runtime.outbox.run_once():
            pass

    async def customer_with_latest(self, status: str) -> tuple[str, Order]:
        """A demo customer whose most recent order has ``status``."""
        async with self.runtime.session_factory() as session:
            for customer in (await session.scalars(select(Customer).order_by(Customer.id))).all():
                latest = await session.scalar(
                    select(Order)
                    .where(Order.customer_id == customer.id)
                    .order_by(Order.created_at.desc())
                    .limit(1)
                )
                if latest is not None and latest.status == status and customer.external_ref:
                    return customer.external_ref, latest
        raise AssertionError(f"no demo customer with a latest order {status}")
