"""The ``settings:`` section of a policy, typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """A staff queue escalations go to; ``claim_within`` is its time-to-claim target."""

    name: str
    claim_within: timedelta | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class FallbackEscalation:
    """Where a conversation goes when the bot would ask to clarify a second time in a row."""

    queue: str = "support"
    priority: str = "normal"
    message: str | None = None


@dataclass(frozen=True, slots=True)
class PolicySettings:
    continuity_window: timedelta = timedelta(hours=72)
    min_intent_confidence: float = 0.5
    timezone: str = "UTC"
    # weekday (0 = Monday) → opening ranges in local time; empty: business hours not set
    business_hours: Mapping[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    queues: Mapping[str, QueueSettings] = field(default_factory=dict)
    clarify_fallback: FallbackEscalation = field(default_factory=FallbackEscalation)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the policy's time zone (a naive moment is taken as UTC)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo("UTC"))
        return moment.astimezone(self.zone)

    def is_holiday(self, moment: datetime) -> bool:
        return self.local(moment).date() in self.holidays

    def is_business_hours(self, moment: datetime) -> bool:
        local = self.local(moment)
        if local.date() in self.holidays:
            return False
        now = local.time()
        return any(
            start <= now < end for start, end in self.business_hours.get(local.weekday(), ())
        )
