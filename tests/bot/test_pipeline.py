"""Pipeline handlers on in-memory fakes of the store: threading, ownership, fallbacks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.pipeline import PipelineDeps, handle_event
from bot.policy_runtime import PolicyRuntime
from bot.summaries import refresh_summary
from memory.fakes import InMemoryStore
from memory.orders import InMemoryOrderSource
from memory.records import EventRecord
from memory.views import Context
from policies.model import Decision, Signals
from policies.settings import StaffWait

POLICY = """\
version: 1
settings:
  continuity_window: 24h
  queues:
    support: {claim_within: 15m}
rules:
  - id: wants-person
    when: {intent: human_agent}
    then: {escalate: {queue: support, priority: high}}
    reason: The customer asked for a person
  - id: shipping
    when: {intent: shipping_info}
    then: answer
default: {clarify: {}}
"""


class FakeUnderstander:
    """Reads the intent from the text's first word ("shipping_info: how long…")."""

    async def understand(self, text: str, channel: str) -> Signals:
        intent = text.split(":", 1)[0] if ":" in text else "unknown"
        return Signals(text=text, channel=channel, intent=intent, intent_confidence=0.9)

    async def understand_many(self, messages: Sequence[tuple[str, str]]) -> list[Signals]:
        return [await self.understand(text, channel) for text, channel in messages]


@dataclass(frozen=True)
class FakeReply:
    text: str
    kind: str = "knowledge"
    source: str | None = "kb-1"
    order_id: str | None = None
    quick_replies: tuple[str, ...] = ()


@dataclass
class FakeResponder:
    answer: str | None = "Shipping takes 2-4 days."
    explode: bool = False
    asked: list[str] = field(default_factory=list)

    async def reply(
        self, decision: Decision, context: Context, signals: Signals
    ) -> FakeReply | None:
        self.asked.append(signals.text)
        if self.explode:
            raise RuntimeError("responder crashed")
        return FakeReply(self.answer) if self.answer else None

    def render_action_message(
        self, decision: Decision, context: Context, wait: StaffWait | None = None
    ) -> str:
        text = f"[{decision.action.value}] {decision.question or decision.queue or ''}".strip()
        if wait is not None and wait.claim_within is not None:
            text += f" (within {wait.claim_within})"
        return text


@dataclass
class World:
    store: InMemoryStore
    responder: FakeResponder
    deps: PipelineDeps
    now: list[datetime]
    next_event: int = 1

    async def say(self, text: str, user: str = "u1", ref: str | None = None):  # type: ignore[no-untyped-def]
        payload = {"attachments": [], "metadata": {}}
        if ref:
            payload["verified_customer_ref"] = ref
        event = EventRecord(
            self.next_event, "webchat", f"e{self.next_event}", user, text, payload, self.now[0], 1
        )
        self.next_event += 1
        return await handle_event(event, self.deps)


@pytest.fixture
def world(tmp_path: Path) -> World:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    store = InMemoryStore(InMemoryOrderSource())
    responder = FakeResponder()
    now = [datetime(2026, 11, 1, 9, 0, tzinfo=UTC)]
    deps = PipelineDeps(
        uow=store,
        understander=FakeUnderstander(),
        policy=PolicyRuntime.load(policy_file),
        responder=responder,
        orders=store.orders,
        clock=lambda: now[0],
    )
    return World(store, responder, deps, now)


async def test_answer_stores_message_decision_reply_and_outbox_together(world: World) -> None:
    outcome = await world.say("shipping_info: how long?")
    data = world.store.data
    assert (outcome.action, outcome.rule_id, outcome.reply) == (
        "answer",
        "shipping",
        "Shipping takes 2-4 days.",
    )
    assert [(m.author, m.text) for m in data.messages] == [
        ("customer", "shipping_info: how long?"),
        ("bot", "Shipping takes 2-4 days."),
    ]
    (decision,) = data.decisions
    assert decision.message_id == data.messages[0].id
    assert decision.inputs["signals"]["intent"] == "shipping_info"
    assert [o.message_id for o in data.outbox] == [data.messages[1].id]
    assert data.done_events == {1}


async def test_no_confident_answer_asks_to_clarify_then_escalates(world: World) -> None:
    world.responder.answer = None
    first = await world.say("shipping_info: hmm?")
    second = await world.say("shipping_info: still hmm?")
    assert first.action == "clarify" and first.rule_id == "fallback:no_confident_answer"
    assert second.action == "escalate"
    (conversation,) = world.store.data.conversations.values()
    assert conversation.state == "waiting_staff"
    assert conversation.bot_failures == 2
    assert len(world.store.data.handoffs) == 1


async def test_a_crashing_responder_falls_back_instead_of_dropping(world: World) -> None:
    world.responder.explode = True
    outcome = await world.say("shipping_info: how long?")
    assert outcome.action == "clarify"
    assert outcome.rule_id == "fallback:responder_error"
    assert world.store.data.outbox, "the customer still gets an answer"


async def test_a_second_clarify_in_a_row_escalates_by_policy(world: World) -> None:
    assert (await world.say("blah")).action == "clarify"
    outcome = await world.say("blah blah")
    assert outcome.action == "escalate"
    assert outcome.handoff_id is not None


