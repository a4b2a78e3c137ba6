"""What the pipeline needs from the parts wired in by the composition root."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from memory.views import Context
from policies.model import Decision, DecisionInput, Signals


class Understander(Protocol):
    def understand(self, text: str, channel: str) -> Signals: ...


class PolicyPort(Protocol):
    """The policy in force right now (it may be hot-reloaded between messages)."""

    @property
    def version(self) -> str: ...
    @property
    def continuity_window(self) -> timedelta: ...
    def decide(self, inp: DecisionInput) -> Decision: ...
    def fallback(self, inp: DecisionInput, reason: str) -> Decision:
        """When an answer could not be given: clarify once, then escalate."""
        ...

    def input_to_json(self, inp: DecisionInput) -> dict[str, Any]: ...


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


class Responder(Protocol):
    async def reply(
        self, decision: Decision, context: Context, signals: Signals
    ) -> Reply | None: ...

    def render_action_message(self, decision: Decision, context: Context) -> str: ...
