"""Unit of work over one SQLAlchemy session (one transaction)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.batch_sql import SqlBatch
from memory.context import ContextLimits, SqlContextReader
from memory.orders import OrderSource
from memory.sql_repositories import (
    SqlConversations,
    SqlCustomers,
    SqlDecisions,
    SqlEvents,
    SqlHandoffs,
    SqlIdentities,
    SqlMessages,
    SqlOutbox,
)


class SqlUnitOfWork:
    """``async with uow: …; await uow.commit()``; leaving without commit rolls back."""

    customers: SqlCustomers
    identities: SqlIdentities
    conversations: SqlConversations
    messages: SqlMessages
    decisions: SqlDecisions
    handoffs: SqlHandoffs
    outbox: SqlOutbox
    events: SqlEvents
    context: SqlContextReader
    batch: SqlBatch

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        orders: OrderSource,
        limits: ContextLimits | None = None,
    ) -> None:
        self._factory = session_factory
        self._orders = orders
        self._limits = limits
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        session = self._factory()
        self._session = session
        self.customers = SqlCustomers(session)
        self.identities = SqlIdentities(session)
        self.conversations = SqlConversations(session)
        self.messages = SqlMessages(session)
        self.decisions = SqlDecisions(session)
        self.handoffs = SqlHandoffs(session)
        self.outbox = SqlOutbox(session)
        self.events = SqlEvents(session)
        self.context = SqlContextReader(session, self._orders, self._limits)
        self.batch = SqlBatch(session)
        await session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None

    async def commit(self) -> None:
        assert self._session is not None
        await self._session.commit()


class SqlUnitOfWorkFactory:
    """Makes a fresh :class:`SqlUnitOfWork` per message."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        orders: OrderSource,
        limits: ContextLimits | None = None,
    ) -> None:
        self._factory = session_factory
        self._orders = orders
        self._limits = limits

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._factory, self._orders, self._limits)
