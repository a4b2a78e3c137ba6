"""Bot API errors → :class:`SendError`: what the outbox should do about each."""

from __future__ import annotations

from datetime import timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.messages import SendError


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, whichever type this SDK version hands out."""
    value: object = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"unexpected retry_after {value!r}")


def send_error(exc: TelegramError) -> SendError:
    """Flood control waits, a blocked bot or a bad chat is permanent, the network backs off."""
    if isinstance(exc, RetryAfter):
        seconds = retry_after_seconds(exc)
        return SendError(f"Telegram flood control: retry in {seconds:g} s", retry_after=seconds)
    if isinstance(exc, Forbidden):
        # The customer blocked the bot (or deleted their account): retrying cannot help.
        return SendError(f"Telegram refused: {exc.message}", permanent=True)
    if isinstance(exc, ChatMigrated | BadRequest):
        return SendError(f"Telegram rejected the message: {exc.message}", permanent=True)
    if isinstance(exc, InvalidToken):
        return SendError(f"Telegram does not accept the bot token: {exc.message}")
    if isinstance(exc, NetworkError):
        return SendError(f"Telegram unreachable: {exc.message}")
    return SendError(f"Telegram error: {exc.message}")
