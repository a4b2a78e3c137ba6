"""Wiring the Telegram channel into a runtime (part of the composition root)."""

from __future__ import annotations

import logging
import os

from bot.bootstrap import Runtime

log = logging.getLogger(__name__)


def add_telegram(runtime: Runtime) -> bool:
    """Add the Telegram channel when ``TELEGRAM_BOT_TOKEN`` is set; return whether it is on."""
    settings = runtime.settings
    if not settings.telegram_bot_token:
        log.info("telegram: off (TELEGRAM_BOT_TOKEN is not set)")
        return False
    # Opt in to the SDK's coming behaviour: time periods such as a 429's retry_after are
    # timedeltas (the int form is deprecated and warns every time it is read).
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    from channels.telegram import TelegramChannel

    runtime.add_channel(
        TelegramChannel(
            token=settings.telegram_bot_token,
            webhook_secret=settings.telegram_webhook_secret or None,
            api_url=settings.telegram_api_url,
            ingest=runtime.ingest,
        )
    )
    log.info(
        "telegram: on (webhook %s)",
        "verified with TELEGRAM_WEBHOOK_SECRET"
        if settings.telegram_webhook_secret
        else "off until TELEGRAM_WEBHOOK_SECRET is set; long polling works",
    )
    return True
