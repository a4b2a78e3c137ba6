"""How a reply looks on Telegram: text split to the platform's limit, quick replies as buttons."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove
from telegram.constants import MessageLimit

MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)
SHORT_BUTTON = 20  # buttons this short go two to a row


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` characters, at paragraph,
    line or word boundaries when there is one."""
    text = text.strip()
    chunks: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return chunks or [""]


def quick_reply_keyboard(options: Sequence[str]) -> ReplyKeyboardMarkup:
    """A one-time reply keyboard: a tap sends the option's text as the customer's message."""
    labels = [o.strip() for o in options if o.strip()]
    per_row = 2 if all(len(label) <= SHORT_BUTTON for label in labels) else 1
    rows = [
        [KeyboardButton(label) for label in labels[i : i + per_row]]
        for i in range(0, len(labels), per_row)
    ]
    return ReplyKeyboardMarkup(rows, one_time_keyboard=True, resize_keyboard=True)


def no_keyboard() -> ReplyKeyboardRemove:
    """Clears the buttons of an earlier reply, so stale options do not linger."""
    return ReplyKeyboardRemove()


def options_as_text(text: str, options: Sequence[str]) -> str:
    """The text-first fallback: the options listed under the message, one per line."""
    lines = [f"• {o.strip()}" for o in options if o.strip()]
    return "\n".join([text.rstrip(), "", *lines]) if lines else text
