"""The webhook's secret token: Telegram accepts 1–256 characters of ``A-Za-z0-9_-``."""

from __future__ import annotations

import re

_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def check_secret(secret: str) -> str:
    """Return ``secret`` when Telegram would accept it; raise ValueError saying why not."""
    if not secret:
        raise ValueError("TELEGRAM_WEBHOOK_SECRET is empty")
    if len(secret) > 256:
        raise ValueError(f"TELEGRAM_WEBHOOK_SECRET has {len(secret)} characters; at most 256")
    if _SECRET.match(secret) is None:
        raise ValueError(
            "TELEGRAM_WEBHOOK_SECRET may only use the characters A-Z, a-z, 0-9, _ and -"
        )
    return secret
