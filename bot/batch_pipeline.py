"""The pipeline for a batch of events: the same steps, a few statements per batch.

``handle_batch`` takes at most one event per sender and does for all of them what
``handle_event`` does for one, with set-based reads and writes (``uow.batch``):

1. Record (one transaction): identities, the customers their channels vouch for,
   each customer's latest conversation, the customers' turns. Then their contexts,
   read after it commits (``deps.reads``: on SQLite a reader does not hold the write
   lock, so the web process stores new messages meanwhile).
2. Decide and write the replies, outside any transaction (a few at once: a model
   may take seconds for each, and a provider limits how many it serves at once).
3. Act (one transaction): the replies, the decisions, handoffs, the conversations'
   new state, the outbox rows, the events marked done.

What the batch does not do it hands back, untouched, to be processed one by one
with ``handle_event``: a retry, a link command, a rating, a proof by order, a new
sender, a vouched claim that changes who the sender is, a second sender of the
same customer, a new conversation, a conversation staff own. Those are rare and
touch more of the store; a batch of ordinary questions is the common case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.commands import parse_link_command
from bot.facts import decision_input, order_in_question
from bot.handoff import parse_rating
from bot.pipeline import (
    STAFF_STATES,
    Act,
    Outcome,
    PipelineDeps,
    Recorded,
    act_on,
    acted,
    claims_of,
    decision_row,
    mirror_to_staff,
    open_handoff,
    outbox_row,
    reply_row,
    state_fields,
    turn_row,
)
from memory.conversations import continuation
from memory.identity import needs_touch, taken_as_is
from memory.ports import UnitOfWork
from memory.records import ContextRequest, ConversationRecord, CustomerRecord, EventRecord
from policies.model import Decision, DecisionInput, Signals

REPLIES_AT_ONCE = 4  # replies written side by side (model calls in flight)


@dataclass(frozen=True, slots=True)
class Handed:
    """An event the batch left alone, with what was understood of it."""

    event: EventRecord
    signals: Signals | None  # None: not understood yet


@dataclass(frozen=True, slots=True)
class BatchResult:
    outcomes: list[Outcome]
    one_by_one: list[Handed]  # for ``handle_event``, in the order given


@dataclass(frozen=True, slots=True)
class _Planned:
    event: EventRecord
    signals: Signals
    identity_id: int
    touch: bool
    verified: bool
    verified_via: str | None
    conversation: ConversationRecord
    fields: dict[str, object]


async def handle_batch(events: Sequence[EventRecord], deps: PipelineDeps) -> BatchResult:
    """Process ``events`` (one per sender) together; see the module docstring."""
    senders = [(e.channel, e.external_user_id) for e in events]
    if len(set(senders)) != len(senders):
        raise ValueError("a batch holds one event per sender")
    now = deps.clock()
    handed: list[Handed] = []
    plain: list[Handed] = []
    understood = await deps.understander.understand_many([(e.text, e.channel) for e in events])
    for event, signals in zip(events, understood, strict=True):
        (plain if _plain(event, signals) else handed).append(Handed(event, signals))
    if not plain:
        return BatchResult([], handed)
    recorded = await _record(plain, handed, deps, now)
    if not recorded:
        return BatchResult([], _in_order(events, handed))
    inputs = [
        decision_input(r.context, r.signals, r.order, r.order_named, now) for _, r in recorded
    ]
    decisions = [deps.policy.decide(inp) for inp in inputs]
    replying = asyncio.Semaphore(REPLIES_AT_ONCE)

    async def reply(decision: Decision, inp: DecisionInput, r: Recorded) -> Act:
        async with replying:
            return await act_on(decision, inp, r.context, r.signals, deps, now)

    acts = await asyncio.gather(
        *(
            reply(decision, inp, r)
            for (_, r), decision, inp in zip(recorded, decisions, inputs, strict=True)
        )
    )
    outcomes: list[Outcome] = []
    async with deps.uow() as uow:
        current = await uow.batch.conversations([r.conversation.id for _, r in recorded])
        answered: list[tuple[EventRecord, Recorded, DecisionInput, Decision, Act]] = []
        for (event, r), decision, inp, act in zip(recorded, decisions, inputs, acts, strict=True):
            conversation = current[r.conversation.id]
            if conversation.state in STAFF_STATES:
                # Staff took the conversation while the reply was being written: theirs now.
                await mirror_to_staff(uow, deps, conversation.id, r.message_id, now)
                outcomes.append(Outcome(event.id, conversation.id, r.customer_id, None, None))
            else:
                answered.append((event, r, inp, decision, act))
        reply_ids = await uow.batch.add_messages(
            [reply_row(event, r, act, now) for event, r, _, _, act in answered]
        )
        decision_ids = await uow.batch.add_decisions(
            [
                decision_row(r, inp, decision, act, reply_id, deps, now)
                for (_, r, inp, decision, act), reply_id in zip(answered, reply_ids, strict=True)
            ]
        )
        changes: list[tuple[int, dict[str, object]]] = []
        deliveries: list[dict[str, Any]] = []
        for (event, r, _, _, act), reply_id, decision_id in zip(
            answered, reply_ids, decision_ids, strict=True
        ):
            conversation = current[r.conversation.id]
            handoff_id = await open_handoff(
                uow, conversation, act, decision_id, now, deps.staff_slack
            )
            changes.append((conversation.id, state_fields(conversation, act, now)))
            deliveries.append(outbox_row(event, conversation.id, reply_id, now))
            outcomes.append(acted(event, r, act, reply_id, handoff_id))
        await uow.batch.update_conversations(changes)
        await uow.batch.enqueue(deliveries)
        await uow.batch.mark_done([event.id for event, _ in recorded], now)
        await uow.commit()
    return BatchResult(outcomes, _in_order(events, handed))


def _plain(event: EventRecord, signals: Signals) -> bool:
    """Nothing about the message itself needs the one-by-one path."""
    entities = signals.entities
    return (
        event.attempts == 1  # a retry may find its turn already stored
        and parse_link_command(event.text) is None
        and parse_rating(event.text) is None
        and not (entities.get("order_number") and entities.get("email"))  # proof by order
    )


def _in_order(events: Sequence[EventRecord], handed: list[Handed]) -> list[Handed]:
    position = {event.id: n for n, event in enumerate(events)}
    return sorted(handed, key=lambda h: position[h.event.id])


async def _record(
    plain: list[Handed], handed: list[Handed], deps: PipelineDeps, now: datetime
) -> list[tuple[EventRecord, Recorded]]:
    """Step 1 for the plain events; the others join ``handed``. Commits."""
    async with deps.uow() as uow:
        planned = await _plan(uow, plain, handed, deps, now)
        if not planned:
            return []
        await uow.batch.touch_identities([p.identity_id for p in planned if p.touch], now)
        await uow.batch.update_conversations([(p.conversation.id, p.fields) for p in planned])
        turn_ids = await uow.batch.add_messages(
            [
                turn_row(p.event, p.conversation.customer_id, p.conversation.id, p.signals, now)
                for p in planned
            ]
        )
        await uow.commit()
    async with deps.reader() as uow:
        contexts = await uow.context.build_many(
            [
                ContextRequest(
                    customer_id=p.conversation.customer_id,
                    conversation=p.conversation,
                    channel=p.event.channel,
                    verified=p.verified,
                    verified_via=p.verified_via,
                    now=now,
                )
                for p in planned
            ]
        )
        recorded: list[tuple[EventRecord, Recorded]] = []
        for p, turn_id, context in zip(planned, turn_ids, contexts, strict=True):
            order, order_named = await order_in_question(context, p.signals, deps.orders)
            recorded.append(
                (
                    p.event,
                    Recorded(
                        p.conversation.customer_id,
                        p.conversation,
                        turn_id,
                        context,
                        p.signals,
                        order,
                        order_named,
                    ),
                )
            )
    return recorded


async def _plan(
    uow: UnitOfWork, plain: list[Handed], handed: list[Handed], deps: PipelineDeps, now: datetime
) -> list[_Planned]:
    """Who wrote each plain event and where it goes; what needs more joins ``handed``."""
    identities = await uow.batch.identities(
        [(h.event.channel, h.event.external_user_id) for h in plain]
    )
    claims = {h.event.id: claims_of(h.event) for h in plain}
    by_ref = await uow.batch.customers_by_ref(
        {c.customer_ref for c in claims.values() if c.customer_ref}
    )
    by_email = await uow.batch.customers_by_email(
        {c.email for c in claims.values() if c.email and not c.customer_ref}
    )
    known: list[Handed] = []
    customers: set[int] = set()
    for h in plain:
        identity = identities.get((h.event.channel, h.event.external_user_id))
        claim = claims[h.event.id]
        vouched: CustomerRecord | None = (
            by_ref.get(claim.customer_ref)
            if claim.customer_ref
            else by_email.get(claim.email)
            if claim.email
            else None
        )
        if (
            identity is None
            or not taken_as_is(identity, claim, vouched)
            or identity.customer_id in customers  # another sender of this customer goes first
        ):
            handed.append(h)
        else:
            customers.add(identity.customer_id)
            known.append(h)
    latest = await uow.batch.latest_conversations(customers)
    window = deps.policy.continuity_window
    planned: list[_Planned] = []
    for h in known:
        identity = identities[(h.event.channel, h.event.external_user_id)]
        continued = continuation(latest.get(identity.customer_id), h.event.channel, now, window)
        if continued is None or continued[0].state in STAFF_STATES:
            handed.append(h)  # a new conversation (the old one summarized), or staff's
            continue
        conversation, fields = continued
        assert h.signals is not None, "every plain event was understood"
        planned.append(
            _Planned(
                h.event,
                h.signals,
                identity.id,
                needs_touch(identity, now),
                identity.verified,
                identity.verified_via,
                conversation,
                fields,
            )
        )
    return planned
