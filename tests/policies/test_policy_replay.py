"""Stored inputs survive JSON, and replaying them shows what a policy change would flip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from policies.model import Action
from policies.replay import replay
from policies.serialize import input_from_json, input_to_json
from tests.policies.builders import make_input, order, policy_from

CURRENT = """
version: 1
rules:
  - id: person
    when: {intent: human_agent}
    then: escalate
  - id: big-refund
    when: {intent: refund_request, order.total: {gt: 200}}
    then: {escalate: {queue: billing}}
  - id: refund
    when: {intent: refund_request}
    then: answer
default: answer
"""


def test_json_round_trip_keeps_every_fact() -> None:
    inp = make_input(
        "refund for #1234, you idiots",
        "refund_request",
        0.83,
        channel="telegram",
        sentiment=-0.6,
        entities={"order_number": ("1234",), "email": ("a@example.com",)},
        needs_person=True,
        verified=True,
        first_contact=False,
        tags=("vip",),
        tier="gold",
        lifetime_value=1234.5,
        orders_count=7,
        the_order=order(
            id="1234",
            status="delivered",
            total=99.9,
            days_since_delivery=4.5,
            named_in_message=True,
        ),
        contacts=((0, "1234", False), (3.5, None, True)),
        escalations=2,
        bot_failures=1,
        consecutive_clarify=1,
        minutes_since_staff=42.0,
        state="bot",
    )
    data = input_to_json(inp)
    assert input_from_json(json.loads(json.dumps(data))) == inp


def test_round_trip_without_an_order_and_with_a_naive_time() -> None:
    inp = make_input(now=datetime(2026, 3, 4, 12, 0))
    back = input_from_json(json.loads(json.dumps(input_to_json(inp))))
    assert back.order is None
    assert back.now == datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_a_malformed_record_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a stored decision input"):
        input_from_json({"signals": {}})


def test_replay_counts_flips_per_rule_and_the_share_answered(tmp_path: Path) -> None:
    current = policy_from(tmp_path / "current", CURRENT)
    candidate = policy_from(tmp_path / "candidate", CURRENT.replace("gt: 200", "gt: 100"))
    inputs = [
        make_input("refund 150", "refund_request", the_order=order(total=150)),
        make_input("refund 180", "refund_request", the_order=order(total=180)),
        make_input("refund 250", "refund_request", the_order=order(total=250)),
        make_input("refund 50", "refund_request", the_order=order(total=50)),
        make_input("a human please", "human_agent"),
    ]
    report = replay(current, candidate, inputs)
    assert report.total == 5
    assert report.changed == 2
    (flip,) = report.flips
    assert (flip.old_rule, flip.old_action, flip.new_rule, flip.new_action, flip.count) == (
        "refund",
        Action.ANSWER,
        "big-refund",
        Action.ESCALATE,
        2,
    )
    assert flip.examples == ("refund 150", "refund 180")
    assert report.answered_before == pytest.approx(3 / 5)
    assert report.answered_after == pytest.approx(1 / 5)
    assert report.escalated_after == pytest.approx(4 / 5)
    text = report.render()
    assert "Changed: 2 (40.0%)" in text
    assert "Answered by the bot: 60.0% before, 20.0% after" in text
    assert "2  refund (answer) → big-refund (escalate)" in text


def test_replay_of_the_same_policy_changes_nothing(tmp_path: Path) -> None:
    current = policy_from(tmp_path, CURRENT)
    report = replay(current, current, [make_input(), make_input("x", "human_agent")])
    assert (report.changed, report.flips) == (0, ())
    assert report.answered_before == report.answered_after == 0.5


def test_replay_of_nothing(tmp_path: Path) -> None:
    current = policy_from(tmp_path, CURRENT)
    report = replay(current, current, [])
    assert (report.total, report.answered_before) == (0, 0.0)
