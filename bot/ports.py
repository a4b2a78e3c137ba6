"""What the pipeline needs from the parts wired in by the composition root."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from memory.views import Context
from policies.model import Decision, DecisionInput, Signals
from policies.settings import StaffWait


class Understander(Protocol):
    """Intent, entities and sentiment of a message (offline, or from an LLM)."""

    async def understand(self, text: str, channel: str) -> Signals: ...

    async def understand_many(self, messages: Sequence[tuple[str, str]]) -> list[Signals]:
        """``understand`` for each ``(text, channel)``, in order (a worker's batch)."""
        ...


class SyncUnderstander(Protocol):
    def understand(self, text: str, channel: str) -> Signals: ...

    def understand_many(self, messages: Sequence[tuple[str, str]]) -> list[Signals]: ...


class OfflineUnderstander:
    """Runs a CPU-only understander (no I/O) behind the async port."""

    def __init__(self, inner: SyncUnderstander) -> None:
        self.inner = inner

    async def understand(self, text: str, channel: str) -> Signals:
        return self.inner.understand(text, channel)

    async def understand_many(self, messages: Sequence[tuple[str, str]]) -> list[Signals]:
        return self.inner.understand_many(messages)


class KnowledgeEntryLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def answer(self) -> str: ...


class KnowledgeHitLike(Protocol):
    @property
    def entry(self) -> KnowledgeEntryLike: ...
    @property
    def confidence(self) -> float: ...


class KnowledgeSearch(Protocol):
    """The knowledge base as responders use it (``memory.knowledge.KnowledgeBase``)."""

    def search(self, query: str, k: int = 3) -> Sequence[KnowledgeHitLike]: ...


class ResponderUnavailable(Exception):
    """The responder cannot answer safely (model down, timed out, unsafe reply).

    The pipeline turns it into the policy's escalation with ``reason``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PolicyPort(Protocol):
    """The policy in force right now (it may be hot-reloaded between messages)."""

    @property
    def version(self) -> str: ...
    @property
    def continuity_window(self) -> timedelta: ...
    def decide(self, inp: DecisionInput) -> Decision: ...
    def fallback(self, inp: DecisionInput, reason: str, *, escalate: bool = False) -> Decision:
        """When an answer could not be given: clarify once, then escalate
        (at once with ``escalate=True``)."""
        ...

    def input_to_json(self, inp: DecisionInput) -> dict[str, Any]: ...
    def staff_wait(self, queue: str, now: datetime) -> StaffWait:
        """How long a handoff to ``queue`` waits for a person now (target, opening)."""
        ...


class Reply(Protocol):
    """A reply the responder wrote, and what it was grounded in."""

    @property
    def text(self) -> str: ...
    @property
    def kind(self) -> str: ...  # knowledge | order | template | llm
    @property
    def source(self) -> str | None: ...
    @property
    def order_id(self) -> str | None: ...
    @property
    def quick_replies(self) -> tuple[str, ...]: ...
    @property
    def usage(self) -> Mapping[str, Any] | None:
        """Tokens, cost and latency of the model call, when there was one."""
        ...


class Responder(Protocol):
    async def reply(
        self, decision: Decision, context: Context, signals: Signals
    ) -> Reply | None: ...

    def render_action_message(
        self, decision: Decision, context: Context, wait: StaffWait | None = None
    ) -> str:
        """The customer's message for escalate/clarify/verify; ``wait`` says how long a
        person takes (or when the team is back) for a new escalation."""
        ...
