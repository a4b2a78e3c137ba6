"""Set-based reads and writes for a batch of messages (``uow.batch``).

The worker processes a claimed batch of events with a few statements for the
whole batch instead of a round of statements per message (bot.batch_pipeline).
Each method here does, for many rows at once, what one repository method does
for one: ``SqlBatch`` (memory.batch_sql) with one statement per call,
``LoopedBatch`` by calling the single-row methods in turn, which makes it the
reference the SQL version is tested against and the in-memory fakes' batch.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from memory.ports import UnitOfWork
from memory.records import ConversationRecord, CustomerRecord, IdentityRecord

Sender = tuple[str, str]  # (channel, external user id)


class BatchStore(Protocol):
    async def identities(self, senders: Collection[Sender]) -> dict[Sender, IdentityRecord]:
        """The known identities among ``senders`` (unknown ones are absent)."""
        ...

    async def customers_by_ref(self, refs: Collection[str]) -> dict[str, CustomerRecord]:
        """Shop logins → the customer that speaks for each now (merges followed)."""
        ...

    async def customers_by_email(self, emails: Collection[str]) -> dict[str, CustomerRecord]:
        """Emails (as given) → the customer that speaks for each now."""
        ...

    async def latest_conversations(
        self, customer_ids: Collection[int]
    ) -> dict[int, ConversationRecord]:
        """Each customer's latest conversation (customers without one are absent)."""
        ...

    async def conversations(self, ids: Collection[int]) -> dict[int, ConversationRecord]: ...

    async def touch_identities(self, identity_ids: Collection[int], now: datetime) -> None:
        """``identities.touch`` for each."""
        ...

    async def update_conversations(
        self, changes: Sequence[tuple[int, Mapping[str, object]]]
    ) -> None:
        """``conversations.update(id, **fields)`` for each ``(id, fields)``."""
        ...

    async def add_messages(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """``messages.add(**row)`` for each row; the new ids in the rows' order."""
        ...

    async def add_decisions(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """``decisions.add(**row)`` for each row; the new ids in the rows' order."""
        ...

    async def enqueue(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """``outbox.enqueue(**row)`` for each row."""
        ...

    async def mark_done(self, event_ids: Collection[int], now: datetime) -> None: ...


class LoopedBatch:
    """The batch port over any unit of work's single-row methods."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def identities(self, senders: Collection[Sender]) -> dict[Sender, IdentityRecord]:
        found = {sender: await self._uow.identities.get(*sender) for sender in senders}
        return {sender: identity for sender, identity in found.items() if identity is not None}

    async def customers_by_ref(self, refs: Collection[str]) -> dict[str, CustomerRecord]:
        found = {ref: await self._uow.customers.by_ref(ref) for ref in refs}
        return {ref: customer for ref, customer in found.items() if customer is not None}

    async def customers_by_email(self, emails: Collection[str]) -> dict[str, CustomerRecord]:
        found = {email: await self._uow.customers.by_email(email) for email in emails}
        return {email: customer for email, customer in found.items() if customer is not None}

    async def latest_conversations(
        self, customer_ids: Collection[int]
    ) -> dict[int, ConversationRecord]:
        found = {cid: await self._uow.conversations.latest(cid) for cid in customer_ids}
        return {cid: conversation for cid, conversation in found.items() if conversation}

    async def conversations(self, ids: Collection[int]) -> dict[int, ConversationRecord]:
        found = {cid: await self._uow.conversations.get(cid) for cid in ids}
        return {cid: conversation for cid, conversation in found.items() if conversation}

    async def touch_identities(self, identity_ids: Collection[int], now: datetime) -> None:
        for identity_id in identity_ids:
            await self._uow.identities.touch(identity_id, now)

    async def update_conversations(
        self, changes: Sequence[tuple[int, Mapping[str, object]]]
    ) -> None:
        for conversation_id, fields in changes:
            await self._uow.conversations.update(conversation_id, **fields)

    async def add_messages(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        return [await self._uow.messages.add(**row) for row in rows]

    async def add_decisions(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        return [await self._uow.decisions.add(**row) for row in rows]

    async def enqueue(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            await self._uow.outbox.enqueue(**row)

    async def mark_done(self, event_ids: Collection[int], now: datetime) -> None:
        for event_id in event_ids:
            await self._uow.events.mark_done(event_id, now)