async def test_while_staff_own_the_conversation_the_bot_stays_quiet(world: World) -> None:
    await world.say("human_agent: a person please")
    outcome = await world.say("shipping_info: how long?")
    assert outcome.action is None and outcome.reply is None
    assert world.responder.asked == []
    assert world.store.data.messages[-1].text == "shipping_info: how long?"
    assert len(world.store.data.outbox) == 1


async def test_a_new_handoff_gets_its_claim_target_and_staff_slack_posts(world: World) -> None:
    world.deps = replace(world.deps, staff_slack=True)
    escalated = await world.say("human_agent: a person please")
    assert escalated.reply == "[escalate] support (within 0:15:00)"
    handoff = world.store.data.handoffs[escalated.handoff_id or 0]
    assert handoff.sla_due_at == world.now[0] + timedelta(minutes=15)
    later = await world.say("shipping_info: and how long is shipping?")
    customer_turn = world.store.data.messages[-1]
    assert later.reply is None and customer_turn.text.startswith("shipping_info: and")
    assert world.store.data.staff_posts == [
        (handoff.id, "card", None),
        (handoff.id, "mirror", customer_turn.id),
    ]


async def test_without_staff_slack_nothing_is_queued_for_slack(world: World) -> None:
    await world.say("human_agent: a person please")
    await world.say("shipping_info: still there?")
    assert world.store.data.staff_posts == []


async def test_conversation_continues_within_the_window_and_restarts_after(world: World) -> None:
    first = await world.say("shipping_info: a")
    world.now[0] += timedelta(hours=23)
    second = await world.say("shipping_info: b")
    world.now[0] += timedelta(hours=25)
    third = await world.say("shipping_info: c")
    assert first.conversation_id == second.conversation_id != third.conversation_id


async def test_a_resolved_conversation_reopens_with_the_bot(world: World) -> None:
    first = await world.say("shipping_info: a")
    conversation = world.store.data.conversations[first.conversation_id]
    world.store.data.conversations[first.conversation_id] = replace(conversation, state="resolved")
    again = await world.say("shipping_info: b")
    assert again.conversation_id == first.conversation_id
    assert again.action == "answer"
    assert world.store.data.conversations[first.conversation_id].state == "bot"


async def test_a_verified_login_links_to_the_shop_customer(world: World) -> None:
    a = await world.say("shipping_info: a", user="customer:C1", ref="C1")
    b = await world.say("shipping_info: b", user="other-device", ref="C1")
    assert a.customer_id == b.customer_id
    assert a.conversation_id == b.conversation_id, "one customer, one story across sessions"
    anonymous = await world.say("shipping_info: c", user="anon-9")
    assert anonymous.customer_id != a.customer_id


async def test_a_failing_step_leaves_nothing_half_written(world: World) -> None:
    world.responder.answer = "ok"
    world.deps.policy.holder = None  # type: ignore[attr-defined]  # deciding now fails
    with pytest.raises(AttributeError):
        await world.say("shipping_info: a")
    assert world.store.data.messages == []
    assert world.store.data.customers == {}
    assert world.store.data.done_events == set()


async def test_a_crash_after_recording_the_turn_is_retried_without_doubling(
    world: World,
) -> None:
    policy = world.deps.policy
    real_decide = policy.decide

    def crash(inp: object) -> object:
        raise RuntimeError("process died mid-way")

    policy.decide = crash  # type: ignore[method-assign,assignment]
    event = EventRecord(
        7,
        "webchat",
        "e7",
        "u1",
        "shipping_info: how long?",
        {"attachments": [], "metadata": {}},
        world.now[0],
        1,
    )
    with pytest.raises(RuntimeError):
        await handle_event(event, world.deps)
    data = world.store.data
    assert [m.author for m in data.messages] == ["customer"], "the turn itself was recorded"
    assert data.done_events == set() and data.outbox == []

    policy.decide = real_decide  # type: ignore[method-assign]
    outcome = await handle_event(replace(event, attempts=2), world.deps)
    data = world.store.data
    assert outcome.action == "answer"
    assert [m.author for m in data.messages] == ["customer", "bot"]
    assert len(data.decisions) == len(data.outbox) == 1
    assert data.done_events == {7}


async def test_a_closed_conversation_can_be_summarized_again_outside_the_store(
    world: World,
) -> None:
    first = await world.say("shipping_info: how long to Spain?")
    world.now[0] += timedelta(days=3)
    second = await world.say("shipping_info: and to Italy?")
    assert second.closed_conversation_id == first.conversation_id
    extractive = world.store.data.summaries[first.conversation_id]
    assert extractive.startswith("Customer asked: shipping_info: how long to Spain?")

    seen: list[list[tuple[str, str]]] = []

    async def model(turns: list[tuple[str, str]]) -> str:
        seen.append(turns)
        return "Asked about delivery times to Spain; answered 2-4 days."

    summary = await refresh_summary(world.store, first.conversation_id, model)
    assert summary == world.store.data.summaries[first.conversation_id]
    assert seen == [
        [("customer", "shipping_info: how long to Spain?"), ("bot", "Shipping takes 2-4 days.")]
    ]
