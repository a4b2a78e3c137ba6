"""In-memory fakes of the store's ports, for fast unit tests of the pipeline.

``InMemoryStore`` holds the data; each ``InMemoryUnitOfWork`` works on a copy
and publishes it on ``commit()``, so a failed transaction leaves nothing behind,
as the SQL unit of work does.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from memory.batch import LoopedBatch
from memory.linking import (
    CODE_TTL,
    LINK_METHOD,
    IssuedCode,
    LinkResult,
    Redemption,
    hash_code,
    new_code,
    normalize_code,
)
from memory.orders import OrderSource
from memory.records import (
    ContextRequest,
    ConversationRecord,
    CustomerRecord,
    HandoffRecord,
    IdentityRecord,
)
from memory.views import Context, CustomerView, PastConversation, TurnView


@dataclass
class StoredMessage:
    id: int
    conversation_id: int
    customer_id: int
    author: str
    channel: str
    text: str
    created_at: datetime
    inbound_event_id: int | None = None
    order_ref: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class StoredDecision:
    id: int
    conversation_id: int
    message_id: int
    action: str
    rule_id: str
    reasons: list[str]
    inputs: dict[str, Any]
    outcome: dict[str, Any]
    policy_version: str


@dataclass
class StoredOutbox:
    id: int
    message_id: int
    conversation_id: int
    channel: str
    external_user_id: str


@dataclass
class StoreData:
    customers: dict[int, CustomerRecord] = field(default_factory=dict)
    identities: dict[int, IdentityRecord] = field(default_factory=dict)
    conversations: dict[int, ConversationRecord] = field(default_factory=dict)
    messages: list[StoredMessage] = field(default_factory=list)
    decisions: list[StoredDecision] = field(default_factory=list)
    handoffs: dict[int, HandoffRecord] = field(default_factory=dict)
    outbox: list[StoredOutbox] = field(default_factory=list)
    # (handoff id, kind, message id) in the order queued
    staff_posts: list[tuple[int, str, int | None]] = field(default_factory=list)
    done_events: set[int] = field(default_factory=set)
    summaries: dict[int, str] = field(default_factory=dict)
    # hash → (customer, identity that asked, expires at, used)
    link_codes: dict[str, tuple[int, int, datetime, bool]] = field(default_factory=dict)
    identity_events: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


class InMemoryStore:
    def __init__(self, orders: OrderSource) -> None:
        self.data = StoreData()
        self.orders = orders

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)


class _Repo:
    def __init__(self, data: StoreData) -> None:
        self.d = data


class _Customers(_Repo):
    async def get(self, customer_id: int) -> CustomerRecord | None:
        return self.d.customers.get(customer_id)

    async def by_ref(self, external_ref: str) -> CustomerRecord | None:
        return next((c for c in self.d.customers.values() if c.external_ref == external_ref), None)

    async def by_email(self, email: str) -> CustomerRecord | None:
        return next((c for c in self.d.customers.values() if c.email == email.lower()), None)

    async def create(
        self,
        *,
        now: datetime,
        name: str | None = None,
        email: str | None = None,
        external_ref: str | None = None,
    ) -> CustomerRecord:
        record = CustomerRecord(self.d.new_id(), external_ref, email and email.lower(), name, None)
        self.d.customers[record.id] = record
        return record

    async def absorb_anonymous(self, anonymous_id: int, into_id: int) -> bool:
        anonymous = self.d.customers.get(anonymous_id)
        if (
            anonymous is None
            or anonymous_id == into_id
            or anonymous.email
            or anonymous.external_ref
        ):
            return False
        if sum(i.customer_id == anonymous_id for i in self.d.identities.values()) > 1:
            return False
        for cid, conversation in list(self.d.conversations.items()):
            if conversation.customer_id == anonymous_id:
                self.d.conversations[cid] = replace(conversation, customer_id=into_id)
        for message in self.d.messages:
            if message.customer_id == anonymous_id:
                message.customer_id = into_id
        return True


class _Identities(_Repo):
    async def get(self, channel: str, external_user_id: str) -> IdentityRecord | None:
        return next(
            (
                i
                for i in self.d.identities.values()
                if i.channel == channel and i.external_user_id == external_user_id
            ),
            None,
        )

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
        record = IdentityRecord(
            self.d.new_id(),
            channel,
            external_user_id,
            customer_id,
            verified,
            verified_via,
            display_name,
        )
        self.d.identities[record.id] = record
        return record

    async def verify(self, identity_id: int, *, customer_id: int, via: str) -> None:
        old = self.d.identities[identity_id]
        self.d.identities[identity_id] = replace(
            old, customer_id=customer_id, verified=True, verified_via=via
        )
        self.d.identity_events.append(
            {
                "action": "link",
                "method": via,
                "identity_id": identity_id,
                "from": old.customer_id,
                "to": customer_id,
            }
        )

    async def issue_link_code(
        self, identity: IdentityRecord, *, channel: str, now: datetime
    ) -> IssuedCode:
        code = new_code()
        expires_at = now + CODE_TTL
        self.d.link_codes[hash_code(code)] = (identity.customer_id, identity.id, expires_at, False)
        return IssuedCode(code, identity.customer_id, expires_at)

    async def redeem_link_code(
        self,
        raw_code: str,
        identity: IdentityRecord,
        *,
        now: datetime,
        continuity_window: timedelta | None = None,
    ) -> Redemption:
        code = normalize_code(raw_code)
        key = hash_code(code) if code else ""
        found = self.d.link_codes.get(key)
        if found is None:
            return Redemption(LinkResult.UNKNOWN, identity.customer_id)
        target, asker, expires_at, used = found
        if used:
            return Redemption(LinkResult.USED, identity.customer_id)
        if now >= expires_at:
            return Redemption(LinkResult.EXPIRED, identity.customer_id)
        self.d.link_codes[key] = (target, asker, expires_at, True)
        if target == identity.customer_id:
            return Redemption(LinkResult.ALREADY_LINKED, target)
        sender = self.d.customers[identity.customer_id]
        others = any(
            i.customer_id == identity.customer_id and i.id != identity.id
            for i in self.d.identities.values()
        )
        if sender.email or sender.external_ref or others:
            self.d.identity_events.append(
                {
                    "action": "link_refused",
                    "method": LINK_METHOD,
                    "identity_id": identity.id,
                    "from": identity.customer_id,
                    "to": target,
                }
            )
            return Redemption(LinkResult.CONFLICT, identity.customer_id)
        verified = self.d.identities[asker].verified
        self.d.identities[identity.id] = replace(
            identity,
            customer_id=target,
            verified=verified,
            verified_via=LINK_METHOD if verified else None,
        )
        self.d.identity_events.append(
            {
                "action": "link",
                "method": LINK_METHOD,
                "identity_id": identity.id,
                "from": identity.customer_id,
                "to": target,
            }
        )
        await _Customers(self.d).absorb_anonymous(identity.customer_id, target)
        return Redemption(LinkResult.LINKED, target, verified)

    async def touch(self, identity_id: int, now: datetime) -> None:
        return None


class _Conversations(_Repo):
    async def get(self, conversation_id: int) -> ConversationRecord | None:
        return self.d.conversations.get(conversation_id)

    async def latest(self, customer_id: int) -> ConversationRecord | None:
        mine = [c for c in self.d.conversations.values() if c.customer_id == customer_id]
        return max(mine, key=lambda c: (c.started_at, c.id), default=None)

    async def start(self, customer_id: int, channel: str, now: datetime) -> ConversationRecord:
        record = ConversationRecord(self.d.new_id(), customer_id, "bot", channel, now, now)
        self.d.conversations[record.id] = record
        return record

    async def update(self, conversation_id: int, **fields: Any) -> None:
        if "summary" in fields:
            self.d.summaries[conversation_id] = fields["summary"]
        known = {k: v for k, v in fields.items() if k != "summary"}
        self.d.conversations[conversation_id] = replace(
            self.d.conversations[conversation_id], **known
        )


class _Messages(_Repo):
    async def add(
        self,
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
    ) -> int:
        if inbound_event_id is not None and any(
            m.inbound_event_id == inbound_event_id for m in self.d.messages
        ):
            raise ValueError(f"event {inbound_event_id} already has a message")
        message = StoredMessage(
            self.d.new_id(),
            conversation_id,
            customer_id,
            author,
            channel,
            text,
            now,
            inbound_event_id,
            order_ref,
            meta or {},
        )
        self.d.messages.append(message)
        return message.id

    async def for_event(self, inbound_event_id: int) -> tuple[int, int] | None:
        found = next((m for m in self.d.messages if m.inbound_event_id == inbound_event_id), None)
        return (found.id, found.conversation_id) if found else None

    async def texts(self, conversation_id: int, limit: int) -> list[tuple[str, str]]:
        mine = [(m.author, m.text) for m in self.d.messages if m.conversation_id == conversation_id]
        return mine[-limit:]


class _Decisions(_Repo):
    async def add(self, **fields: Any) -> int:
        fields.pop("now")
        decision = StoredDecision(id=self.d.new_id(), **fields)
        self.d.decisions.append(decision)
        return decision.id

    async def last_of(
        self, conversation_id: int, action: str, within: int = 3
    ) -> dict[str, Any] | None:
        mine = [d for d in self.d.decisions if d.conversation_id == conversation_id][-within:]
        found = next((d for d in reversed(mine) if d.action == action), None)
        return dict(found.inputs) if found else None


class _Handoffs(_Repo):
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
        record = HandoffRecord(
            self.d.new_id(),
            conversation_id,
            "waiting",
            queue,
            priority,
            rule_id,
            reason,
            now,
            sla_due_at=sla_due_at,
        )
        self.d.handoffs[record.id] = record
        return record

    async def active(self, conversation_id: int) -> HandoffRecord | None:
        return next(
            (
                h
                for h in self.d.handoffs.values()
                if h.conversation_id == conversation_id and h.state in ("waiting", "claimed")
            ),
            None,
        )

    async def post_to_staff(
        self, handoff_id: int, kind: str, now: datetime, message_id: int | None = None
    ) -> None:
        self.d.staff_posts.append((handoff_id, kind, message_id))


class _Outbox(_Repo):
    async def enqueue(
        self,
        *,
        message_id: int,
        conversation_id: int,
        channel: str,
        external_user_id: str,
        now: datetime,
    ) -> int:
        item = StoredOutbox(self.d.new_id(), message_id, conversation_id, channel, external_user_id)
        self.d.outbox.append(item)
        return item.id


class _Events(_Repo):
    async def mark_done(self, event_id: int, now: datetime) -> None:
        self.d.done_events.add(event_id)


class _Context(_Repo):
    def __init__(self, data: StoreData, orders: OrderSource) -> None:
        super().__init__(data)
        self.orders = orders

    async def build_many(self, requests: Sequence[ContextRequest]) -> list[Context]:
        return [await self.build(**r.keywords()) for r in requests]

    async def build(
        self,
        *,
        customer_id: int,
        conversation: ConversationRecord,
        channel: str,
        verified: bool,
        verified_via: str | None,
        now: datetime,
    ) -> Context:
        customer = self.d.customers[customer_id]
        turns = tuple(
            TurnView(m.id, m.author, m.channel, m.text, m.created_at)
            for m in self.d.messages
            if m.conversation_id == conversation.id
        )[-20:]
        past = tuple(
            PastConversation(
                c.id,
                c.channel,
                c.started_at,
                c.last_message_at,
                c.state,
                None,
                any(h.conversation_id == c.id for h in self.d.handoffs.values()),
            )
            for c in sorted(self.d.conversations.values(), key=lambda c: c.started_at, reverse=True)
            if c.customer_id == customer_id and c.id != conversation.id
        )[:5]
        orders = tuple(await self.orders.orders_of(customer_id, limit=10))
        count, value = await self.orders.totals(customer_id)
        return Context(
            customer=CustomerView(
                customer.id,
                customer.name,
                customer.email,
                customer.phone,
                customer.external_ref,
                (),
                now,
            ),
            verified=verified,
            verified_via=verified_via,
            channel=channel,
            conversation_id=conversation.id,
            conversation_state=conversation.state,
            first_contact=not past and sum(t.author == "customer" for t in turns) <= 1,
            recent_turns=turns,
            past_conversations=past,
            orders=orders,
            orders_count=count,
            lifetime_value=Decimal(value),
            recent_contacts=(),
            escalations_total=sum(
                1
                for h in self.d.handoffs.values()
                if self.d.conversations[h.conversation_id].customer_id == customer_id
            ),
            bot_failures=conversation.bot_failures,
            consecutive_clarify=conversation.consecutive_clarify,
            last_staff_at=None,
        )


class InMemoryUnitOfWork:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        self._data = copy.deepcopy(self._store.data)
        d = self._data
        self.customers = _Customers(d)
        self.identities = _Identities(d)
        self.conversations = _Conversations(d)
        self.messages = _Messages(d)
        self.decisions = _Decisions(d)
        self.handoffs = _Handoffs(d)
        self.outbox = _Outbox(d)
        self.events = _Events(d)
        self.context = _Context(d, self._store.orders)
        self.batch = LoopedBatch(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        self._store.data = self._data
        self._data = copy.deepcopy(self._data)
