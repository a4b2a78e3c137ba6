"""The message pipeline: identity → thread → context → understand → decide → act.

``handle_event`` processes one stored inbound event. The reply, the decision
with its inputs, any handoff and the outbox row commit together with the event
marked done; a crash before that commit leaves the event pending, and the
worker picks it up again without doubling anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.commands import handle_link_command, parse_link_command
from bot.facts import decision_input, order_in_question
from bot.handoff import take_rating
from bot.ports import PolicyPort, Responder, ResponderUnavailable, Understander
from memory.conversations import continue_or_start
from memory.identity import Claims, prove_by_order, resolve_identity
from memory.orders import OrderSource, normalize_order_id
from memory.ports import UnitOfWork
from memory.records import ConversationRecord, EventRecord
from memory.views import Context, OrderView
from policies.model import Action, Decision, DecisionInput, Signals
from policies.settings import StaffWait

log = logging.getLogger(__name__)

STAFF_STATES = frozenset({"waiting_staff", "staff"})
OUTCOME_KEYS = ("kind", "source", "fallback", "usage")


@dataclass(frozen=True, slots=True)
class PipelineDeps:
    uow: Callable[[], UnitOfWork]
    understander: Understander
    policy: PolicyPort
    responder: Responder
    orders: OrderSource
    clock: Callable[[], datetime]
    # Staff Slack is on: a new handoff queues its card, a customer turn in a handoff
    # is mirrored into its thread (memory.staff_posts; sent by the web process).
    staff_slack: bool = False
    # Units of work that only read (on SQLite they do not take the write lock); None: ``uow``.
    reads: Callable[[], UnitOfWork] | None = None

    def reader(self) -> UnitOfWork:
        """A unit of work for reading only: ``reads`` if given, else ``uow``."""
        return (self.reads or self.uow)()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing one event did (for the CLI, tests and logs)."""

    event_id: int
    conversation_id: int
    customer_id: int
    action: str | None
    rule_id: str | None
    reasons: tuple[str, ...] = ()
    reply: str | None = None
    reply_message_id: int | None = None
    handoff_id: int | None = None
    # A conversation this message closed (its summary may be rewritten by a model).
    closed_conversation_id: int | None = None


@dataclass(frozen=True, slots=True)
class Act:
    decision: Decision
    text: str
    meta: dict[str, object]
    order_ref: str | None = None
    failed_answer: bool = False
    wait: StaffWait | None = None  # an escalation: how long a person takes


async def handle_event(
    event: EventRecord, deps: PipelineDeps, signals: Signals | None = None
) -> Outcome:
    """Process one stored event in two short transactions around the slow part.

    1. Record: identity, thread, the customer's turn (commit); then the context, read
       outside the write transaction (``deps.reads``).
    2. Decide and write the reply — outside any transaction, since a model may
       take seconds and SQLite has one writer.
    3. Act: the reply, the decision with its inputs, any handoff, the outbox row,
       and the event marked done (one commit).

    A crash after 1 leaves the event pending with its turn stored; the retry
    finds that turn and carries on, so nothing is stored or sent twice.
    ``signals``: the message already understood (by a batch that handed it on).
    """
    now = deps.clock()
    if signals is None:
        signals = await deps.understander.understand(event.text, event.channel)
    recorded = await record(event, signals, deps, now)
    if isinstance(recorded, Outcome):
        return recorded
    inp = decision_input(
        recorded.context, recorded.signals, recorded.order, recorded.order_named, now
    )
    decision = deps.policy.decide(inp)
    act = await act_on(decision, inp, recorded.context, recorded.signals, deps, now)
    return await store_act(event, recorded, inp, decision, act, deps, now)


@dataclass(frozen=True, slots=True)
class Recorded:
    customer_id: int
    conversation: ConversationRecord
    message_id: int
    context: Context
    signals: Signals
    order: OrderView | None
    order_named: bool
    closed_conversation_id: int | None = None


