"""The lines Threadline writes into a handoff's Slack thread.

A thread reads like the conversation it follows: the customer's turns with the channel they
used, a console reply as ``alice → customer``, a console note marked as not sent, the log
of who claimed or closed it in italics, and the reminder when nobody has claimed it in time.
Everything the customer wrote is escaped, so it can never ping a channel or a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from channels.slack.text import MAX_TEXT_CHARS, clip, escape

MAX_LINE_CHARS = 3_900


def turn_line(turn: Mapping[str, Any]) -> str:
    """One stored turn as a thread reply."""
    author = str(turn.get("author") or "")
    text = clip(escape(str(turn.get("text") or "")), MAX_LINE_CHARS)
    staff = escape(str(turn.get("staff") or "staff"))
    if author == "customer":
        return f"*Customer* ({escape(str(turn.get('channel') or '?'))}): {text}"
    if author == "system":
        return f"_{text}_"
    if author == "staff" and (turn.get("note") or turn.get("internal")):
        return f"_note by {staff} (not sent)_: {text}"
    if author == "staff":
        return f"*{staff} → customer* ({escape(str(turn.get('channel') or '?'))}): {text}"
    return f"*Bot → customer* ({escape(str(turn.get('channel') or '?'))}): {text}"


def waited_text(waited: timedelta) -> str:
    """``1 h 5 min`` / ``25 min`` / ``40 s``: how long a handoff has waited."""
    seconds = max(0, int(waited.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def repost_line(card: Mapping[str, Any], *, mention: str, waited: timedelta) -> str:
    """The reminder broadcast to the channel when a handoff passed its time to claim."""
    reposts = int(card.get("sla_reposts") or 0)
    again = f" (reminder {reposts})" if reposts > 1 else ""
    return clip(
        f"{mention} Handoff #{card['id']} has waited {waited_text(waited)} unclaimed{again}; "
        f"priority raised to *{escape(str(card.get('priority') or '?'))}*. "
        f"Claim it from the card above.",
        MAX_TEXT_CHARS,
    )


def notice_line(text: str) -> str:
    return clip(escape(text), MAX_LINE_CHARS)
