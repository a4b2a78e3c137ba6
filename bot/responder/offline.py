"""The offline responder: answers from the knowledge base and the customer's real orders.

No model is involved. An ``answer`` decision becomes a :class:`Reply` built from a template over
real order fields or from a knowledge entry that matched well enough; when nothing fits,
:meth:`OfflineResponder.reply` returns ``None`` and the pipeline follows the policy's fallback
(clarify, then escalate). It never guesses, and an unverified customer never sees order
details, whatever the decision says.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.ports import KnowledgeSearch
from bot.responder.fields import general_fields, merged, order_fields, order_list, return_deadline
from bot.responder.order_choice import (
    Ambiguous,
    Found,
    NoOrders,
    NotFound,
    choose_order,
    has_open_order,
)
from bot.responder.template_names import ORDER_INTENTS
from bot.responder.templates import (
    Rendered,
    Templates,
    fill_policy_message,
    policy_message_fields,
    wait_fields,
)
from memory.views import Context, OrderView
from policies.model import Action, Decision, Signals
from policies.settings import StaffWait

log = logging.getLogger(__name__)

# "my order", "when will I get…": the question is about the customer's own parcel.
PERSONAL = re.compile(r"\b(my|mine|me|i|i'm|i've|our|us)\b", re.IGNORECASE)

ORDER_NUMBER = "order_number"
SMALL_TALK = frozenset({"greeting", "thanks", "goodbye", "out_of_scope"})
# Status questions that only an order can answer: an unverified customer is asked to verify.
PERSONAL_INTENTS = frozenset({"order_status", "tracking"})
# A decision's ``tools`` allow order answers / knowledge answers when a name contains these.
ORDER_TOOL_WORDS = ("order", "track")
KNOWLEDGE_TOOL_WORDS = ("knowledge", "faq")
STAFF_STATES = frozenset({"waiting_staff", "staff"})


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says. ``kind``: knowledge | order | template; ``source``: the KB entry id
    or template name it came from."""

    text: str
    kind: str
    source: str | None
    order_id: str | None = None
    quick_replies: tuple[str, ...] = ()
    usage: Mapping[str, Any] | None = None  # model tokens/cost/latency; none offline


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OfflineResponder:
    def __init__(
        self,
        knowledge: KnowledgeSearch,
        templates: Templates,
        *,
        min_confidence: float,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be between 0 and 1")
        self._knowledge = knowledge
        self._templates = templates
        self._min_confidence = min_confidence
        self._clock = clock

    @property
    def templates(self) -> Templates:
        return self._templates

    async def reply(self, decision: Decision, context: Context, signals: Signals) -> Reply | None:
        """The answer to an ``answer`` decision, or None when nothing fits well enough."""
        if decision.action is not Action.ANSWER:
            raise ValueError(f"reply() answers 'answer' decisions, not {decision.action!r}")
        if decision.template:
            return self._named_template(decision, context, signals)
        intent = signals.intent
        if intent in SMALL_TALK:
            return self.template_reply(intent, context)
        orders_allowed = _allows(decision, ORDER_TOOL_WORDS)
        if intent in ORDER_INTENTS and orders_allowed:
            named = bool(signals.entities.get(ORDER_NUMBER))
            if not context.verified and (named or intent in PERSONAL_INTENTS):
                return self.template_reply("verify_identity", context)
            if context.verified:
                answer = self._order_reply(intent, context, signals)
                if answer is not None:
                    return answer
        if _allows(decision, KNOWLEDGE_TOOL_WORDS):
            answer = self._knowledge_reply(signals.text)
            if answer is not None:
                return answer
        unverified_order_question = (
            intent in ORDER_INTENTS and intent != "delivery_time" and not context.verified
        )
        if unverified_order_question and orders_allowed:
            return self.template_reply("verify_identity", context)
        return None

    def action_reply(
        self, decision: Decision, context: Context, wait: StaffWait | None = None
    ) -> Reply:
        """The customer's message for ``escalate``, ``clarify`` and ``verify_identity``.

        ``wait`` (a new escalation only) adds how long a person usually takes, or when the
        team is back, unless the policy's own message already says so.
        """
        if decision.action is Action.ESCALATE:
            return self._escalation_reply(decision, context, wait)
        if decision.action is Action.CLARIFY:
            if decision.question and decision.question.strip():
                return Reply(decision.question.strip(), "template", "policy")
            return self.template_reply("clarify", context)
        if decision.action is Action.VERIFY_IDENTITY:
            return self.template_reply("verify_identity", context)
        raise ValueError("the text of an 'answer' decision comes from reply()")

    def render_action_message(
        self, decision: Decision, context: Context, wait: StaffWait | None = None
    ) -> str:
        return self.action_reply(decision, context, wait).text

    def template_reply(
        self, name: str, context: Context, extra: Mapping[str, str] | None = None
    ) -> Reply:
        """A template that needs no order (greeting, thanks, verify_identity …)."""
        fields = merged(self._general(context), extra or {})
        rendered = self._templates.render(name, fields)
        return _template_reply(rendered)

    # --- escalations ---

    def _escalation_reply(
        self, decision: Decision, context: Context, wait: StaffWait | None
    ) -> Reply:
        team = {"team": self._templates.team(decision.queue)}
        fields = wait_fields(wait) if wait is not None else {}
        own = (decision.customer_message or "").strip()
        if own:
            filled = fill_policy_message(own, fields)
            if filled is not None:
                if policy_message_fields(own):
                    return Reply(filled, "template", "policy")
                return Reply(
                    _sentences(filled, self._wait_sentence(context, team, wait)),
                    "template",
                    "policy",
                )
            # {opens_at} while the team is open, {claim_within} for a queue without one.
            log.warning(
                "policy rule %s: its message needs {%s}, which is not known now; "
                "the escalate template is used instead",
                decision.rule_id,
                "}, {".join(sorted(policy_message_fields(own) - fields.keys())),
            )
        if context.conversation_state in STAFF_STATES:
            return self.template_reply("escalate.waiting", context, team)
        reply = self.template_reply("escalate", context, team)
        sentence = self._wait_sentence(context, team, wait)
        if sentence is None:
            return reply
        return Reply(
            _sentences(reply.text, sentence), reply.kind, reply.source, None, reply.quick_replies
        )

    def _wait_sentence(
        self, context: Context, team: Mapping[str, str], wait: StaffWait | None
    ) -> str | None:
        """``escalate.after_hours`` when the team is away, else ``escalate.wait`` when the
        queue has a time to claim; None when there is nothing to tell."""
        if wait is None:
            return None
        if wait.away:
            name = "escalate.after_hours"
        elif wait.claim_within is not None:
            name = "escalate.wait"
        else:
            return None
        fields = merged(self._general(context), team, wait_fields(wait))
        rendered = self._templates.render_first([name], fields)
        if rendered is None:
            log.warning("template %s cannot be said for this wait; left out", name)
            return None
        return rendered.text

    # --- orders ---

    def _order_reply(self, intent: str, context: Context, signals: Signals) -> Reply | None:
        refs = signals.entities.get(ORDER_NUMBER, ())
        if (
            intent == "delivery_time"
            and not refs
            and not (has_open_order(context.orders) and PERSONAL.search(signals.text))
        ):
            # "How long does shipping take?" is the shipping policy, not their parcel.
            return None
        choice = choose_order(intent, signals.text, refs, context.orders)
        general = self._general(context)
        if isinstance(choice, NotFound):
            fields = merged(general, {"order_ref": choice.ref})
            return _template_reply(self._templates.render("order.not_found", fields))
        if isinstance(choice, NoOrders):
            if intent in PERSONAL_INTENTS:
                return self.template_reply("order.none", context)
            return None
        if isinstance(choice, Ambiguous):
            return self._choose_reply(intent, choice, general)
        return self._found_reply(intent, choice, general)

    def _found_reply(self, intent: str, choice: Found, general: Mapping[str, str]) -> Reply | None:
        order = choice.order
        fields = merged(general, self._order_fields(order))
        chain = self._variants(order)
        names = [f"{intent}.{v}" for v in chain] + [f"order.{v}" for v in chain]
        rendered = self._templates.render_first(names, fields)
        if rendered is None:
            log.warning("no order template renders for order %s (%s)", order.id, order.status)
            return None
        quick = list(rendered.quick_replies)
        for other in choice.others:
            other_fields = merged(general, self._order_fields(other))
            quick.extend(self._templates.render_quick_replies("order.choose", other_fields))
        return Reply(rendered.text, "order", rendered.name, order.id, _unique(quick))

    def _choose_reply(self, intent: str, choice: Ambiguous, general: Mapping[str, str]) -> Reply:
        name = f"{intent}.choose" if self._templates.has(f"{intent}.choose") else "order.choose"
        listing = order_list(choice.candidates, self._templates.zone)
        rendered = self._templates.render(name, merged(general, {"order_list": listing}))
        quick: list[str] = []
        for order in choice.candidates:
            fields = merged(general, self._order_fields(order))
            quick.extend(self._templates.render_quick_replies(name, fields))
        return Reply(rendered.text, "template", name, None, _unique(quick))

    def _variants(self, order: OrderView) -> tuple[str, ...]:
        status = order.status
        variants: tuple[str, ...] = ()
        if status in ("pending", "processing"):
            variants = ("pending",)
        elif status == "shipped":
            variants = ("shipped", "shipped.no_link", "shipped.untracked")
        elif status == "delivered":
            deadline = return_deadline(order, self._templates.return_window_days)
            if deadline is None:
                variants = ("delivered.undated",)
            elif self._clock() <= deadline:
                variants = ("delivered.returnable",)
            else:
                variants = ("delivered.not_returnable",)
        elif status in ("cancelled", "return_requested", "refunded"):
            variants = (status,)
        return (*variants, "other")

    def _order_fields(self, order: OrderView) -> dict[str, str]:
        return order_fields(
            order,
            window_days=self._templates.return_window_days,
            zone=self._templates.zone,
            now=self._clock(),
        )

    def _general(self, context: Context) -> dict[str, str]:
        return general_fields(context.customer, self._templates.return_window_days)

    # --- templates named by the policy, and the knowledge base ---

    def _named_template(
        self, decision: Decision, context: Context, signals: Signals
    ) -> Reply | None:
        name = decision.template or ""
        if not self._templates.has(name):
            log.warning("policy rule %s names unknown template %r", decision.rule_id, name)
            return None
        general = merged(self._general(context), {"team": self._templates.team(decision.queue)})
        if not self._templates.uses_order_fields(name):
            return _template_reply(self._templates.render(name, general))
        if not context.verified:
            return self.template_reply("verify_identity", context)
        refs = signals.entities.get(ORDER_NUMBER, ())
        choice = choose_order(signals.intent, signals.text, refs, context.orders)
        if isinstance(choice, NotFound):
            fields = merged(general, {"order_ref": choice.ref})
            return _template_reply(self._templates.render("order.not_found", fields))
        if not isinstance(choice, Found):
            return None
        fields = merged(general, self._order_fields(choice.order))
        rendered = self._templates.render_first([name], fields)
        if rendered is None:
            return None
        return Reply(rendered.text, "order", rendered.name, choice.order.id, rendered.quick_replies)

    def _knowledge_reply(self, text: str) -> Reply | None:
        if not text.strip():
            return None
        hits = self._knowledge.search(text, k=3)
        if not hits:
            return None
        best = max(hits, key=lambda hit: hit.confidence)
        answer = best.entry.answer.strip()
        if best.confidence < self._min_confidence or not answer:
            return None
        return Reply(answer, "knowledge", str(best.entry.id))


def _allows(decision: Decision, words: tuple[str, ...]) -> bool:
    if decision.tools is None:
        return True
    return any(word in tool.lower() for tool in decision.tools for word in words)


def _sentences(first: str, second: str | None) -> str:
    return first if not second else f"{first} {second}"


def _template_reply(rendered: Rendered) -> Reply:
    return Reply(rendered.text, "template", rendered.name, None, rendered.quick_replies)


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))
