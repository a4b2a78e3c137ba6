"""Durations written the way admins write them: ``90s``, ``15m``, ``72h``, ``7d``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """``"7d"`` → 7 days. Raises :class:`ValueError` with a plain message otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration (write a number and a unit: 30s, 15m, 72h, 7d, 2w)"
        )
    amount = float(match.group(1))
    if amount <= 0:
        raise ValueError(f"{text!r} is not a duration: it must be longer than zero")
    return timedelta(**{_UNITS[match.group(2)]: amount})


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of ``value`` (``timedelta(days=7)`` → ``"7d"``)."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
