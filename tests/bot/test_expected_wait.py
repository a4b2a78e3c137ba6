"""A customer handed to a person is told how long that usually takes, or when the team is back.

Real escalations through the pipeline (SQLite and PostgreSQL), with the clock set to moments
inside and outside business hours: the message names the queue's time to claim, or the next
opening in the policy's local time, and the handoff's ``sla_due_at`` agrees with it.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.ports import OfflineUnderstander
from bot.settings import Settings
from memory.models import Handoff
from tests.bot.fake_llm import Scripted, fake_llm_server, model_settings, text, use_model
from tests.bot.harness import Harness
from tests.conftest import DEMO_NOW

ASK_FOR_PERSON = "I want to talk to a human agent please"
SUPPORT = "I'm passing this to a person on our support team; they'll reply here in this chat."

# Shops in Berlin: the policy's clock is local time, the store's is UTC.
BERLIN_POLICY = """
version: 1
settings:
  timezone: Europe/Berlin
  business_hours: {mon-fri: "09:00-18:00"}
  holidays: [2026-12-24]
  queues:
    support: {claim_within: 15m}
    callbacks: {description: A person calls back; no time to claim}
rules:
  - id: call-me-back
    when: {keywords: [call me back]}
    then: {escalate: {queue: callbacks}}
  - id: person
    when: {intent: human_agent}
    then: {escalate: {queue: support}}
