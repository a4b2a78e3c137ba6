"""The composition root: every part of Threadline is built and wired here.

Nothing else creates engines, clients or background tasks. ``build_runtime``
returns a :class:`Runtime` whose ``start()``/``stop()`` run its tasks;
``bot.app.build_app`` mounts it on aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import utcnow
from bot.messages import Author, InboundMessage, OutboundMessage, Turn
from bot.nlu import OfflineUnderstanding
from bot.outbox import OutboxSender, Sender
from bot.pipeline import Outcome, PipelineDeps
from bot.policy_runtime import PolicyRuntime
from bot.ports import OfflineUnderstander, Responder, Understander
from bot.responder import OfflineResponder, Templates
from bot.settings import Settings
from bot.sla import SlaWatcher
from bot.wire_llm import llm_parts, llm_summarizer
from bot.worker import Worker
from memory.context import ContextLimits
from memory.db import create_engine, make_read_session_factory, make_session_factory
from memory.demo import KNOWLEDGE_DIR
from memory.history import demo_customers, recent_turns
from memory.ingest import GroupCommitIngestor
from memory.knowledge import RECOMMENDED_THRESHOLD
from memory.knowledge_holder import KnowledgeHolder
from memory.orders import SqlOrderSource
from memory.store_signals import StoreSignals, store_signals
from memory.unit_of_work import SqlUnitOfWorkFactory

log = logging.getLogger(__name__)

HISTORY_LIMIT = 50
# On SQLite a worker inside the web process pauses this long after each batch. Its
# statements run on the event loop's thread (memory.sqlite_driver), so a batch never
# yields: without the pause the web side only took in a message or two between batches,
# the worker took 3 at a time and answered half as many. With it, the next batch holds
# what arrived (docs/benchmarks.md). On PostgreSQL each statement awaits the server and the
# web side runs meanwhile; there the pause only cost throughput. 40 ms, not 20, since the
# worker's batches got cheaper: 6–9% more replies, a lower p50 (10 ms less would cost 8%).
WORKER_LINGER_IN_WEB_S = 0.04


class Service(Protocol):
    """A part of the web process with routes and a lifetime (the staff console, staff Slack)."""

    name: str

    def routes(self) -> list[web.AbstractRouteDef]: ...
    async def startup(self) -> None: ...
    async def shutdown(self) -> None: ...


class Channel(Service, Sender, Protocol):
    """A service customers write on, that also delivers the bot's and staff's replies."""


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    read_factory: async_sessionmaker[AsyncSession]
    context_limits: ContextLimits
    policy: PolicyRuntime
    pipeline: PipelineDeps
    ingestor: GroupCommitIngestor
    worker: Worker | None
    outbox: OutboxSender
    channels: dict[str, Channel] = field(default_factory=dict)
    # For staff, not customers: served and started like channels, never given replies.
    services: dict[str, Service] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow
    # Set when staff Slack is wired (bot.wire_staff_slack): wakes its post sender.
    wake_staff_posts: Callable[[], None] = lambda: None
    # Raises and reposts handoffs nobody claimed in time (bot.sla); set by build_runtime.
    sla: SlaWatcher | None = None
    # News of work stored by the other process (web ↔ worker); set by build_runtime.
    signals: StoreSignals | None = None
    # What the responders answer from; reloaded when its folder changes.
    knowledge: KnowledgeHolder | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def ingest(self, msg: InboundMessage) -> bool:
        """Validate and store one inbound message durably; True if it is new."""
        if not msg.text.strip() and not msg.attachments:
            raise ValueError("empty message")
        if len(msg.text) > self.settings.max_message_chars:
            raise ValueError(f"message longer than {self.settings.max_message_chars} characters")
        return await self.ingestor.ingest(msg)

    async def history(self, channel: str, external_user_id: str, limit: int) -> list[Turn]:
        turns = await recent_turns(self.read_factory, channel, external_user_id, limit)
        return [
            Turn(
                message_id=t.message_id,
                author=Author(t.author),
                channel=t.channel,
                text=t.text,
                created_at=t.created_at,
            )
            for t in turns
        ]

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel
        self.outbox.add_sender(channel.name, channel)

    def add_service(self, service: Service) -> None:
        self.services[service.name] = service

    def wake(self, kind: str) -> None:
        """Another process stored work of ``kind`` (memory.store_signals.KINDS)."""
        if kind == "inbound" and self.worker is not None:
            self.worker.wake()
        elif kind == "outbox":
            self.outbox.wake()
        elif kind == "staff_posts":
            self.wake_staff_posts()

    def parts(self) -> list[Service]:
        """Every channel and service: what the app serves, starts and stops."""
        return [*self.channels.values(), *self.services.values()]

    async def start(self) -> None:
        await self.ingestor.start()
        for part in self.parts():
            await part.startup()
        if self.worker is not None:
            await self.worker.start()
        await self.outbox.start()
        if self.sla is not None:
            await self.sla.start()
        if self.signals is not None:
            await self.signals.start()
        self._tasks.append(asyncio.create_task(self.policy.watch(), name="policy-watch"))
        if self.knowledge is not None:
            self._tasks.append(asyncio.create_task(self.knowledge.watch(), name="knowledge-watch"))
        log.info(
            "Threadline started: channels on: %s; staff: %s; worker: %s; policy %s",
            ", ".join(sorted(self.channels)) or "none",
            ", ".join(sorted(self.services)) or "none",
            "embedded" if self.worker is not None else "separate process",
            self.policy.version,
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.signals is not None:
            await self.signals.stop()
        if self.sla is not None:
            await self.sla.stop()
        await self.outbox.stop()
        if self.worker is not None:
            await self.worker.stop()
        await self.ingestor.stop()
        for part in self.parts():
            await part.shutdown()
        await self.engine.dispose()


async def _notify_outbox(runtime_outbox: OutboxSender, outcome: Outcome) -> None:
    if outcome.reply_message_id is not None:
        runtime_outbox.wake()


def build_runtime(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    embedded_worker: bool | None = None,
    worker_poll_interval: float = 1.0,
    outbox_poll_interval: float = 1.0,
    understander: Understander | None = None,
    other_process: bool | None = None,
) -> Runtime:
    """Build every part from ``settings``; ``understander`` may be shared (it is pure).

    ``other_process``: the web and the worker run as separate processes, so each listens
    for the work the other stores (memory.store_signals). By default a web process
    without the embedded worker does; ``threadline worker`` passes True.
    """
    engine = create_engine(settings.database_url)
    factory = make_session_factory(engine)
    reads = make_read_session_factory(engine)
    orders = SqlOrderSource(reads)
    policy = PolicyRuntime.load(settings.policies_path)
    if understander is None:
        understander = OfflineUnderstander(
            OfflineUnderstanding.from_file(settings.intents_path)
            if settings.intents_path
            else OfflineUnderstanding.default()
        )
    knowledge = KnowledgeHolder(settings.knowledge_path or KNOWLEDGE_DIR)
    templates = (
        Templates.load(settings.templates_path) if settings.templates_path else Templates.default()
    )
    responder = OfflineResponder(
        knowledge, templates, min_confidence=RECOMMENDED_THRESHOLD, clock=clock
    )
    llm = llm_parts(
        settings,
        knowledge=knowledge,
        orders=orders,
        offline_responder=responder,
        offline_understander=understander,
        clock=clock,
    )
    chosen_responder: Responder = responder
    if llm is not None:
        chosen_responder, understander = llm
    # A model's prompt carries the conversation's last turns; the offline responder
    # answers from the knowledge base and templates, so its contexts skip their texts.
    limits = ContextLimits(turn_texts=llm is not None)
    deps = PipelineDeps(
        uow=SqlUnitOfWorkFactory(factory, orders, limits),
        reads=SqlUnitOfWorkFactory(reads, orders, limits),
        understander=understander,
        policy=policy,
        responder=chosen_responder,
        orders=orders,
        clock=clock,
        staff_slack=staff_slack_configured(settings),
    )
    outbox = OutboxSender(factory, {}, clock=clock, poll_interval=outbox_poll_interval)
    run_worker = settings.embedded_worker if embedded_worker is None else embedded_worker
    worker: Worker | None = None
    if run_worker:

        async def on_processed(outcome: Outcome) -> None:
            await _notify_outbox(outbox, outcome)
            if deps.staff_slack:
                # A new card or a mirrored turn may be waiting (``runtime`` exists by then).
                runtime.wake_staff_posts()

        worker = Worker(
            factory,
            deps,
            summarize=llm_summarizer(settings),
            concurrency=1 if settings.is_sqlite else 4,
            poll_interval=worker_poll_interval,
            linger=WORKER_LINGER_IN_WEB_S if settings.is_sqlite and not other_process else 0.0,
            on_processed=on_processed,
            clock=clock,
        )
    ingestor = GroupCommitIngestor(
        engine,
        writers=1 if settings.is_sqlite else 2,
        on_stored=worker.wake if worker is not None else None,
    )
    runtime = Runtime(
        settings=settings,
        engine=engine,
        session_factory=factory,
        read_factory=reads,
        context_limits=limits,
        policy=policy,
        pipeline=deps,
        ingestor=ingestor,
        worker=worker,
        outbox=outbox,
        clock=clock,
    )
    # Web and worker processes both run it: its conditional updates never double a repost.
    runtime.sla = SlaWatcher(
        factory,
        policy.staff_wait,
        clock=clock,
        staff_slack=deps.staff_slack,
        on_staff_post=lambda: runtime.wake_staff_posts(),
    )
    runtime.knowledge = knowledge
    split = not run_worker if other_process is None else other_process
    if split:
        runtime.signals = store_signals(settings.database_url, runtime.wake)
    return runtime


def staff_slack_configured(settings: Settings) -> bool:
    """Handoffs go to staff Slack: a staff channel and a Slack app to post with."""
    return bool(
        settings.slack_staff_channel
        and settings.slack_bot_token
        and (settings.slack_signing_secret or settings.slack_app_token)
    )


def add_web_channels(runtime: Runtime) -> None:
    """Every channel the web process serves: web chat always, the others when configured."""
    from bot.wire_slack import add_slack
    from bot.wire_staff_console import add_staff_console
    from bot.wire_staff_slack import add_staff_slack
    from bot.wire_telegram import add_telegram

    add_telegram(runtime)
    add_slack(runtime)
    add_staff_slack(runtime)
    add_webchat(runtime)
    add_staff_console(runtime)


def add_webchat(runtime: Runtime) -> None:
    from bot.commands import link_code_issuer
    from channels.webchat import WebchatChannel

    async def history(external_user_id: str, limit: int) -> list[Turn]:
        return await runtime.history("webchat", external_user_id, min(limit, HISTORY_LIMIT))

    async def customers() -> list[dict[str, str]]:
        return await demo_customers(runtime.read_factory)

    def telegram_username() -> str | None:
        """The bot's @username once Telegram is connected (getMe at start-up)."""
        telegram = runtime.channels.get("telegram")
        if telegram is None:
            return None
        try:
            username = telegram.bot.username  # type: ignore[attr-defined]
        except (AttributeError, RuntimeError):  # not connected yet
            return None
        return str(username) if username else None

    runtime.add_channel(
        WebchatChannel(
            secret=runtime.settings.secret,
            ingest=runtime.ingest,
            history=history,
            max_message_chars=runtime.settings.max_message_chars,
            rate_limit=runtime.settings.webchat_rate_limit,
            demo_customers=customers if runtime.settings.demo else None,
            issue_link_code=link_code_issuer(runtime.pipeline.uow, runtime.clock, "webchat"),
            telegram_bot_username=telegram_username,
        )
    )


def describe(outbound: OutboundMessage) -> dict[str, Any]:
    """The JSON a channel-agnostic client (the terminal) shows for one bot turn."""
    meta = outbound.metadata
    return {
        "reply": outbound.text,
        "decision": {
            "action": meta.get("action"),
            "rule": meta.get("rule"),
            "reasons": list(meta.get("reasons", [])),
        },
    }