async def record(
    event: EventRecord, signals: Signals, deps: PipelineDeps, now: datetime
) -> Recorded | Outcome:
    claims = claims_of(event)
    named = signals.entities.get("order_number", ())
    async with deps.uow() as uow:
        identity = await resolve_identity(uow, event.channel, event.external_user_id, claims, now)
        link = parse_link_command(event.text)
        if link is not None:
            window = deps.policy.continuity_window
            done = await handle_link_command(
                uow, event, identity, link, continuity_window=window, now=now
            )
            return Outcome(
                event_id=event.id,
                conversation_id=done.conversation_id,
                customer_id=done.customer_id,
                action=None,
                rule_id=None,
                reply=done.text,
                reply_message_id=done.reply_message_id,
            )
        emails = signals.entities.get("email", ())
        just_proven = False
        if named and emails and not identity.verified:
            order = await deps.orders.order(named[0])
            if order is not None:
                identity = await prove_by_order(
                    uow,
                    identity,
                    order_customer_id=order.customer_id,
                    order_email=order.email,
                    given_email=emails[0],
                )
                just_proven = identity.verified
        stored = await uow.messages.for_event(event.id)
        closed_id = None
        if stored is None:
            thread = await continue_or_start(
                uow, identity.customer_id, event.channel, now, deps.policy.continuity_window
            )
            conversation, closed_id = thread.conversation, thread.closed_id
            message_id = await uow.messages.add(
                **turn_row(event, identity.customer_id, conversation.id, signals, now)
            )
        else:  # a retry after a crash: the turn is already in its conversation
            message_id, conversation_id = stored
            found = await uow.conversations.get(conversation_id)
            assert found is not None, "a stored message always has its conversation"
            conversation = found
        rated = await take_rating(uow, event, conversation.id, identity.customer_id, now)
        if rated is not None:  # the answer to "how did we do?" after staff resolved it
            return Outcome(
                event.id,
                conversation.id,
                identity.customer_id,
                None,
                None,
                reply=rated.text,
                reply_message_id=rated.reply_message_id,
            )
        if conversation.state in STAFF_STATES:
            # A person owns this conversation: the bot stays quiet, staff see the message.
            await mirror_to_staff(uow, deps, conversation.id, message_id, now)
            await uow.events.mark_done(event.id, now)
            await uow.commit()
            return Outcome(
                event_id=event.id,
                conversation_id=conversation.id,
                customer_id=identity.customer_id,
                action=None,
                rule_id=None,
            )
        await uow.commit()
    # Read after the commit: on SQLite a reader does not hold the write lock.
    async with deps.reader() as reader:
        context = await reader.context.build(
            customer_id=identity.customer_id,
            conversation=conversation,
            channel=event.channel,
            verified=identity.verified,
            verified_via=identity.verified_via,
            now=now,
        )
        if just_proven:
            asked = await reader.decisions.last_of(conversation.id, Action.VERIFY_IDENTITY.value)
            signals = _resume_question(signals, asked)
        order, order_named = await order_in_question(context, signals, deps.orders)
    return Recorded(
        identity.customer_id,
        conversation,
        message_id,
        context,
        signals,
        order,
        order_named,
        closed_id,
    )


def claims_of(event: EventRecord) -> Claims:
    """What the channel vouched for when it stored the event."""
    return Claims(
        customer_ref=event.payload.get("verified_customer_ref"),
        email=event.payload.get("verified_email"),
        display_name=event.payload.get("display_name"),
    )


async def store_act(
    event: EventRecord,
    recorded: Recorded,
    inp: DecisionInput,
    decision: Decision,
    act: Act,
    deps: PipelineDeps,
    now: datetime,
) -> Outcome:
    conversation_id = recorded.conversation.id
    async with deps.uow() as uow:
        conversation = await uow.conversations.get(conversation_id)
        assert conversation is not None
        if conversation.state in STAFF_STATES:
            # Staff took the conversation while the reply was being written: theirs now.
            await mirror_to_staff(uow, deps, conversation_id, recorded.message_id, now)
            await uow.events.mark_done(event.id, now)
            await uow.commit()
            return Outcome(event.id, conversation_id, recorded.customer_id, None, None)
        reply_id = await uow.messages.add(**reply_row(event, recorded, act, now))
        decision_id = await uow.decisions.add(
            **decision_row(recorded, inp, decision, act, reply_id, deps, now)
        )
        handoff_id = await open_handoff(uow, conversation, act, decision_id, now, deps.staff_slack)
        await uow.conversations.update(conversation_id, **state_fields(conversation, act, now))
        await uow.outbox.enqueue(**outbox_row(event, conversation_id, reply_id, now))
        await uow.events.mark_done(event.id, now)
        await uow.commit()
    return acted(event, recorded, act, reply_id, handoff_id)


