"""The ``settings:`` section of a policy, typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """A staff queue escalations go to; ``claim_within`` is its time-to-claim target."""

    name: str
    claim_within: timedelta | None = None
    description: str | None = None
    slack_channel: str | None = None  # staff Slack channel id for this queue's cards


@dataclass(frozen=True, slots=True)
class FallbackEscalation:
    """Where a conversation goes when the bot would ask to clarify a second time in a row."""

    queue: str = "support"
    priority: str = "normal"
    message: str | None = None


@dataclass(frozen=True, slots=True)
class StaffWait:
    """How long a handoff to a queue should wait for a person, as of one moment.

    ``claim_within``: the queue's time-to-claim target (None: the queue sets none).
    ``opens_at``: the team is away at that moment: when business hours start again (UTC).
    ``claim_by``: when a person should have claimed it: the target counted from now, or
    from the next opening when the team is away; None without a target.
    ``at`` and ``zone``: the moment asked about and the policy's time zone, so the customer
    can be told "tomorrow at 09:00" in the shop's local time.
    """

    claim_within: timedelta | None = None
    opens_at: datetime | None = None
    claim_by: datetime | None = None
    at: datetime | None = None
    zone: tzinfo = UTC

    @property
    def away(self) -> bool:
        """The team is outside business hours (or on a holiday) at ``at``."""
        return self.opens_at is not None


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

    def next_opening(self, moment: datetime, *, horizon_days: int = 21) -> datetime | None:
        """The next start of business hours after ``moment``, in UTC; None without hours.

        Openings are local wall-clock times: 09:00 in Europe/Berlin is 08:00 UTC in winter and
        07:00 UTC in summer, whatever the offset was at ``moment``. An opening that falls into
        the hour skipped when clocks go forward opens when the clocks jump (02:30 on that day
        opens at 03:00 local time: from then on the clock on the wall says it is past 02:30,
        as :meth:`is_business_hours` sees it); one in the hour that happens twice when clocks
        go back opens at both. Instants are compared in UTC: two local times in one zone
        compare by wall clock, which is wrong across a change.
        """
        if not self.business_hours:
            return None
        after = _aware(moment).astimezone(UTC)
        today = self.local(moment).date()
        for ahead in range(horizon_days + 1):
            day = today + timedelta(days=ahead)
            if day in self.holidays:
                continue
            for start, _end in sorted(self.business_hours.get(day.weekday(), ())):
                for opening in _instants_at(datetime.combine(day, start), self.zone):
                    if opening > after:
                        return opening
        return None

    def staff_wait(self, queue: str, moment: datetime) -> StaffWait:
        """What a customer handed to ``queue`` at ``moment`` can be told, and the SLA due.

        Pure: the same moment and settings always give the same wait.
        """
        settings = self.queues.get(queue)
        claim_within = settings.claim_within if settings is not None else None
        at = _aware(moment).astimezone(UTC)
        opens_at = None
        if self.business_hours and not self.is_business_hours(at):
            opens_at = self.next_opening(at)
        start = opens_at or at
        claim_by = start + claim_within if claim_within is not None else None
        return StaffWait(claim_within, opens_at, claim_by, at, self.zone)


def _aware(moment: datetime) -> datetime:
    """A naive moment is taken as UTC, as the store keeps them."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _instants_at(wall: datetime, zone: tzinfo) -> tuple[datetime, ...]:
    """The instants (UTC) from which a clock in ``zone`` shows ``wall`` or later, in order.

    One instant usually; two when clocks go back and ``wall`` happens twice; when clocks
    jump over ``wall``, the moment of the jump.
    """
    first = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the earlier offset
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return (first,) if second == first else (first, second)
    # Skipped: fold=1 reads it with the later offset, which lands before the jump.
    before, after = int(second.timestamp()), int(first.timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return (datetime.fromtimestamp(after, UTC),)
