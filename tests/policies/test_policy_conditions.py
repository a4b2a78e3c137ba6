"""Each condition the language offers holds exactly when the facts say it should."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from policies.engine import decide
from policies.model import DecisionInput
from tests.policies.builders import make_input, one_rule, order

HOURS = "{timezone: Europe/Berlin, business_hours: {mon-fri: '09:00-17:00', sat: '10:00-13:00'}}"

CASES: list[tuple[str, str, str, DecisionInput, DecisionInput]] = [
    # (name, when, settings, an input that matches, one that does not)
    ("intent", "{intent: refund_request}", "",
     make_input(intent="refund_request"), make_input(intent="return_request")),
    ("intent list", "{intent: [refund_request, payment]}", "",
     make_input(intent="payment"), make_input(intent="greeting")),
    ("intent not_in", "{intent: {not_in: [thanks, goodbye]}}", "",
     make_input(intent="payment"), make_input(intent="thanks")),
    ("intent_confidence", "{intent_confidence: {lt: 0.5}}", "",
     make_input(confidence=0.3), make_input(confidence=0.5)),
    ("intent_confident", "{intent_confident: false}", "{min_intent_confidence: 0.6}",
     make_input(confidence=0.59), make_input(confidence=0.6)),
    ("sentiment", "{sentiment: {lte: -0.5}}", "",
     make_input(sentiment=-0.7), make_input(sentiment=-0.2)),
    ("needs_person", "{needs_person: true}", "",
     make_input(needs_person=True), make_input(needs_person=False)),
    ("channel", "{channel: telegram}", "",
     make_input(channel="telegram"), make_input(channel="webchat")),
    ("keywords", "{keywords: [chargeback, money back]}", "",
     make_input("I want my MONEY BACK now"), make_input("moneyback? no")),
    ("keywords whole words only", "{keywords: refund}", "",
     make_input("refund please"), make_input("refunded already")),
    ("pattern", "{pattern: 'lawyer|court'}", "",
     make_input("I'll see you in Court"), make_input("just a question")),
    ("has_order_number", "{has_order_number: true}", "",
     make_input(entities={"order_number": ("1234",)}), make_input(entities={"email": ("a@b.c",)})),
    ("has_email", "{has_email: true}", "",
     make_input(entities={"email": ("a@b.c",)}), make_input()),
    ("has_phone", "{has_phone: true}", "",
     make_input(entities={"phone": ("+15551234567",)}), make_input(entities={"phone": ()})),
    ("customer.verified", "{customer.verified: true}", "",
     make_input(verified=True), make_input(verified=False)),
    ("customer.first_contact", "{customer.first_contact: true}", "",
     make_input(first_contact=True), make_input(first_contact=False)),
    ("customer.tags has", "{customer.tags: vip}", "",
     make_input(tags=("wholesale", "vip")), make_input(tags=("wholesale",))),
    ("customer.tags any", "{customer.tags: [vip, press]}", "",
     make_input(tags=("press",)), make_input(tags=())),
    ("customer.tags none", "{customer.tags: {not_in: [blocked]}}", "",
     make_input(tags=("vip",)), make_input(tags=("blocked",))),
    ("customer.tier", "{customer.tier: gold}", "",
     make_input(tier="gold"), make_input(tier=None)),
    ("customer.lifetime_value", "{customer.lifetime_value: {gte: 1000}}", "",
     make_input(lifetime_value=1000), make_input(lifetime_value=999.99)),
    ("customer.orders_count", "{customer.orders_count: {gt: 5}}", "",
     make_input(orders_count=6), make_input(orders_count=5)),
    ("order.present", "{order.present: false}", "",
     make_input(), make_input(the_order=order())),
    ("order.status", "{order.status: [pending, processing]}", "",
     make_input(the_order=order(status="pending")), make_input(the_order=order(status="shipped"))),
    ("order.status ne", "{order.status: {ne: shipped}}", "",
     make_input(the_order=order(status="pending")), make_input(the_order=order(status="shipped"))),
    ("order.total", "{order.total: {gt: 200}}", "",
     make_input(the_order=order(total=200.01)), make_input(the_order=order(total=200))),
    ("order.total without an order", "{order.total: {lte: 200}}", "",
     make_input(the_order=order(total=10)), make_input()),
    ("order.currency", "{order.currency: EUR}", "",
     make_input(the_order=order()), make_input()),
    ("order.age_days", "{order.age_days: {gte: 14}}", "",
     make_input(the_order=order(age_days=14)), make_input(the_order=order(age_days=13.9))),
    ("order.days_since_delivery", "{order.days_since_delivery: {lte: 30}}", "",
     make_input(the_order=order(status="delivered", days_since_delivery=30)),
     make_input(the_order=order(status="shipped", days_since_delivery=None))),
    ("order.belongs_to_customer", "{order.belongs_to_customer: false}", "",
     make_input(the_order=order(belongs_to_customer=False)), make_input(the_order=order())),
    ("order.named_in_message", "{order.named_in_message: true}", "",
     make_input(the_order=order(named_in_message=True)), make_input(the_order=order())),
    ("history.contacts", "{history.contacts: {within: 7d, gte: 3}}", "",
     make_input(contacts=((0, None, False), (2, None, False), (6.9, None, False))),
     make_input(contacts=((0, None, False), (2, None, False), (7.1, None, False)))),
    ("history.contacts_about_order", "{history.contacts_about_order: {within: 7d, gte: 2}}", "",
     make_input(the_order=order(id="A1"), contacts=((0, "A1", False), (3, "A1", False))),
     make_input(the_order=order(id="A1"), contacts=((0, "A1", False), (3, "B2", False)))),
    ("history.escalated_contacts", "{history.escalated_contacts: {within: 30d, gte: 1}}", "",
     make_input(contacts=((0, None, False), (10, None, True))),
     make_input(contacts=((0, None, False), (40, None, True)))),
    ("history.escalations", "{history.escalations: {gte: 2}}", "",
     make_input(escalations=2), make_input(escalations=1)),
    ("history.bot_failures", "{history.bot_failures: {gte: 2}}", "",
     make_input(bot_failures=2), make_input(bot_failures=1)),
    ("history.consecutive_clarify", "{history.consecutive_clarify: 0}", "",
     make_input(consecutive_clarify=0), make_input(consecutive_clarify=1)),
    ("history.minutes_since_staff", "{history.minutes_since_staff: {lt: 30}}", "",
     make_input(minutes_since_staff=12), make_input(minutes_since_staff=None)),
    ("history.conversation_state", "{history.conversation_state: resolved}", "",
     make_input(state="resolved"), make_input(state="bot")),
    # 2026-03-04 is a Wednesday; Berlin is UTC+1 in March.
    ("time.business_hours", "{time.business_hours: true}", HOURS,
     make_input(now=datetime(2026, 3, 4, 8, 0, tzinfo=UTC)),
     make_input(now=datetime(2026, 3, 4, 16, 0, tzinfo=UTC))),
    ("time.business_hours on saturday", "{time.business_hours: true}", HOURS,
     make_input(now=datetime(2026, 3, 7, 9, 30, tzinfo=UTC)),
     make_input(now=datetime(2026, 3, 8, 9, 30, tzinfo=UTC))),
    ("time.holiday", "{time.holiday: true}", "{timezone: Europe/Berlin, holidays: [2026-12-25]}",
     make_input(now=datetime(2026, 12, 24, 23, 30, tzinfo=UTC)),
     make_input(now=datetime(2026, 12, 24, 22, 30, tzinfo=UTC))),
    ("time.weekday", "{time.weekday: [sat, sun]}", "{timezone: Europe/Berlin}",
     make_input(now=datetime(2026, 3, 6, 23, 30, tzinfo=UTC)),
     make_input(now=datetime(2026, 3, 6, 22, 30, tzinfo=UTC))),
    ("time.weekday range", "{time.weekday: mon-fri}", "",
     make_input(now=datetime(2026, 3, 6, 12, tzinfo=UTC)),
     make_input(now=datetime(2026, 3, 7, 12, tzinfo=UTC))),
    ("time.hour", "{time.hour: {gte: 22}}", "{timezone: America/New_York}",
     make_input(now=datetime(2026, 3, 5, 3, 30, tzinfo=UTC)),
     make_input(now=datetime(2026, 3, 5, 2, 30, tzinfo=UTC))),
    ("all", "{all: [{intent: refund_request}, {order.total: {gt: 100}}]}", "",
     make_input(intent="refund_request", the_order=order(total=150)),
     make_input(intent="refund_request", the_order=order(total=50))),
    ("implicit all", "{intent: refund_request, order.total: {gt: 100}}", "",
     make_input(intent="refund_request", the_order=order(total=150)),
     make_input(intent="payment", the_order=order(total=150))),
    ("any", "{any: [{needs_person: true}, {intent: human_agent}]}", "",
     make_input(intent="human_agent"), make_input(intent="payment")),
    ("not", "{not: {customer.tags: vip}}", "",
     make_input(tags=()), make_input(tags=("vip",))),
    ("nested", "{any: [{all: [{intent: complaint}, {sentiment: {lt: -0.5}}]}, {keywords: sue}]}",
     "", make_input("I will sue"), make_input(intent="complaint", sentiment=-0.3)),
    ("range", "{order.total: {gte: 50, lt: 100}}", "",
     make_input(the_order=order(total=50)), make_input(the_order=order(total=100))),
]  # fmt: skip


@pytest.mark.parametrize(
    ("when", "settings", "matching", "other"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_condition_holds_only_when_the_facts_say_so(
    tmp_path: Path, when: str, settings: str, matching: DecisionInput, other: DecisionInput
) -> None:
    policy = one_rule(tmp_path, when, settings)
    assert decide(policy, matching).rule_id == "hit"
    assert decide(policy, other).rule_id == "default"


def test_every_condition_name_is_covered_here() -> None:
    from policies.catalog import CONDITIONS

    written = " ".join(case[1] for case in CASES)
    missing = [name for name in CONDITIONS if f"{name}:" not in written]
    assert missing == []


def test_a_naive_now_is_taken_as_utc(tmp_path: Path) -> None:
    policy = one_rule(tmp_path, "{time.hour: 12}")
    assert decide(policy, make_input(now=datetime(2026, 3, 4, 12, 0))).rule_id == "hit"
