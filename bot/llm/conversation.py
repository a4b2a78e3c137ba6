"""The messages sent to the model for one reply, built from the context.

The system message holds the operator's instructions and facts Threadline produced itself
(verification, the shop's order records): never a word the customer wrote. Everything the
customer could have written (their name, past-conversation summaries, the turns) travels in
user or assistant messages, quoted and redacted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.llm.prompts import Prompts
from bot.llm.redaction import Redactor
from bot.llm.tools import MY_ORDERS
from memory.views import Context, OrderView

MAX_TURN_CHARS = 2000
MAX_SUMMARY_CHARS = 600
ORDERS_IN_PROMPT = 5
TOOL_WORDS = {
    "my_orders": "list the customer's orders",
    "order_details": "one order's details",
    "tracking": "shipment tracking",
    "search_knowledge": "the shop's help articles",
}


def build_messages(
    context: Context,
    current_text: str,
    *,
    prompts: Prompts,
    redactor: Redactor,
    tools: Sequence[str],
    now: datetime,
) -> list[dict[str, Any]]:
    """System message, quoted context, then the conversation ending with ``current_text``."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": prompts.render("system", facts=_facts(context, tools, now))}
    ]
    quoted = _quoted_context(context, redactor)
    if quoted:
        messages.append({"role": "user", "content": prompts.render("context", context=quoted)})
    turns = list(context.recent_turns)
    if turns and turns[-1].author == "customer" and turns[-1].text == current_text:
        turns = turns[:-1]
    for turn in turns:
        text = redactor.redact(turn.text[:MAX_TURN_CHARS])
        if not text.strip():
            continue
        if turn.author == "customer":
            messages.append({"role": "user", "content": f"[{turn.channel}] {text}"})
        elif turn.author == "staff":
            messages.append({"role": "assistant", "content": f"(a person from the team) {text}"})
        elif turn.author == "bot":
            messages.append({"role": "assistant", "content": text})
    current = redactor.redact(current_text[:MAX_TURN_CHARS])
    messages.append({"role": "user", "content": f"[{context.channel}] {current}"})
    return messages


def _facts(context: Context, tools: Sequence[str], now: datetime) -> str:
    lines = [
        f"- Today is {now.date().isoformat()}; the customer writes on {context.channel}.",
        f"- Tools you may use now: {_tool_list(tools)}.",
    ]
    if context.verified:
        lines.append(f"- The customer is verified ({context.verified_via or 'known identity'}).")
    else:
        lines.append(
            "- The customer is NOT verified. Share no order details unless a tool returns "
            "them; to verify, ask for the order number and the email address on the order."
        )
    if MY_ORDERS in tools and context.verified:
        own = [o for o in context.orders if o.customer_id == context.customer.id]
        lines.append(f"- Orders on the account: {context.orders_count}.")
        lines.extend(_order_line(o) for o in own[:ORDERS_IN_PROMPT])
    if context.past_conversations:
        lines.append(
            f"- Earlier conversations: {len(context.past_conversations)} "
            f"({sum(1 for p in context.past_conversations if p.escalated)} handed to a person)."
        )
    if context.bot_failures:
        lines.append(f"- The assistant already failed to answer {context.bot_failures} time(s).")
    return "\n".join(lines)


def _order_line(order: OrderView) -> str:
    return (
        f"  - {order.id}: {order.status}, ordered {order.created_at.date().isoformat()}, "
        f"{order.total} {order.currency}"
    )


def _tool_list(tools: Sequence[str]) -> str:
    if not tools:
        return "none (answer from the context, or hand over)"
    return ", ".join(f"{t} ({TOOL_WORDS.get(t, t)})" for t in tools)


def _quoted_context(context: Context, redactor: Redactor) -> str:
    customer = context.customer
    lines: list[str] = []
    if customer.name:
        lines.append(f"Customer name: {redactor.redact(customer.name[:100])}")
    if context.verified and customer.email:
        lines.append(f"Email on file: {customer.email}")
    if context.verified and customer.phone:
        lines.append(f"Phone on file: {customer.phone}")
    if context.past_conversations:
        lines.append("Earlier conversations (newest first):")
        for past in context.past_conversations:
            summary = redactor.redact((past.summary or "no summary")[:MAX_SUMMARY_CHARS])
            escalated = ", handed to a person" if past.escalated else ""
            lines.append(
                f"- {past.started_at.date().isoformat()} on {past.channel}{escalated}: {summary}"
            )
    return "\n".join(lines)