def acted(
    event: EventRecord, recorded: Recorded, act: Act, reply_id: int, handoff_id: int | None
) -> Outcome:
    """The outcome of an event the bot answered (logged)."""
    log.info(
        "event %s → %s by rule %s (conversation %s)",
        event.id,
        act.decision.action.value,
        act.decision.rule_id,
        recorded.conversation.id,
    )
    return Outcome(
        event_id=event.id,
        conversation_id=recorded.conversation.id,
        customer_id=recorded.customer_id,
        action=act.decision.action.value,
        rule_id=act.decision.rule_id,
        reasons=act.decision.reasons,
        reply=act.text,
        reply_message_id=reply_id,
        handoff_id=handoff_id,
        closed_conversation_id=recorded.closed_conversation_id,
    )


def turn_row(
    event: EventRecord, customer_id: int, conversation_id: int, signals: Signals, now: datetime
) -> dict[str, Any]:
    """The customer's turn (``messages.add`` keywords)."""
    named = signals.entities.get("order_number", ())
    return {
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "author": "customer",
        "channel": event.channel,
        "text": event.text,
        "now": now,
        "attachments": list(event.payload.get("attachments", [])),
        "inbound_event_id": event.id,
        "order_ref": normalize_order_id(named[0]) if named else None,
    }


def reply_row(event: EventRecord, recorded: Recorded, act: Act, now: datetime) -> dict[str, Any]:
    """The bot's reply (``messages.add`` keywords)."""
    return {
        "conversation_id": recorded.conversation.id,
        "customer_id": recorded.customer_id,
        "author": "bot",
        "channel": event.channel,
        "text": act.text,
        "now": now,
        "order_ref": act.order_ref,
        "meta": act.meta,
    }


def decision_row(
    recorded: Recorded,
    inp: DecisionInput,
    decision: Decision,
    act: Act,
    reply_id: int,
    deps: PipelineDeps,
    now: datetime,
) -> dict[str, Any]:
    """The decision with its inputs and what came of it (``decisions.add`` keywords)."""
    return {
        "conversation_id": recorded.conversation.id,
        "message_id": recorded.message_id,
        "action": act.decision.action.value,
        "rule_id": act.decision.rule_id,
        "reasons": list(act.decision.reasons),
        "inputs": deps.policy.input_to_json(inp),
        "outcome": {
            "first_decision": {"action": decision.action.value, "rule": decision.rule_id},
            "reply_message_id": reply_id,
            **{k: v for k, v in act.meta.items() if k in OUTCOME_KEYS},
        },
        "policy_version": deps.policy.version,
        "now": now,
    }


def outbox_row(
    event: EventRecord, conversation_id: int, reply_id: int, now: datetime
) -> dict[str, Any]:
    """The reply's delivery to the channel the customer wrote on (``outbox.enqueue``)."""
    return {
        "message_id": reply_id,
        "conversation_id": conversation_id,
        "channel": event.channel,
        "external_user_id": event.external_user_id,
        "now": now,
    }


async def mirror_to_staff(
    uow: UnitOfWork, deps: PipelineDeps, conversation_id: int, message_id: int, now: datetime
) -> None:
    """With staff Slack on, the customer's turn also goes to their handoff's thread."""
    if not deps.staff_slack:
        return
    handoff = await uow.handoffs.active(conversation_id)
    if handoff is not None:
        await uow.handoffs.post_to_staff(handoff.id, "mirror", now, message_id)


