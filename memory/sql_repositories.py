"""SQLAlchemy implementations of the repositories in ``ports.py``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from memory.contact_marks import mark_new
from memory.identity_links import (
    CUSTOMER_ACTOR,
    current_customer,
    merge_customers,
    record_identity_event,
)
from memory.linking import IssuedCode, Redemption, issue_code, redeem_code
from memory.models import (
    ChannelIdentity,
    Conversation,
    Customer,
    Decision,
    Handoff,
    IdentityEvent,
    InboundEvent,
    Message,
    OutboxItem,
)
from memory.records import (
    ConversationRecord,
    CustomerRecord,
    HandoffRecord,
    IdentityRecord,
)
from memory.staff_posts import queue_staff_post

CONVERSATION_FIELDS = frozenset(
    {
        "state",
        "channel",
        "last_message_at",
        "closed_at",
        "summary",
        "consecutive_clarify",
        "bot_failures",
    }
)


def customer_record(row: Customer | Row[Any]) -> CustomerRecord:
    return CustomerRecord(
        id=row.id, external_ref=row.external_ref, email=row.email, name=row.name, phone=row.phone
    )


def identity_record(row: ChannelIdentity | Row[Any]) -> IdentityRecord:
    return IdentityRecord(
        id=row.id,
        channel=row.channel,
        external_user_id=row.external_user_id,
        customer_id=row.customer_id,
        verified=row.verified,
        verified_via=row.verified_via,
        display_name=row.display_name,
        unreachable=row.unreachable,
        last_seen_at=row.last_seen_at,
    )


def conversation_record(row: Conversation | Row[Any]) -> ConversationRecord:
    return ConversationRecord(
        id=row.id,
        customer_id=row.customer_id,
        state=row.state,
        channel=row.channel,
        started_at=row.started_at,
        last_message_at=row.last_message_at,
        consecutive_clarify=row.consecutive_clarify,
        bot_failures=row.bot_failures,
        closed_at=row.closed_at,
    )


def handoff_record(row: Handoff) -> HandoffRecord:
    return HandoffRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        state=row.state,
        queue=row.queue,
        priority=row.priority,
        rule_id=row.rule_id,
        reason=row.reason,
        created_at=row.created_at,
        claimed_by=row.claimed_by,
        sla_due_at=row.sla_due_at,
    )


def message_values(
    *,
    conversation_id: int,
    customer_id: int,
    author: str,
    channel: str,
    text: str,
    now: datetime,
    attachments: list[dict[str, Any]] | None = None,
    inbound_event_id: int | None = None,
    order_ref: str | None = None,
    meta: dict[str, Any] | None = None,
    internal: bool = False,
) -> dict[str, Any]:
    """``messages.add``'s keywords → the row's columns (one message or a batch of them)."""
    return {
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "author": author,
        "channel": channel,
        "text": text,
        "attachments": list(attachments or []),
        "inbound_event_id": inbound_event_id,
        "order_ref": order_ref,
        "internal": internal,
        "meta": dict(meta or {}),
        "created_at": now,
    }


def decision_values(
    *,
    conversation_id: int,
    message_id: int,
    action: str,
    rule_id: str,
    reasons: list[str],
    inputs: dict[str, Any],
    outcome: dict[str, Any],
    policy_version: str,
    now: datetime,
) -> dict[str, Any]:
    """``decisions.add``'s keywords → the row's columns."""
    return {
        "conversation_id": conversation_id,
        "message_id": message_id,
        "action": action,
        "rule_id": rule_id,
        "reasons": reasons,
        "inputs": inputs,
        "outcome": outcome,
        "policy_version": policy_version,
        "created_at": now,
    }


def outbox_values(
    *, message_id: int, conversation_id: int, channel: str, external_user_id: str, now: datetime
) -> dict[str, Any]:
    """``outbox.enqueue``'s keywords → a pending row, due now."""
    return {
        "message_id": message_id,
        "conversation_id": conversation_id,
        "channel": channel,
        "external_user_id": external_user_id,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def speaking_for(session: AsyncSession, row: Customer | Row[Any]) -> CustomerRecord:
    """A merged customer's login or email speaks for the customer it was merged into."""
    if row.merged_into_id is not None:
        merged = await session.get(Customer, await current_customer(session, row.id))
        assert merged is not None, "a merge always points at a stored customer"
        row = merged
    return customer_record(row)


class SqlCustomers:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, customer_id: int) -> CustomerRecord | None:
        row = await self._s.get(Customer, customer_id)
        return customer_record(row) if row else None

    async def by_ref(self, external_ref: str) -> CustomerRecord | None:
        row = await self._s.scalar(select(Customer).where(Customer.external_ref == external_ref))
        return await self._current(row)

    async def by_email(self, email: str) -> CustomerRecord | None:
        row = await self._s.scalar(select(Customer).where(Customer.email == email.lower()))
        return await self._current(row)

    async def _current(self, row: Customer | None) -> CustomerRecord | None:
        return None if row is None else await speaking_for(self._s, row)

    async def create(
        self,
        *,
        now: datetime,
        name: str | None = None,
        email: str | None = None,
        external_ref: str | None = None,
    ) -> CustomerRecord:
        row = Customer(
            name=name,
            email=email.lower() if email else None,
            external_ref=external_ref,
            tags=[],
            created_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        return customer_record(row)

    async def absorb_anonymous(self, anonymous_id: int, into_id: int) -> bool:
        if anonymous_id == into_id:
            return False
        row = await self._s.get(Customer, anonymous_id)
        if row is None or row.email or row.external_ref or row.merged_into_id:
            return False
        identities = await self._s.scalar(
            select(func.count())
            .select_from(ChannelIdentity)
            .where(ChannelIdentity.customer_id == anonymous_id)
        )
        if (identities or 0) > 1:
            return False
        # A recorded merge (undoable with `threadline customers unmerge`), by the method
        # that just proved who the customer is.
        method = await self._s.scalar(
            select(IdentityEvent.method)
            .where(
                IdentityEvent.from_customer_id == anonymous_id,
                IdentityEvent.to_customer_id == into_id,
            )
            .order_by(IdentityEvent.id.desc())
            .limit(1)
        )
        await merge_customers(
            self._s, into_id, anonymous_id, actor=CUSTOMER_ACTOR, method=method or "anonymous"
        )
        return True


class SqlIdentities:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, channel: str, external_user_id: str) -> IdentityRecord | None:
        row = await self._s.scalar(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == channel,
                ChannelIdentity.external_user_id == external_user_id,
            )
        )
        return identity_record(row) if row else None

    async def add(
        self,
        *,
        channel: str,
        external_user_id: str,
        customer_id: int,
        verified: bool,
        verified_via: str | None,
        display_name: str | None,
        now: datetime,
    ) -> IdentityRecord:
        row = ChannelIdentity(
            channel=channel,
            external_user_id=external_user_id,
            customer_id=customer_id,
            verified=verified,
            verified_via=verified_via,
            display_name=display_name,
            unreachable=False,
            created_at=now,
            last_seen_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        if verified and verified_via:
            await record_identity_event(
                self._s,
                action="link",
                actor=CUSTOMER_ACTOR,
                method=verified_via,
                identity_id=row.id,
                to_customer_id=customer_id,
                now=now,
            )
        return identity_record(row)

    async def verify(self, identity_id: int, *, customer_id: int, via: str) -> None:
        before = await self._s.scalar(
            select(ChannelIdentity.customer_id).where(ChannelIdentity.id == identity_id)
        )
        await self._s.execute(
            update(ChannelIdentity)
            .where(ChannelIdentity.id == identity_id)
            .values(verified=True, verified_via=via, customer_id=customer_id)
        )
        await record_identity_event(
            self._s,
            action="link",
            actor=CUSTOMER_ACTOR,
            method=via,
            identity_id=identity_id,
            from_customer_id=before,
            to_customer_id=customer_id,
        )

    async def issue_link_code(
        self, identity: IdentityRecord, *, channel: str, now: datetime
    ) -> IssuedCode:
        return await issue_code(self._s, identity, channel=channel, now=now)

    async def redeem_link_code(
        self,
        raw_code: str,
        identity: IdentityRecord,
        *,
        now: datetime,
        continuity_window: timedelta | None = None,
    ) -> Redemption:
        return await redeem_code(
            self._s, raw_code, identity, now=now, continuity_window=continuity_window
        )

    async def touch(self, identity_id: int, now: datetime) -> None:
        await self._s.execute(
            update(ChannelIdentity)
            .where(ChannelIdentity.id == identity_id)
            .values(last_seen_at=now, unreachable=False)
        )


class SqlConversations:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, conversation_id: int) -> ConversationRecord | None:
        row = await self._s.get(Conversation, conversation_id, populate_existing=True)
        return conversation_record(row) if row else None

    async def latest(self, customer_id: int) -> ConversationRecord | None:
        row = await self._s.scalar(
            select(Conversation)
            .where(Conversation.customer_id == customer_id)
            .order_by(Conversation.started_at.desc(), Conversation.id.desc())
            .limit(1)
        )
        return conversation_record(row) if row else None

    async def start(self, customer_id: int, channel: str, now: datetime) -> ConversationRecord:
        row = Conversation(
            customer_id=customer_id,
            state="bot",
            channel=channel,
            started_at=now,
            last_message_at=now,
            consecutive_clarify=0,
            bot_failures=0,
        )
        self._s.add(row)
        await self._s.flush()
        return conversation_record(row)

    async def update(self, conversation_id: int, **fields: Any) -> None:
        unknown = set(fields) - CONVERSATION_FIELDS
        if unknown:
            raise ValueError(f"unknown conversation fields: {sorted(unknown)}")
        await self._s.execute(
            update(Conversation).where(Conversation.id == conversation_id).values(**fields)
        )


