"""Registering the webhook with Telegram (``threadline telegram set-webhook``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from telegram import Bot
from telegram.error import TelegramError

from channels.telegram.polling import ALLOWED_UPDATES
from channels.telegram.webhook_secret import check_secret


class WebhookSetupError(Exception):
    """The webhook could not be registered; the message says what to fix."""


def check_webhook_url(url: str) -> str:
    """Telegram only calls public HTTPS URLs."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{url!r}: Telegram only calls https:// URLs with a host name")
    return url


async def register_webhook(
    *,
    token: str,
    api_url: str,
    url: str,
    secret: str,
    drop_pending_updates: bool = False,
) -> str:
    """Point Telegram at ``url`` with ``secret``; returns the bot's @username."""
    check_webhook_url(url)
    check_secret(secret)
    api = api_url.rstrip("/")
    bot = Bot(token=token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot")
    try:
        async with bot:  # getMe checks the token first
            await bot.set_webhook(
                url=url,
                secret_token=secret,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=drop_pending_updates,
            )
            return bot.username
    except TelegramError as exc:
        raise WebhookSetupError(f"Telegram refused: {exc.message}") from exc
