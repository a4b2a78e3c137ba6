"""A batch of events on in-memory fakes: the same result as one by one, and what it hands on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.batch_pipeline import handle_batch
from bot.pipeline import PipelineDeps, handle_event
from bot.policy_runtime import PolicyRuntime
from memory.fakes import InMemoryStore, StoreData
from memory.orders import InMemoryOrderSource
from memory.records import EventRecord
from tests.bot.test_pipeline import POLICY, FakeResponder, FakeUnderstander

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


class Shop:
    """One store and its pipeline; events numbered as they are written."""

    def __init__(self, policy_file: Path) -> None:
        self.store = InMemoryStore(InMemoryOrderSource())
        self.now = T0
        self.deps = PipelineDeps(
            uow=self.store,
            understander=FakeUnderstander(),
            policy=PolicyRuntime.load(policy_file),
            responder=FakeResponder(),
            orders=self.store.orders,
            clock=lambda: self.now,
        )
        self._next = 1

    def event(self, user: str, text: str, *, ref: str | None = None) -> EventRecord:
        payload: dict[str, Any] = {"attachments": []}
        if ref:
            payload["verified_customer_ref"] = ref
        event = EventRecord(
            self._next, "webchat", f"e{self._next}", user, text, payload, self.now, 1
        )
        self._next += 1
        return event

    async def one_by_one(self, events: list[EventRecord]) -> None:
        for event in events:
            await handle_event(event, self.deps)


def story(data: StoreData) -> dict[str, Any]:
    """What the customers and staff would see, without the store's ids."""
    return {
        "messages": sorted(
            (m.customer_id, m.author, m.text, m.channel, m.order_ref) for m in data.messages
        ),
        "decisions": sorted(
            (d.action, d.rule_id, d.inputs["signals"]["text"], str(d.outcome["first_decision"]))
            for d in data.decisions
        ),
        "conversations": sorted(
            (c.customer_id, c.state, c.consecutive_clarify, c.bot_failures)
            for c in data.conversations.values()
        ),
        "handoffs": sorted((h.queue, h.priority, h.rule_id) for h in data.handoffs.values()),
        "outbox": sorted((o.external_user_id, o.channel) for o in data.outbox),
        "done": sorted(data.done_events),
    }


FIRST_WORDS = [  # each sender's first message: a new identity and conversation
    ("u1", "shipping_info: hello"),
    ("u2", "shipping_info: hi"),
    ("u3", "shipping_info: hey"),
    ("u4", "shipping_info: good morning"),
]
SECOND_WORDS = [
    ("u1", "shipping_info: how long to Oslo?"),  # answered
    ("u2", "human_agent: a person please"),  # escalated: a handoff
    ("u3", "unknown: hmm"),  # clarified
    ("u4", "5"),  # shaped like a rating: handed on
    ("u5", "shipping_info: first time here"),  # a new sender: handed on
]


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


async def test_a_batch_leaves_the_store_as_one_by_one_would(policy_file: Path) -> None:
    batched, alone = Shop(policy_file), Shop(policy_file)
    for shop in (batched, alone):
        await shop.one_by_one([shop.event(user, text) for user, text in FIRST_WORDS])
        shop.now = T0 + timedelta(minutes=5)
    events = [batched.event(user, text) for user, text in SECOND_WORDS]
    result = await handle_batch(events, batched.deps)
    handed = [h.event.external_user_id for h in result.one_by_one]
    assert handed == ["u4", "u5"]
    assert all(h.signals is not None for h in result.one_by_one), "understood once"
    await batched.one_by_one([h.event for h in result.one_by_one])
    await alone.one_by_one([alone.event(user, text) for user, text in SECOND_WORDS])

    assert story(batched.store.data) == story(alone.store.data)
    by_user = {o.event_id: o for o in result.outcomes}
    assert [by_user[e.id].action for e in events[:3]] == ["answer", "escalate", "clarify"]
    assert by_user[events[1].id].handoff_id is not None


async def test_a_conversation_staff_own_is_handed_on_and_the_bot_stays_quiet(
    policy_file: Path,
) -> None:
    shop = Shop(policy_file)
    await shop.one_by_one([shop.event("u1", "human_agent: a person please")])
    (conversation,) = shop.store.data.conversations.values()
    assert conversation.state == "waiting_staff"
    result = await handle_batch([shop.event("u1", "shipping_info: anyone?")], shop.deps)
    assert result.outcomes == []
    assert [h.event.text for h in result.one_by_one] == ["shipping_info: anyone?"]


async def test_staff_who_take_over_while_the_reply_is_written_keep_the_conversation(
    policy_file: Path,
) -> None:
    shop = Shop(policy_file)
    await shop.one_by_one([shop.event("u1", "shipping_info: hello")])
    responder = shop.deps.responder
    assert isinstance(responder, FakeResponder)

    async def staff_claims_meanwhile(*args: Any) -> Any:
        async with shop.store() as uow:
            (conversation,) = shop.store.data.conversations.values()
            await uow.conversations.update(conversation.id, state="staff")
            await uow.commit()
        return await FakeResponder.reply(responder, *args)

    responder.reply = staff_claims_meanwhile  # type: ignore[method-assign]
    event = shop.event("u1", "shipping_info: and to Oslo?")
    result = await handle_batch([event], shop.deps)
    (outcome,) = result.outcomes
    assert (outcome.action, outcome.reply) == (None, None)
    data = shop.store.data
    assert [m.author for m in data.messages] == ["customer", "bot", "customer"]
    assert event.id in data.done_events


async def test_a_batch_takes_one_event_per_sender(policy_file: Path) -> None:
    shop = Shop(policy_file)
    events = [shop.event("u1", "shipping_info: a"), shop.event("u1", "shipping_info: b")]
    with pytest.raises(ValueError, match="one event per sender"):
        await handle_batch(events, shop.deps)


async def test_a_retry_goes_one_by_one(policy_file: Path) -> None:
    shop = Shop(policy_file)
    await shop.one_by_one([shop.event("u1", "shipping_info: hello")])
    retry = replace(shop.event("u1", "shipping_info: again"), attempts=2)
    result = await handle_batch([retry], shop.deps)
    assert result.outcomes == [] and [h.event.id for h in result.one_by_one] == [retry.id]