class SqlMessages:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, **fields: Any) -> int:
        row = Message(**message_values(**fields))
        self._s.add(row)
        await self._s.flush()
        if row.author == "customer":
            await mark_new(self._s, [row.id])
        return row.id

    async def for_event(self, inbound_event_id: int) -> tuple[int, int] | None:
        row = (
            await self._s.execute(
                select(Message.id, Message.conversation_id).where(
                    Message.inbound_event_id == inbound_event_id
                )
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def texts(self, conversation_id: int, limit: int) -> list[tuple[str, str]]:
        rows = await self._s.execute(
            select(Message.author, Message.text)
            .where(Message.conversation_id == conversation_id, Message.internal.is_(False))
            .order_by(Message.id.desc())
            .limit(limit)
        )
        return [(a, t) for a, t in reversed(rows.all())]


class SqlDecisions:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, **fields: Any) -> int:
        row = Decision(**decision_values(**fields))
        self._s.add(row)
        await self._s.flush()
        return row.id

    async def last_of(
        self, conversation_id: int, action: str, within: int = 3
    ) -> dict[str, Any] | None:
        recent = await self._s.scalars(
            select(Decision)
            .where(Decision.conversation_id == conversation_id)
            .order_by(Decision.id.desc())
            .limit(within)
        )
        found = next((d for d in recent if d.action == action), None)
        return dict(found.inputs) if found else None


class SqlHandoffs:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def open(
        self,
        *,
        conversation_id: int,
        decision_id: int | None,
        queue: str,
        priority: str,
        rule_id: str,
        reason: str,
        now: datetime,
        sla_due_at: datetime | None = None,
    ) -> HandoffRecord:
        row = Handoff(
            conversation_id=conversation_id,
            decision_id=decision_id,
            state="waiting",
            queue=queue,
            priority=priority,
            rule_id=rule_id,
            reason=reason,
            created_at=now,
            sla_due_at=sla_due_at,
            sla_reposts=0,
        )
        self._s.add(row)
        await self._s.flush()
        return handoff_record(row)

    async def active(self, conversation_id: int) -> HandoffRecord | None:
        row = await self._s.scalar(
            select(Handoff)
            .where(
                Handoff.conversation_id == conversation_id,
                Handoff.state.in_(("waiting", "claimed")),
            )
            .order_by(Handoff.id.desc())
            .limit(1)
        )
        return handoff_record(row) if row else None

    async def post_to_staff(
        self, handoff_id: int, kind: str, now: datetime, message_id: int | None = None
    ) -> None:
        await queue_staff_post(
            self._s, handoff_id=handoff_id, kind=kind, now=now, message_id=message_id
        )


class SqlOutbox:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def enqueue(self, **fields: Any) -> int:
        row = OutboxItem(**outbox_values(**fields))
        self._s.add(row)
        await self._s.flush()
        return row.id


class SqlEvents:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def mark_done(self, event_id: int, now: datetime) -> None:
        """Mark the event processed, in the transaction that stored its effects."""
        await self._s.execute(
            update(InboundEvent)
            .where(InboundEvent.id == event_id)
            .values(state="done", processed_at=now, locked_until=None, error=None)
        )
