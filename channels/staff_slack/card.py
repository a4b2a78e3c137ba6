"""A handoff's context card as Slack Block Kit: what a person needs to pick it up.

Built from the card JSON of ``memory.handoffs.handoff_card`` (the same card the console
shows): who the customer is and where they write now, why the bot handed over, queue,
priority and time to claim, up to three orders, the last turns, the state, and the buttons
that make sense in that state. Every post also carries a plain ``text`` for notifications
and clients that cannot show blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from channels.slack.text import MAX_SECTION_CHARS, clip, escape

ACTION_PREFIX = "threadline_staff_"
CLAIM_ACTION = f"{ACTION_PREFIX}claim"
RESOLVE_ACTION = f"{ACTION_PREFIX}resolve"
HANDBACK_ACTION = f"{ACTION_PREFIX}handback"
CARD_TURNS = 4
CARD_ORDERS = 3
TURN_CHARS = 200
_BUTTONS = {
    CLAIM_ACTION: ("Claim", "primary"),
    RESOLVE_ACTION: ("Resolve", "primary"),
    HANDBACK_ACTION: ("Back to bot", None),
}
_AUTHORS = {"customer": "Customer", "bot": "Bot", "staff": "Staff", "system": "Note"}


def state_line(card: Mapping[str, Any]) -> str:
    """``Waiting`` / ``Claimed by alice`` / ``Resolved by alice`` / ``Back with the bot``."""
    state = str(card.get("state") or "")
    who = card.get("claimed_by")
    if state == "waiting":
        return "Waiting"
    if state == "claimed":
        return f"Claimed by {who}"
    if state == "resolved":
        return f"Resolved by {who}" if who else "Resolved"
    if state == "returned":
        return "Back with the bot"
    return state.capitalize() or "Unknown"


def buttons_for(state: str) -> tuple[str, ...]:
    """The actions that can succeed in ``state``: claim a waiting one, close a claimed one."""
    if state == "waiting":
        return (CLAIM_ACTION, HANDBACK_ACTION)
    if state == "claimed":
        return (RESOLVE_ACTION, HANDBACK_ACTION)
    return ()


def customer_label(card: Mapping[str, Any]) -> str:
    customer = card.get("customer") or {}
    name = customer.get("name") or "Unknown customer"
    email = customer.get("email")
    return f"{name} <{email}>" if email else str(name)


def card_text(card: Mapping[str, Any]) -> str:
    """The notification text: who, where, why, and the state."""
    customer = card.get("customer") or {}
    return (
        f"Handoff #{card['id']}: {customer_label(card)} on {customer.get('channel') or '?'}, "
        f"rule {card.get('rule_id')} ({card.get('queue')}, {card.get('priority')} priority). "
        f"{state_line(card)}."
    )


def card_blocks(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    customer = card.get("customer") or {}
    handoff_id = int(card["id"])
    why = f"`{escape(str(card.get('rule_id') or '?'))}`"
    if card.get("reason"):
        why += f" — {escape(str(card['reason']))}"
    fields = [
        _field("Customer", escape(customer_label(card))),
        _field("Writes on", escape(str(customer.get("channel") or "?"))),
        _field("Queue", escape(str(card.get("queue") or "?"))),
        _field("Priority", escape(str(card.get("priority") or "?"))),
        _field("Claim by", due_text(card.get("sla_due_at"))),
        _field("State", escape(state_line(card))),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": clip(f"Handoff #{handoff_id}", 150)},
        },
        {"type": "section", "fields": fields},
        _mrkdwn_section(f"*Why:* {why}"),
    ]
    orders = order_lines(card.get("orders") or ())
    if orders:
        blocks.append(_mrkdwn_section("*Orders:*\n" + "\n".join(orders)))
    turns = turn_lines(card.get("turns") or ())
    if turns:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": clip("\n".join(turns), MAX_SECTION_CHARS)}],
            }
        )
    actions = buttons_for(str(card.get("state") or ""))
    if actions:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"handoff_{handoff_id}",
                "elements": [_button(action, handoff_id) for action in actions],
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{state_line(card)}*"}]}
    )
    return blocks


def order_lines(orders: Sequence[Mapping[str, Any]]) -> list[str]:
    """``• 1042 · shipped · 59.90 EUR`` for the newest orders."""
    return [
        f"• {escape(str(o.get('id')))} · {escape(str(o.get('status')))} · "
        f"{escape(str(o.get('total')))} {escape(str(o.get('currency') or ''))}".rstrip()
        for o in list(orders)[:CARD_ORDERS]
    ]


def turn_lines(turns: Sequence[Mapping[str, Any]]) -> list[str]:
    """The last turns the customer saw (notes and log lines live in the thread)."""
    shown = [t for t in turns if not t.get("internal")][-CARD_TURNS:]
    lines = []
    for turn in shown:
        author = _AUTHORS.get(str(turn.get("author")), str(turn.get("author")))
        if turn.get("author") == "staff" and turn.get("staff"):
            author = str(turn["staff"])
        text = clip(" ".join(str(turn.get("text") or "").split()), TURN_CHARS)
        lines.append(f"*{escape(author)}* ({escape(str(turn.get('channel')))}): {escape(text)}")
    return lines


def due_text(value: object) -> str:
    """An ISO time as Slack's local-time date token with a UTC fallback; "no target" if None."""
    if not isinstance(value, str) or not value:
        return "no target"
    try:
        due = datetime.fromisoformat(value)
    except ValueError:
        return escape(value)
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    fallback = due.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(due.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(f"*{label}:*\n{value}", 2000)}


def _mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_CHARS)}}


def _button(action: str, handoff_id: int) -> dict[str, Any]:
    label, style = _BUTTONS[action]
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action,
        "text": {"type": "plain_text", "text": label},
        "value": str(handoff_id),
    }
    if style:
        button["style"] = style
    return button
