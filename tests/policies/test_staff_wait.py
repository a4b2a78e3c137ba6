"""When the team is back and when a handoff should be claimed, by the policy's settings.

Business hours are local wall-clock times in the policy's time zone: across a daylight saving
change the opening stays at 09:00 local while its UTC instant moves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policies.settings import PolicySettings, StaffWait
from tests.policies.builders import policy_from

BERLIN = """
version: 1
settings:
  timezone: Europe/Berlin
  business_hours:
    mon-fri: "09:00-18:00"
    sat: "10:00-14:00"
    sun: ["02:30-05:00"]
  holidays: [2026-12-24, 2026-12-25, 2026-12-26]
  queues:
    support: {claim_within: 15m}
    billing: {claim_within: 2h}
    callbacks: {description: No target}
rules:
  - id: person
    when: {intent: human_agent}
    then: {escalate: {queue: support}}
default: answer
"""


@pytest.fixture
def berlin(tmp_path: Path) -> PolicySettings:
    return policy_from(tmp_path, BERLIN).settings


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_the_opening_after_the_spring_change_is_nine_local_not_nine_winter_time(
    berlin: PolicySettings,
) -> None:
    # Friday 27 March 2026, 18:30 in Berlin (CET, UTC+1); clocks go forward on Sunday 29th.
    friday_evening = utc(2026, 3, 27, 17, 30)

    saturday = berlin.next_opening(friday_evening)
    monday = berlin.next_opening(utc(2026, 3, 29, 12, 0))  # Sunday afternoon, CEST

    assert saturday == utc(2026, 3, 28, 9, 0)  # 10:00 CET
    assert monday == utc(2026, 3, 30, 7, 0)  # 09:00 CEST (UTC+2)
    assert berlin.local(monday).hour == 9


def test_the_opening_before_the_autumn_change_keeps_nine_local(berlin: PolicySettings) -> None:
    # Friday 23 October 2026, 20:00 CEST; clocks go back on Sunday 25th.
    opening = berlin.next_opening(utc(2026, 10, 23, 18, 0))
    monday = berlin.next_opening(utc(2026, 10, 25, 12, 0))

    assert opening == utc(2026, 10, 24, 8, 0)  # Saturday 10:00 CEST
    assert monday == utc(2026, 10, 26, 8, 0)  # Monday 09:00 CET (UTC+1)


def test_an_opening_in_the_skipped_hour_opens_when_the_clocks_jump(
    berlin: PolicySettings,
) -> None:
    # Sunday 29 March 2026: clocks jump from 02:00 to 03:00, so "02:30" never shows; the
    # team is open from the jump (01:00 UTC, 03:00 CEST) on.
    opening = berlin.next_opening(utc(2026, 3, 29, 0, 30))

    assert opening == utc(2026, 3, 29, 1, 0)
    assert berlin.is_business_hours(opening)
    assert not berlin.is_business_hours(opening - timedelta(seconds=1))


def test_holidays_are_skipped(berlin: PolicySettings) -> None:
    # Wednesday 23 December 2026 after closing: 24th-26th are holidays, 27th is Sunday.
    assert berlin.next_opening(utc(2026, 12, 23, 18, 0)) == utc(2026, 12, 27, 1, 30)  # 02:30 CET


def test_within_hours_the_claim_is_due_one_target_from_now(berlin: PolicySettings) -> None:
    tuesday_ten = utc(2026, 11, 17, 9, 0)  # 10:00 CET

    wait = berlin.staff_wait("billing", tuesday_ten)

    assert wait == StaffWait(
        claim_within=timedelta(hours=2),
        opens_at=None,
        claim_by=utc(2026, 11, 17, 11, 0),
        at=tuesday_ten,
        zone=berlin.zone,
    )
    assert not wait.away


def test_after_hours_the_target_counts_from_the_next_opening(berlin: PolicySettings) -> None:
    tuesday_night = utc(2026, 11, 17, 21, 0)  # 22:00 CET

    wait = berlin.staff_wait("support", tuesday_night)

    assert wait.away
    assert wait.opens_at == utc(2026, 11, 18, 8, 0)  # Wednesday 09:00 CET
    assert wait.claim_by == utc(2026, 11, 18, 8, 15)


def test_on_a_holiday_the_team_is_away(berlin: PolicySettings) -> None:
    christmas_noon = utc(2026, 12, 25, 11, 0)

    wait = berlin.staff_wait("support", christmas_noon)

    assert wait.opens_at == utc(2026, 12, 27, 1, 30)
    assert wait.claim_by == utc(2026, 12, 27, 1, 45)


def test_a_queue_without_a_target_has_no_due_time_but_still_knows_the_opening(
    berlin: PolicySettings,
) -> None:
    open_wait = berlin.staff_wait("callbacks", utc(2026, 11, 17, 9, 0))
    closed_wait = berlin.staff_wait("callbacks", utc(2026, 11, 17, 21, 0))
    unknown_queue = berlin.staff_wait("night-shift", utc(2026, 11, 17, 9, 0))

    assert (open_wait.claim_within, open_wait.claim_by, open_wait.away) == (None, None, False)
    assert closed_wait.claim_by is None and closed_wait.opens_at == utc(2026, 11, 18, 8, 0)
    assert unknown_queue.claim_by is None


def test_without_business_hours_the_team_is_never_away(tmp_path: Path) -> None:
    settings = policy_from(
        tmp_path,
        "version: 1\nsettings:\n  queues: {support: {claim_within: 1h}}\n"
        "rules: []\ndefault: answer\n",
    ).settings
    sunday_night = utc(2026, 11, 22, 23, 0)

    wait = settings.staff_wait("support", sunday_night)

    assert settings.next_opening(sunday_night) is None
    assert not wait.away
    assert wait.claim_by == sunday_night + timedelta(hours=1)


def test_a_naive_moment_is_taken_as_utc(berlin: PolicySettings) -> None:
    naive = datetime(2026, 11, 17, 21, 0)

    assert berlin.staff_wait("support", naive) == berlin.staff_wait(
        "support", naive.replace(tzinfo=UTC)
    )


def test_an_opening_in_the_hour_that_happens_twice_opens_at_its_next_occurrence(
    berlin: PolicySettings,
) -> None:
    # Sunday 25 October 2026: 02:00-03:00 local happens twice (00:00-01:00 UTC in summer
    # time, 01:00-02:00 UTC in winter time). At 01:00 UTC the clock shows 02:00 again.
    before_both = berlin.next_opening(utc(2026, 10, 24, 23, 0))
    between = berlin.next_opening(utc(2026, 10, 25, 1, 0))

    assert before_both == utc(2026, 10, 25, 0, 30)
    assert between == utc(2026, 10, 25, 1, 30)
    assert not berlin.is_business_hours(utc(2026, 10, 25, 1, 0))
    assert berlin.is_business_hours(between)