def _resume_question(signals: Signals, asked: dict[str, Any] | None) -> Signals:
    """After proof of identity, answer the question that asked for it.

    "TL-1234, ada@example.com" is not a question: the message that got
    ``verify_identity`` was. Its intent carries on, with the order just named.
    """
    if asked is None:
        return signals
    earlier = asked.get("signals", {})
    return replace(
        signals,
        intent=str(earlier.get("intent", signals.intent)),
        intent_confidence=float(earlier.get("intent_confidence", signals.intent_confidence)),
    )


async def act_on(
    decision: Decision,
    inp: DecisionInput,
    context: Context,
    signals: Signals,
    deps: PipelineDeps,
    now: datetime,
) -> Act:
    meta: dict[str, object] = {
        "rule": decision.rule_id,
        "action": decision.action.value,
        "reasons": list(decision.reasons),
    }
    if decision.action is not Action.ANSWER:
        wait = _wait(decision, context, deps, now)
        text = deps.responder.render_action_message(decision, context, wait)
        return Act(decision, text, {**meta, "kind": "template"}, wait=wait)
    escalate_now = False
    try:
        reply = await deps.responder.reply(decision, context, signals)
    except ResponderUnavailable as exc:
        log.warning("responder unavailable (%s); escalating", exc.reason)
        reply, reason, escalate_now = None, exc.reason, True
    except Exception:
        log.exception("responder failed; falling back to the policy's escalation path")
        reply, reason = None, "responder_error"
    else:
        reason = "no_confident_answer"
    if reply is None:
        fallback = deps.policy.fallback(inp, reason, escalate=escalate_now)
        wait = _wait(fallback, context, deps, now)
        text = deps.responder.render_action_message(fallback, context, wait)
        return Act(
            fallback,
            text,
            {
                "rule": fallback.rule_id,
                "action": fallback.action.value,
                "reasons": list(fallback.reasons),
                "kind": "template",
                "fallback": reason,
            },
            failed_answer=True,
            wait=wait,
        )
    meta.update(kind=reply.kind, source=reply.source)
    usage = getattr(reply, "usage", None)
    if usage:
        meta["usage"] = dict(usage)
    if reply.quick_replies:
        meta["quick_replies"] = list(reply.quick_replies)
    return Act(decision, reply.text, meta, order_ref=reply.order_id)


def _wait(
    decision: Decision, context: Context, deps: PipelineDeps, now: datetime
) -> StaffWait | None:
    """For a new escalation: the queue's time to claim, or when the team is back."""
    if decision.action is not Action.ESCALATE or context.conversation_state in STAFF_STATES:
        return None
    return deps.policy.staff_wait(decision.queue or "support", now)


def state_fields(conversation: ConversationRecord, act: Act, now: datetime) -> dict[str, object]:
    """The conversation after the bot's turn: counters, and waiting for staff if escalated."""
    action = act.decision.action
    fields: dict[str, object] = {"last_message_at": now}
    if act.failed_answer:
        fields["bot_failures"] = conversation.bot_failures + 1
    fields["consecutive_clarify"] = (
        conversation.consecutive_clarify + 1 if action is Action.CLARIFY else 0
    )
    if action is Action.ESCALATE:
        fields["state"] = "waiting_staff"
    return fields


async def open_handoff(
    uow: UnitOfWork,
    conversation: ConversationRecord,
    act: Act,
    decision_id: int,
    now: datetime,
    staff_slack: bool,
) -> int | None:
    """An escalation's handoff: the conversation's open one, or a new one (and its card)."""
    if act.decision.action is not Action.ESCALATE:
        return None
    handoff = await uow.handoffs.active(conversation.id)
    if handoff is None:
        handoff = await uow.handoffs.open(
            conversation_id=conversation.id,
            decision_id=decision_id,
            queue=act.decision.queue or "support",
            priority=act.decision.priority or "normal",
            rule_id=act.decision.rule_id,
            reason="; ".join(act.decision.reasons),
            now=now,
            sla_due_at=act.wait.claim_by if act.wait is not None else None,
        )
        if staff_slack:
            await uow.handoffs.post_to_staff(handoff.id, "card", now)
    return handoff.id
