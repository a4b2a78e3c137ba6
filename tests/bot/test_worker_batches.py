"""The worker's batches on a real store (SQLite and PostgreSQL): order, and nothing lost."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select

import bot.worker
from bot.batch_pipeline import BatchResult
from memory.batch_sql import SqlBatch
from memory.context import SqlContextReader
from memory.models import InboundEvent, Message, OutboxItem
from policies.model import Signals
from tests.bot.harness import Harness

QUESTIONS = (
    "How long does shipping take?",
    "What is your return policy?",
    "Do you ship to Norway?",
)
SENDERS = ("anon-1", "anon-2", "anon-3", "anon-4")


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[BatchResult]:
    """What each batch the worker ran did."""
    seen: list[BatchResult] = []
    real = bot.worker.handle_batch

    async def recorded(*args: Any) -> BatchResult:
        result = await real(*args)
        seen.append(result)
        return result

    monkeypatch.setattr(bot.worker, "handle_batch", recorded)
    return seen


async def ask_everyone(h: Harness, rounds: int) -> None:
    for n in range(rounds):
        for sender in SENDERS:
            assert await h.runtime.ingest(h.message(sender, QUESTIONS[n % len(QUESTIONS)]))


async def turns_by_sender(h: Harness) -> dict[str, list[tuple[str, str]]]:
    async with h.runtime.session_factory() as session:
        rows = (await session.execute(select(Message).order_by(Message.id))).scalars().all()
        outbox = (await session.scalars(select(OutboxItem))).all()
    sender_of = {o.conversation_id: o.external_user_id for o in outbox}
    story: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for m in rows:
        story[sender_of[m.conversation_id]].append((m.author, m.text))
    return story


async def test_one_claim_of_many_senders_is_answered_in_each_senders_order(
    h: Harness, batches: list[BatchResult]
) -> None:
    await ask_everyone(h, rounds=1)  # first words: new identities, one by one
    await h.process()
    await ask_everyone(h, rounds=3)
    await h.process()
    answered_in_batches = sum(len(b.outcomes) for b in batches)
    assert answered_in_batches == 3 * len(SENDERS), "every later question went in a batch"
    story = await turns_by_sender(h)
    for sender in SENDERS:
        asked = [text for author, text in story[sender] if author == "customer"]
        assert asked == [QUESTIONS[0], *QUESTIONS[:3]]
        assert [author for author, _ in story[sender]] == ["customer", "bot"] * 4
    sent_to = defaultdict(list)
    for msg in h.channel.sent:
        sent_to[msg.external_user_id].append(msg.message_id)
    assert all(len(ids) == 4 and ids == sorted(ids) for ids in sent_to.values())
    async with h.runtime.session_factory() as session:
        states = set((await session.scalars(select(InboundEvent.state))).all())
        outbox_states = set((await session.scalars(select(OutboxItem.state))).all())
    assert (states, outbox_states) == ({"done"}, {"sent"})


async def test_a_batch_that_fails_after_storing_the_turns_doubles_nothing(
    h: Harness, batches: list[BatchResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    await ask_everyone(h, rounds=1)
    await h.process()
    real_enqueue = SqlBatch.enqueue
    failures = []

    async def enqueue_fails_once(self: SqlBatch, rows: Any) -> None:
        if not failures:
            failures.append(len(rows))
            raise RuntimeError("the database went away")
        await real_enqueue(self, rows)

    monkeypatch.setattr(SqlBatch, "enqueue", enqueue_fails_once)
    await ask_everyone(h, rounds=1)
    await h.process()
    assert failures == [len(SENDERS)], "the batch got as far as the outbox, then failed"
    story = await turns_by_sender(h)
    for sender in SENDERS:  # each turn stored once, each answered once
        assert [author for author, _ in story[sender]] == ["customer", "bot"] * 2
    assert len(h.channel.sent) == 2 * len(SENDERS)


async def test_a_message_that_cannot_be_processed_holds_back_only_its_sender(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ask_everyone(h, rounds=1)
    await h.process()
    understander = h.runtime.pipeline.understander
    real = understander.understand

    async def chokes_on_boom(text: str, channel: str) -> Signals:
        if text == "boom":
            raise ValueError("cannot read this")
        return await real(text, channel)

    async def chokes_on_a_batch_with_boom(messages: Sequence[tuple[str, str]]) -> list[Signals]:
        return [await chokes_on_boom(text, channel) for text, channel in messages]

    monkeypatch.setattr(understander, "understand", chokes_on_boom)
    monkeypatch.setattr(understander, "understand_many", chokes_on_a_batch_with_boom)
    for sender in SENDERS:
        text = "boom" if sender == "anon-2" else QUESTIONS[1]
        assert await h.runtime.ingest(h.message(sender, text))
    assert await h.runtime.ingest(h.message("anon-2", QUESTIONS[2]))  # waits behind "boom"
    await h.process()
    answered = {m.external_user_id for m in h.channel.sent[len(SENDERS) :]}
    assert answered == set(SENDERS) - {"anon-2"}
    async with h.runtime.session_factory() as session:
        held = (
            await session.scalars(
                select(InboundEvent)
                .where(InboundEvent.external_user_id == "anon-2")
                .order_by(InboundEvent.id)
            )
        ).all()
    assert [(e.text, e.state) for e in held] == [
        (QUESTIONS[0], "done"),
        ("boom", "pending"),
        (QUESTIONS[2], "pending"),
    ]
    assert "cannot read this" in (held[1].error or "")


async def test_the_web_stores_messages_while_the_worker_reads_a_batchs_contexts(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The contexts are read after the batch's turns commit: on SQLite the write lock is
    free meanwhile, so a message that arrives then is stored at once, not queued behind
    the batch (it used to wait for the whole read)."""
    await ask_everyone(h, rounds=1)
    await h.process()
    stored_meanwhile: list[bool] = []
    real = SqlContextReader.build_many

    async def arriving_meanwhile(reader: SqlContextReader, requests: Any) -> Any:
        if not stored_meanwhile:
            async with asyncio.timeout(5):
                stored_meanwhile.append(await h.runtime.ingest(h.message("late", "Hello?")))
        return await real(reader, requests)

    monkeypatch.setattr(SqlContextReader, "build_many", arriving_meanwhile)
    await ask_everyone(h, rounds=1)
    await h.process()
    assert stored_meanwhile == [True]
    story = await turns_by_sender(h)
    assert story["late"] == [("customer", "Hello?"), ("bot", story["late"][1][1])]
