"""The store's ports: what the pipeline may ask of it.

SQL implementations live in ``sql_repositories.py``; in-memory fakes of the
same protocols in ``fakes.py`` drive the pipeline's unit tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from memory.records import (
    ContextRequest,
    ConversationRecord,
    CustomerRecord,
    HandoffRecord,
    IdentityRecord,
)
from memory.views import Context

if TYPE_CHECKING:
    from memory.batch import BatchStore
    from memory.linking import IssuedCode, Redemption


class CustomerRepository(Protocol):
    async def get(self, customer_id: int) -> CustomerRecord | None: ...
    async def by_ref(self, external_ref: str) -> CustomerRecord | None: ...
    async def by_email(self, email: str) -> CustomerRecord | None: ...
    async def create(
        self,
        *,
        now: datetime,
        name: str | None = None,
        email: str | None = None,
        external_ref: str | None = None,
    ) -> CustomerRecord: ...
    async def absorb_anonymous(self, anonymous_id: int, into_id: int) -> bool:
        """Move an anonymous customer's story into ``into_id`` (only if it is anonymous:
        no email, no shop id, no other identity). True if it was moved."""
        ...


class IdentityRepository(Protocol):
    async def get(self, channel: str, external_user_id: str) -> IdentityRecord | None: ...
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
    ) -> IdentityRecord: ...
    async def verify(self, identity_id: int, *, customer_id: int, via: str) -> None: ...
    async def touch(self, identity_id: int, now: datetime) -> None: ...
    async def issue_link_code(
        self, identity: IdentityRecord, *, channel: str, now: datetime
    ) -> IssuedCode: ...
    async def redeem_link_code(
        self,
        raw_code: str,
        identity: IdentityRecord,
        *,
        now: datetime,
        continuity_window: timedelta | None = None,
    ) -> Redemption: ...


class ConversationRepository(Protocol):
    async def get(self, conversation_id: int) -> ConversationRecord | None: ...
    async def latest(self, customer_id: int) -> ConversationRecord | None: ...
    async def start(self, customer_id: int, channel: str, now: datetime) -> ConversationRecord: ...
    async def update(self, conversation_id: int, **fields: Any) -> None: ...


class MessageRepository(Protocol):
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
    ) -> int: ...
    async def texts(self, conversation_id: int, limit: int) -> list[tuple[str, str]]: ...
    async def for_event(self, inbound_event_id: int) -> tuple[int, int] | None:
        """(message id, conversation id) of the turn already stored for an event."""
        ...


class DecisionRepository(Protocol):
    async def add(
        self,
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
    ) -> int: ...
    async def last_of(
        self, conversation_id: int, action: str, within: int = 3
    ) -> dict[str, Any] | None:
        """Inputs of the latest decision with ``action`` among the last ``within``."""
        ...


class HandoffRepository(Protocol):
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
    ) -> HandoffRecord: ...
    async def active(self, conversation_id: int) -> HandoffRecord | None: ...
    async def post_to_staff(
        self, handoff_id: int, kind: str, now: datetime, message_id: int | None = None
    ) -> None:
        """Queue a post to the handoff's staff Slack thread (see memory.staff_posts)."""
        ...


class OutboxRepository(Protocol):
    async def enqueue(
        self,
        *,
        message_id: int,
        conversation_id: int,
        channel: str,
        external_user_id: str,
        now: datetime,
    ) -> int: ...


class ContextReader(Protocol):
    async def build_many(self, requests: Sequence[ContextRequest]) -> list[Context]:
        """The contexts of several customers (one each), in the requests' order."""
        ...

    async def build(
        self,
        *,
        customer_id: int,
        conversation: ConversationRecord,
        channel: str,
        verified: bool,
        verified_via: str | None,
        now: datetime,
    ) -> Context: ...


class UnitOfWork(Protocol):
    """One transaction over every repository; ``commit()`` or it is rolled back."""

    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def identities(self) -> IdentityRepository: ...
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def decisions(self) -> DecisionRepository: ...
    @property
    def handoffs(self) -> HandoffRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def events(self) -> EventRepository: ...
    @property
    def context(self) -> ContextReader: ...
    @property
    def batch(self) -> BatchStore:
        """Set-based reads and writes for a batch of messages (memory.batch)."""
        ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    async def commit(self) -> None: ...


class EventRepository(Protocol):
    async def mark_done(self, event_id: int, now: datetime) -> None: ...