default: {clarify: {}}
"""

MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness(
    demo_database_url: str, understander: OfflineUnderstander, tmp_path: Path
) -> AsyncIterator[MakeHarness]:
    """A runtime on the demo shop with the shipped policy, or the one given."""
    started: list[Harness] = []

    async def make(*, policy: str | None = None, now: datetime = DEMO_NOW) -> Harness:
        settings: dict[str, object] = {"DATABASE_URL": demo_database_url}
        if policy is not None:
            path = tmp_path / "policy.yaml"
            path.write_text(textwrap.dedent(policy).lstrip(), encoding="utf-8")
            settings["THREADLINE_POLICIES"] = path
        harness = await Harness.open(Settings(**settings), understander, now)
        started.append(harness)
        return harness

    yield make
    for harness in started:
        await harness.close()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


async def handoff_of(h: Harness) -> Handoff:
    async with h.runtime.session_factory() as session:
        (handoff,) = (await session.scalars(select(Handoff))).all()
        return handoff


async def test_within_hours_the_customer_hears_the_queues_time_to_claim(
    make_harness: MakeHarness,
) -> None:
    friday_morning = utc(2026, 11, 20, 10, 0)
    h = await make_harness(now=friday_morning)

    reply = await h.say("anna", ASK_FOR_PERSON)

    assert reply.metadata["rule"] == "asks-for-a-person"
    assert reply.text == f"{SUPPORT} Someone usually picks this up within 15 minutes."
    handoff = await handoff_of(h)
    assert handoff.sla_due_at == friday_morning + timedelta(minutes=15)


async def test_a_billing_escalation_names_the_billing_queues_two_hours(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(now=utc(2026, 11, 20, 10, 0))

    reply = await h.say("ben", "I was charged twice for my order")

    assert reply.metadata["rule"] == "money-gone-wrong"
    assert reply.text == (
        "I'm passing this to our billing team; they'll reply here in this chat. "
        "Someone usually picks this up within 2 hours."
    )
    assert (await handoff_of(h)).sla_due_at == utc(2026, 11, 20, 12, 0)


async def test_after_hours_the_shipped_rule_says_when_the_team_is_back(
    make_harness: MakeHarness,
) -> None:
    friday_night = utc(2026, 11, 20, 20, 0)  # the shipped policy: UTC, Saturday 10:00-14:00
    h = await make_harness(now=friday_night)

    reply = await h.say("carla", ASK_FOR_PERSON)

    assert reply.metadata["rule"] == "asks-for-a-person-after-hours"
    assert reply.text == (
        "I've passed your message to our team. We're outside opening hours right now; we're "
        "back tomorrow at 10:00 and a person will reply here then. You don't need to write "
        "again."
    )
    handoff = await handoff_of(h)
    assert handoff.sla_due_at == utc(2026, 11, 21, 10, 15)  # the opening plus 15 minutes


async def test_on_a_holiday_the_customer_hears_the_next_working_day(
    make_harness: MakeHarness,
) -> None:
    christmas = utc(2026, 12, 25, 11, 0)  # Friday; the 26th is a holiday too, then Sunday
    h = await make_harness(now=christmas)

    reply = await h.say("dora", ASK_FOR_PERSON)

    assert "we're back on Monday at 09:00 and a person will reply here then" in reply.text
    assert (await handoff_of(h)).sla_due_at == utc(2026, 12, 28, 9, 15)


async def test_the_opening_is_said_in_the_policys_local_time(make_harness: MakeHarness) -> None:
    tuesday_evening = utc(2026, 11, 17, 19, 30)  # 20:30 in Berlin
    h = await make_harness(policy=BERLIN_POLICY, now=tuesday_evening)

    reply = await h.say("emil", ASK_FOR_PERSON)

    assert reply.text == (
        f"{SUPPORT} Our team is away right now; they're back tomorrow at 09:00 and will reply then."
    )
    assert (await handoff_of(h)).sla_due_at == utc(2026, 11, 18, 8, 15)  # 09:15 CET


async def test_a_weekend_and_a_holiday_name_the_day_the_team_is_back(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(policy=BERLIN_POLICY, now=utc(2026, 11, 21, 12, 0))  # Saturday

    saturday = await h.say("fritz", ASK_FOR_PERSON)
    h.clock.now = utc(2026, 12, 24, 10, 0)  # Christmas Eve (Thursday), a holiday here
    christmas_eve = await h.say("greta", ASK_FOR_PERSON)

    assert saturday.text.endswith("they're back on Monday at 09:00 and will reply then.")
    assert christmas_eve.text.endswith("they're back tomorrow at 09:00 and will reply then.")


async def test_summer_time_keeps_the_opening_at_nine_local(make_harness: MakeHarness) -> None:
    # Friday 27 March 2026, 19:00 CET; the clocks go forward on Sunday.
    h = await make_harness(policy=BERLIN_POLICY, now=utc(2026, 3, 27, 18, 0))

    reply = await h.say("hanna", ASK_FOR_PERSON)

    assert reply.text.endswith("they're back on Monday at 09:00 and will reply then.")
    assert (await handoff_of(h)).sla_due_at == utc(2026, 3, 30, 7, 15)  # 09:15 CEST


async def test_a_queue_without_a_target_adds_nothing_while_the_team_is_open(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(policy=BERLIN_POLICY, now=utc(2026, 11, 17, 10, 0))

    reply = await h.say("ida", "Could you call me back please")

    assert reply.metadata["rule"] == "call-me-back"
    assert (
        reply.text == "I'm passing this to a person on our team; they'll reply here in this chat."
    )
    assert (await handoff_of(h)).sla_due_at is None


async def test_a_queue_without_a_target_still_says_when_the_team_is_back(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(policy=BERLIN_POLICY, now=utc(2026, 11, 17, 19, 30))

    reply = await h.say("jan", "Could you call me back please")

    assert reply.text.endswith("they're back tomorrow at 09:00 and will reply then.")
    assert (await handoff_of(h)).sla_due_at is None


async def test_a_customer_already_waiting_is_not_told_again(make_harness: MakeHarness) -> None:
    h = await make_harness(now=utc(2026, 11, 20, 10, 0))
    await h.say("karl", ASK_FOR_PERSON)
    before = len(h.channel.sent)

    assert await h.runtime.ingest(h.message("karl", "hello? anyone there?"))
    await h.process()

    assert len(h.channel.sent) == before  # a person owns it: the bot stays quiet


async def test_with_a_model_the_escalation_says_the_wait_too(
    make_harness: MakeHarness, understander: OfflineUnderstander
) -> None:
    def shop_model(body: dict[str, Any]) -> Scripted:
        assert body["messages"][0]["content"].startswith("You classify")
        understood = {"intent": "human_agent", "confidence": 0.95, "sentiment": 0.0}
        return text(json.dumps(understood))

    h = await make_harness(now=utc(2026, 11, 20, 20, 0))  # Friday night
    async with fake_llm_server() as fake:
        fake.defaults["main-model"] = shop_model
        use_model(h.runtime, model_settings(h.runtime.settings, fake), understander)

        reply = await h.say("lena", ASK_FOR_PERSON)

    assert reply.metadata["rule"] == "asks-for-a-person-after-hours"
    assert "we're back tomorrow at 10:00 and a person will reply here then" in reply.text
