"""The policy in force, as the pipeline sees it (hot-reloaded by the holder)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from policies.engine import decide
from policies.holder import PolicyHolder
from policies.model import Action, Decision, DecisionInput
from policies.serialize import input_to_json
from policies.settings import StaffWait

FALLBACK_QUESTION = (
    "I couldn't find a good answer to that. Could you say a bit more — for example the "
    "order number, or which product or policy you mean?"
)


class PolicyRuntime:
    """Adapts :class:`policies.holder.PolicyHolder` to the pipeline's ``PolicyPort``."""

    def __init__(self, holder: PolicyHolder) -> None:
        self.holder = holder

    @classmethod
    def load(cls, path: Path | None) -> PolicyRuntime:
        return cls(PolicyHolder(path))

    @property
    def version(self) -> str:
        return self.holder.version

    @property
    def continuity_window(self) -> timedelta:
        return self.holder.policy.settings.continuity_window

    def decide(self, inp: DecisionInput) -> Decision:
        return decide(self.holder.policy, inp)

    def input_to_json(self, inp: DecisionInput) -> dict[str, Any]:
        return input_to_json(inp)

    def staff_wait(self, queue: str, now: datetime) -> StaffWait:
        """The wait for a person in ``queue`` now, by the policy in force."""
        return self.holder.policy.settings.staff_wait(queue, now)

    def fallback(self, inp: DecisionInput, reason: str, *, escalate: bool = False) -> Decision:
        """No confident answer: ask to clarify once, then hand to a person.

        ``escalate=True`` (the responder is unavailable) hands over at once.
        """
        fallback = self.holder.policy.settings.clarify_fallback
        if escalate or inp.history.consecutive_clarify >= 1:
            why = (
                f"The bot could not answer ({reason}), so a person takes over"
                if escalate
                else f"The bot could not answer ({reason}) after asking to clarify, "
                "so a person takes over"
            )
            return Decision(
                action=Action.ESCALATE,
                rule_id=f"fallback:{reason}",
                reasons=(why,),
                queue=fallback.queue,
                priority=fallback.priority,
                customer_message=fallback.message,
            )
        return Decision(
            action=Action.CLARIFY,
            rule_id=f"fallback:{reason}",
            reasons=(f"The bot could not answer confidently ({reason}), so it asks to clarify",),
            question=FALLBACK_QUESTION,
        )

    async def watch(self) -> None:
        await self.holder.watch()
