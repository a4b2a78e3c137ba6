"""Slack's message text, to and from plain text.

Slack escapes ``&``, ``<`` and ``>`` and wraps links, e-mail addresses and mentions in angle
brackets (``<mailto:ada@example.com|ada@example.com>``, ``<@U123>``). The pipeline wants what
the customer typed: an order number or an e-mail address must reach it as written.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"<([^<>]*)>")
_LEADING_MENTION = re.compile(r"^\s*<@([A-Z0-9]+)(?:\|[^>]*)?>[\s,:]*")
# chat.postMessage accepts up to 40,000 characters of text; a section block up to 3,000.
MAX_TEXT_CHARS = 40_000
MAX_SECTION_CHARS = 3_000


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Drop the mentions of the bot that open a message (``<@B0T> where is my order``)."""
    if not bot_user_id:
        return text
    while True:
        match = _LEADING_MENTION.match(text)
        if match is None or match.group(1) != bot_user_id:
            return text
        text = text[match.end() :]


def to_plain(text: str) -> str:
    """Slack message text → what the customer typed."""
    return _unescape(_SPECIAL.sub(_plain_special, text)).strip()


def _plain_special(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    if target.startswith(("@", "#")):
        return target[0] + label if label else target
    if target.startswith("!"):
        # <!here>, <!channel>, <!subteam^ID|@team>, <!date^…|fallback>
        return label or "@" + target[1:].split("^", 1)[0]
    if target.startswith(("http://", "https://", "tel:")):
        return target.removeprefix("tel:")
    return label or target


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape(text: str) -> str:
    """Plain text → Slack message text that shows exactly that text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
