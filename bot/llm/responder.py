"""Answers written by a model, grounded in this customer's orders and the shop's articles.

A tool-calling loop with a step limit: the model may look up the customer's orders, tracking
and the knowledge base (only the tools the decision allows, all bound to this customer); its
final text is checked before anyone sees it. A model that fails or times out (after the
fallbacks) raises :class:`ResponderUnavailable` with ``llm_unavailable``, which the pipeline
turns into the policy's escalation; a reply naming another customer's order or contact details
is blocked with ``unsafe_reply``. Named templates and small talk are the offline responder's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.llm.access import OrderAccess
from bot.llm.client import Completion, LlmClient, LlmUnavailable
from bot.llm.conversation import build_messages
from bot.llm.prompts import Prompts
from bot.llm.redaction import contact_details, order_mentions
from bot.llm.tools import CustomerTools, allowed_tools
from bot.ports import KnowledgeSearch, ResponderUnavailable
from bot.responder import OfflineResponder, Reply
from memory.orders import OrderSource
from memory.views import Context
from policies.model import Action, Decision, Signals
from policies.settings import StaffWait

log = logging.getLogger(__name__)

HANDOFF_MARKER = "[[handoff]]"
SMALL_TALK = frozenset({"greeting", "thanks", "goodbye", "out_of_scope"})
DEFAULT_MAX_STEPS = 4
MAX_REPLY_CHARS = 2000


@dataclass
class _Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = 0.0
    calls: int = 0
    tool_calls: int = 0
    model: str = ""

    def add(self, completion: Completion) -> None:
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        self.cost = (
            None if self.cost is None or completion.cost is None else self.cost + completion.cost
        )
        self.calls += 1
        self.tool_calls += len(completion.tool_calls)
        self.model = completion.model or self.model

    def as_dict(self, seconds: float) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cost_usd": None if self.cost is None else round(self.cost, 8),
            "latency_ms": round(seconds * 1000, 1),
            "model_calls": self.calls,
            "tool_calls": self.tool_calls,
        }


class LlmResponder:
    """The :class:`~bot.ports.Responder` that asks a model (through :class:`LlmClient`)."""

    def __init__(
        self,
        client: LlmClient,
        *,
        offline: OfflineResponder,
        knowledge: KnowledgeSearch,
        orders: OrderSource,
        prompts: Prompts,
        clock: Callable[[], datetime],
        knowledge_threshold: float,
        max_steps: int = DEFAULT_MAX_STEPS,
        shop_contacts: Callable[[], Sequence[str]] = tuple,
    ) -> None:
        """``shop_contacts``: the texts that publish the shop's own emails and phone numbers
        (its help articles), read at each reply so an edited article counts at once; those
        are never masked and a reply may give them."""
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self._client = client
        self._offline = offline
        self._knowledge = knowledge
        self._orders = orders
        self._prompts = prompts
        self._clock = clock
        self._threshold = knowledge_threshold
        self._max_steps = max_steps
        self._shop_contacts = shop_contacts

    def render_action_message(
        self, decision: Decision, context: Context, wait: StaffWait | None = None
    ) -> str:
        return self._offline.render_action_message(decision, context, wait)

    async def reply(self, decision: Decision, context: Context, signals: Signals) -> Reply | None:
        if decision.action is not Action.ANSWER:
            raise ValueError(f"reply() answers 'answer' decisions, not {decision.action!r}")
        if decision.template or signals.intent in SMALL_TALK:
            return await self._offline.reply(decision, context, signals)
        started = time.perf_counter()
        access = OrderAccess(context, self._orders)
        shop_emails, shop_phones = contact_details(self._shop_contacts())
        redactor = await access.redactor(shop_emails=shop_emails, shop_phones=shop_phones)
        tools = CustomerTools(
            access,
            self._knowledge,
            redactor,
            allowed=allowed_tools(decision.tools),
            return_window_days=self._offline.templates.return_window_days,
            knowledge_threshold=self._threshold,
        )
        messages = build_messages(
            context,
            signals.text,
            prompts=self._prompts,
            redactor=redactor,
            tools=tools.allowed,
            now=self._clock(),
        )
        usage = _Usage()
        text = await self._loop(messages, tools, usage)
        seconds = time.perf_counter() - started
        if text is None:
            raise ResponderUnavailable("llm_no_answer")
        text = text.strip()[:MAX_REPLY_CHARS]
        if not text or HANDOFF_MARKER in text:
            log.info("the model handed over (conversation %s)", context.conversation_id)
            return None
        leaked = redactor.leaks(text)
        if leaked:
            log.warning(
                "blocked a model reply naming %d item(s) not this customer's (conversation %s)",
                len(leaked),
                context.conversation_id,
            )
            raise ResponderUnavailable("unsafe_reply")
        named = [o for _, _, o in order_mentions(text) if redactor.may_see_order(o)]
        order_id = named[0] if named else (tools.orders_shown[-1] if tools.orders_shown else None)
        return Reply(
            text,
            "llm",
            usage.model or self._client.main_model,
            order_id,
            (),
            usage.as_dict(seconds),
        )

    async def _loop(
        self, messages: list[dict[str, Any]], tools: CustomerTools, usage: _Usage
    ) -> str | None:
        specs = tools.specs()
        for _ in range(self._max_steps):
            try:
                completion = await self._client.complete(messages, specs or None)
            except LlmUnavailable as exc:
                raise ResponderUnavailable("llm_unavailable") from exc
            usage.add(completion)
            if not completion.tool_calls:
                return completion.text or ""
            messages.append(
                {
                    "role": "assistant",
                    "content": completion.text or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments},
                        }
                        for call in completion.tool_calls
                    ],
                }
            )
            for call in completion.tool_calls:
                result = await tools.call(call.name, call.arguments)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        log.warning("the model kept calling tools past %d steps", self._max_steps)
        return None
