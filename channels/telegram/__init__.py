"""Telegram: a verified webhook (or long polling) in, the Bot API out, on python-telegram-bot."""

from channels.telegram.channel import TelegramChannel
from channels.telegram.limits import SendLimiter
from channels.telegram.parse import bot_id_from_token, parse_update
from channels.telegram.polling import Poller, PollingError
from channels.telegram.webhook_admin import WebhookSetupError, check_webhook_url, register_webhook
from channels.telegram.webhook_secret import check_secret

__all__ = [
    "Poller",
    "PollingError",
    "SendLimiter",
    "TelegramChannel",
    "WebhookSetupError",
    "bot_id_from_token",
    "check_secret",
    "check_webhook_url",
    "parse_update",
    "register_webhook",
]
