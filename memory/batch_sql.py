"""``BatchStore`` in SQL: one statement per call, whatever the batch size.

Per-row limits ("each customer's latest conversation") are one statement of
index-bounded selects (memory.bounded), so a long history costs no more in a
batch than alone.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Insert,
    Integer,
    Table,
    Update,
    bindparam,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.batch import Sender
from memory.bounded import AnySelect, PerKey
from memory.contact_marks import mark_new
from memory.context import ContextLimits, batch_statements
from memory.models import (
    CONVERSATIONS,
    CUSTOMERS,
    DECISIONS,
    EVENTS,
    IDENTITIES,
    MESSAGES,
    OUTBOX,
    UtcDateTime,
)
from memory.records import ConversationRecord, CustomerRecord, IdentityRecord
from memory.sql_repositories import (
    CONVERSATION_FIELDS,
    conversation_record,
    decision_values,
    identity_record,
    message_values,
    outbox_values,
    speaking_for,
)


def _latest_conversation(customer_id: Any) -> AnySelect:
    c = CONVERSATIONS.c
    return (
        select(CONVERSATIONS)
        .where(c.customer_id == customer_id)
        .order_by(c.started_at.desc(), c.id.desc())
        .limit(1)
    )


LATEST_CONVERSATION = PerKey(_latest_conversation, [Integer()])

# Built once: the worker runs these for every batch, and building a statement costs
# about as much as running it (the values travel as expanding parameters).
_IDENTITIES_OF = select(IDENTITIES).where(
    tuple_(IDENTITIES.c.channel, IDENTITIES.c.external_user_id).in_(
        bindparam("senders", expanding=True)
    )
)
_CUSTOMERS_BY_REF = select(CUSTOMERS).where(
    CUSTOMERS.c.external_ref.in_(bindparam("refs", expanding=True))
)
_CUSTOMERS_BY_EMAIL = select(CUSTOMERS).where(
    CUSTOMERS.c.email.in_(bindparam("emails", expanding=True))
)
_CONVERSATIONS_BY_ID = select(CONVERSATIONS).where(
    CONVERSATIONS.c.id.in_(bindparam("ids", expanding=True))
)
_TOUCH_IDENTITIES = (
    update(IDENTITIES)
    .where(IDENTITIES.c.id.in_(bindparam("ids", expanding=True)))
    .values(last_seen_at=bindparam("now", type_=UtcDateTime()), unreachable=False)
)
_MARK_DONE = (
    update(EVENTS)
    .where(EVENTS.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        state="done",
        processed_at=bindparam("now", type_=UtcDateTime()),
        locked_until=None,
        error=None,
    )
)


@functools.cache
def _conversation_update(names: tuple[str, ...]) -> Update:
    """``UPDATE conversations`` of these fields, by id, for executemany."""
    return (
        update(CONVERSATIONS)
        .where(CONVERSATIONS.c.id == bindparam("v_id"))
        .values({name: bindparam(f"v_{name}") for name in names})
    )


@functools.cache
def _insert_returning_ids(table: Table, in_given_order: bool) -> Insert:
    returning = table.c.id
    if in_given_order:
        return insert(table).returning(returning, sort_by_parameter_order=True)
    return insert(table).returning(returning)


async def warm_batch_statements(
    factory: async_sessionmaker[AsyncSession], *, most: int, limits: ContextLimits | None = None
) -> int:
    """Compile the worker's per-key statements for every batch size up to ``most``
    (memory.bounded: ``PerKey.warm``); returns how many statements ran."""
    ran = 0
    async with factory() as session:
        for per_key in [LATEST_CONVERSATION, *batch_statements(limits)]:
            ran += await per_key.warm(session, most)
    return ran


class SqlBatch:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def identities(self, senders: Collection[Sender]) -> dict[Sender, IdentityRecord]:
        if not senders:
            return {}
        rows = await self._s.execute(_IDENTITIES_OF, {"senders": list(senders)})
        return {(r.channel, r.external_user_id): identity_record(r) for r in rows}

    async def customers_by_ref(self, refs: Collection[str]) -> dict[str, CustomerRecord]:
        if not refs:
            return {}
        rows = await self._s.execute(_CUSTOMERS_BY_REF, {"refs": list(refs)})
        return {str(r.external_ref): await speaking_for(self._s, r) for r in rows.all()}

    async def customers_by_email(self, emails: Collection[str]) -> dict[str, CustomerRecord]:
        if not emails:
            return {}
        given = {email.lower(): email for email in emails}
        rows = await self._s.execute(_CUSTOMERS_BY_EMAIL, {"emails": list(given)})
        return {given[str(r.email)]: await speaking_for(self._s, r) for r in rows.all()}

    async def latest_conversations(
        self, customer_ids: Collection[int]
    ) -> dict[int, ConversationRecord]:
        if not customer_ids:
            return {}
        rows = await LATEST_CONVERSATION.rows(self._s, [(cid,) for cid in customer_ids])
        return {row.customer_id: conversation_record(row) for row in rows}

    async def conversations(self, ids: Collection[int]) -> dict[int, ConversationRecord]:
        if not ids:
            return {}
        rows = await self._s.execute(_CONVERSATIONS_BY_ID, {"ids": list(ids)})
        return {r.id: conversation_record(r) for r in rows}

    async def touch_identities(self, identity_ids: Collection[int], now: datetime) -> None:
        if identity_ids:
            await self._s.execute(_TOUCH_IDENTITIES, {"ids": list(identity_ids), "now": now})

    async def update_conversations(
        self, changes: Sequence[tuple[int, Mapping[str, object]]]
    ) -> None:
        by_fields: dict[tuple[str, ...], list[dict[str, object]]] = defaultdict(list)
        for conversation_id, fields in changes:
            unknown = set(fields) - CONVERSATION_FIELDS
            if unknown:
                raise ValueError(f"unknown conversation fields: {sorted(unknown)}")
            params = {f"v_{k}": v for k, v in fields.items()}
            by_fields[tuple(sorted(fields))].append({"v_id": conversation_id, **params})
        for names, rows in by_fields.items():
            await self._s.execute(_conversation_update(names), rows)

    async def add_messages(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        values = [message_values(**row) for row in rows]
        ids = await self._insert(MESSAGES, values)
        await mark_new(
            self._s, [i for i, v in zip(ids, values, strict=True) if v["author"] == "customer"]
        )
        return ids

    async def add_decisions(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        return await self._insert(DECISIONS, [decision_values(**row) for row in rows])

    async def enqueue(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self._insert(OUTBOX, [outbox_values(**row) for row in rows])

    async def mark_done(self, event_ids: Collection[int], now: datetime) -> None:
        if event_ids:
            await self._s.execute(_MARK_DONE, {"ids": list(event_ids), "now": now})

    async def _insert(self, table: Table, values: list[dict[str, Any]]) -> list[int]:
        """Insert the rows in one statement; their ids in the rows' order."""
        if not values:
            return []
        if self._s.get_bind().dialect.name == "sqlite":
            # SQLite cannot promise RETURNING's order, and SQLAlchemy would then insert
            # row by row. It needs no promise: the transaction holds the only write
            # lock and rows of one INSERT take ascending ids in the order given.
            result = await self._s.execute(_insert_returning_ids(table, False), values)
            return sorted(result.scalars())
        result = await self._s.execute(_insert_returning_ids(table, True), values)
        return list(result.scalars())
