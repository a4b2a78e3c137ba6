"""/link on the in-memory store: the fakes link as the real store does."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.pipeline import Outcome, PipelineDeps, handle_event
from bot.policy_runtime import PolicyRuntime
from memory.fakes import InMemoryStore
from memory.orders import InMemoryOrderSource
from memory.records import EventRecord
from policies.model import Signals

POLICY = "version: 1\nrules: []\ndefault: {clarify: {}}\n"


class Understander:
    async def understand(self, text: str, channel: str) -> Signals:
        return Signals(text=text, channel=channel, intent="unknown", intent_confidence=0.0)

    async def understand_many(self, messages: Sequence[tuple[str, str]]) -> list[Signals]:
        return [await self.understand(text, channel) for text, channel in messages]


class Responder:
    async def reply(self, *args: object) -> None:
        return None

    def render_action_message(self, *args: object) -> str:
        return "Could you tell me more?"


async def test_link_on_one_channel_and_code_on_another(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    store = InMemoryStore(InMemoryOrderSource())
    now = [datetime(2026, 11, 1, 9, 0, tzinfo=UTC)]
    deps = PipelineDeps(
        uow=store,
        understander=Understander(),
        policy=PolicyRuntime.load(tmp_path / "policy.yaml"),
        responder=Responder(),
        orders=store.orders,
        clock=lambda: now[0],
    )
    events = iter(range(1, 100))

    async def say(channel: str, user: str, text: str) -> Outcome:
        n = next(events)
        event = EventRecord(n, channel, f"e{n}", user, text, {}, now[0], 1)
        return await handle_event(event, deps)

    await say("webchat", "w1", "hello")
    issued = await say("webchat", "w1", "/link")
    assert issued.reply is not None and issued.action is None
    match = re.search(r"code is ([A-Z2-9]{8})", issued.reply)
    assert match
    linked = await say("telegram", "t1", f"/start {match.group(1)}")
    assert linked.customer_id == issued.customer_id
    assert linked.conversation_id == issued.conversation_id
    assert linked.reply and "now linked" in linked.reply
    again = await say("telegram", "t2", f"/link {match.group(1)}")
    assert again.reply and "already been used" in again.reply
    now[0] += timedelta(minutes=1)
    follow_up = await say("telegram", "t1", "and?")
    assert follow_up.conversation_id == issued.conversation_id
    data = store.data
    assert [m.channel for m in data.messages if m.conversation_id == issued.conversation_id] == [
        "webchat",
        "webchat",
        "webchat",
        "webchat",
        "telegram",
        "telegram",
        "telegram",
        "telegram",
    ]
    assert {e["action"] for e in data.identity_events} == {"link"}
    assert len(data.outbox) == 5
    assert len(data.done_events) == 5
