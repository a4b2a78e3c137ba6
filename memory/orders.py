"""Where the bot reads a customer's orders: one Protocol, a SQL source and an in-memory one.

Order ids are compared in one normal form (:func:`normalize_order_id`): customers write
"#tl-10234", "TL-10234" or "tl 10234" and all of them mean the same order.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Integer, Row, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.bounded import AnySelect, PerKey
from memory.models import ORDERS, Order
from memory.views import OrderItem, OrderView

ORDER_STATUSES = (
    "pending",
    "shipped",
    "delivered",
    "cancelled",
    "return_requested",
    "refunded",
)
# Orders whose money stayed with the shop count towards a customer's lifetime value.
NOT_SPENT_STATUSES = frozenset({"cancelled", "refunded"})

Overview = tuple[list[OrderView], int, Decimal]  # latest orders, how many, lifetime value

_SPACES = re.compile(r"\s+")


def normalize_order_id(order_id: str) -> str:
    """The stored form of an order id: trimmed, no leading ``#``, upper case.

    Inner spaces become dashes so "tl 10234" finds "TL-10234"; Shopify names
    such as "#1001" become "1001".
    """
    cleaned = order_id.strip().lstrip("#").strip()
    return _SPACES.sub("-", cleaned).upper()


def as_utc(value: datetime) -> datetime:
    """A timezone-aware UTC datetime (SQLite hands back naive UTC values)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _optional_utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def items_from_json(raw: Sequence[Any]) -> tuple[OrderItem, ...]:
    """Line items as stored in ``orders.items`` (a JSON list of objects)."""
    return tuple(
        OrderItem(
            name=str(item.get("name", "")),
            sku=str(item.get("sku") or ""),
            qty=int(item.get("qty", 1)),
            price=Decimal(str(item.get("price", "0"))),
        )
        for item in raw
        if isinstance(item, dict)
    )


def order_view(row: Order | Row[Any]) -> OrderView:
    """The read model of one stored order."""
    return OrderView(
        id=row.id,
        email=row.email,
        status=row.status,
        currency=row.currency,
        total=Decimal(row.total),
        items=items_from_json(row.items or []),
        created_at=as_utc(row.created_at),
        shipped_at=_optional_utc(row.shipped_at),
        delivered_at=_optional_utc(row.delivered_at),
        tracking_carrier=row.tracking_carrier,
        tracking_number=row.tracking_number,
        tracking_url=row.tracking_url,
        customer_id=row.customer_id,
    )


class OrderSource(Protocol):
    """Read access to the shop's orders, as the context builder and responders need it."""

    async def orders_of(self, customer_id: int, limit: int = 10) -> list[OrderView]:
        """The customer's orders, newest first, at most ``limit``."""
        ...

    async def order(self, order_id: str) -> OrderView | None:
        """One order by id, in any spelling :func:`normalize_order_id` accepts."""
        ...

    async def totals(self, customer_id: int) -> tuple[int, Decimal]:
        """(number of orders, lifetime value of orders not cancelled or refunded)."""
        ...

    async def overviews(self, customer_ids: Sequence[int], limit: int = 10) -> dict[int, Overview]:
        """``orders_of`` and ``totals`` of each customer (few round trips where the source
        can); every customer asked about has an entry."""
        ...


class SqlOrderSource:
    """Orders from the ``orders`` table, filled by ``threadline import``."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    async def orders_of(self, customer_id: int, limit: int = 10) -> list[OrderView]:
        async with self._session_factory() as session:
            return (await latest_orders(session, [customer_id], limit))[customer_id]

    async def order(self, order_id: str) -> OrderView | None:
        key = normalize_order_id(order_id)
        if not key:
            return None
        async with self._session_factory() as session:
            row = await session.get(Order, key)
        return None if row is None else order_view(row)

    async def totals(self, customer_id: int) -> tuple[int, Decimal]:
        async with self._session_factory() as session:
            return (await _totals(session, [customer_id]))[customer_id]

    async def overviews(self, customer_ids: Sequence[int], limit: int = 10) -> dict[int, Overview]:
        if not customer_ids:
            return {}
        async with self._session_factory() as session:
            latest = await latest_orders(session, customer_ids, limit)
            totals = await _totals(session, customer_ids)
        return {cid: (latest[cid], *totals[cid]) for cid in customer_ids}


async def latest_orders(
    session: AsyncSession, customer_ids: Sequence[int], limit: int
) -> dict[int, list[OrderView]]:
    """Each customer's newest ``limit`` orders, newest first (one statement)."""
    latest: dict[int, list[OrderView]] = {cid: [] for cid in customer_ids}
    if limit > 0:
        keys = [(cid,) for cid in customer_ids]
        for row in await latest_per_customer(limit).rows(session, keys):
            latest[int(row.customer_id or 0)].append(order_view(row))
    for views in latest.values():
        views.sort(key=_newest_first, reverse=True)
    return latest


async def _totals(
    session: AsyncSession, customer_ids: Sequence[int]
) -> dict[int, tuple[int, Decimal]]:
    """Each customer's (number of orders, lifetime value) (one statement)."""
    counted = await session.execute(_totals_statement(), {"customers": list(customer_ids)})
    totals = {cid: (0, Decimal("0.00")) for cid in customer_ids}
    for cid, count, value in counted.all():
        totals[int(cid or 0)] = (int(count), _money(value))
    return totals


@functools.cache
def _totals_statement() -> AnySelect:
    return (
        select(Order.customer_id, func.count(Order.id), _spent())
        .where(Order.customer_id.in_(bindparam("customers", expanding=True)))
        .group_by(Order.customer_id)
    )


@functools.cache
def latest_per_customer(limit: int) -> PerKey:
    def latest(customer_id: Any) -> AnySelect:
        return (
            select(ORDERS)
            .where(Order.customer_id == customer_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit)
        )

    return PerKey(latest, [Integer()])


def _spent() -> ColumnElement[Any]:
    """Lifetime value: the totals of orders whose money stayed with the shop."""
    return func.coalesce(func.sum(Order.total).filter(Order.status.not_in(NOT_SPENT_STATUSES)), 0)


def _money(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _newest_first(order: OrderView) -> tuple[datetime, str]:
    """With ``reverse=True``: newest first, as each customer's select orders them."""
    return (order.created_at, order.id)


class InMemoryOrderSource:
    """The same Protocol over a list of :class:`OrderView`, for unit tests and fakes."""

    def __init__(self, orders: Iterable[OrderView] = ()) -> None:
        self._orders: dict[str, OrderView] = {}
        for order in orders:
            self.add(order)

    def add(self, order: OrderView) -> None:
        """Add or replace an order (keyed by its normalized id)."""
        self._orders[normalize_order_id(order.id)] = order

    async def orders_of(self, customer_id: int, limit: int = 10) -> list[OrderView]:
        mine = [o for o in self._orders.values() if o.customer_id == customer_id]
        mine.sort(key=lambda o: (o.created_at, o.id), reverse=True)
        return mine[: max(limit, 0)]

    async def order(self, order_id: str) -> OrderView | None:
        return self._orders.get(normalize_order_id(order_id))

    async def totals(self, customer_id: int) -> tuple[int, Decimal]:
        mine = [o for o in self._orders.values() if o.customer_id == customer_id]
        value = sum((o.total for o in mine if o.status not in NOT_SPENT_STATUSES), Decimal("0"))
        return len(mine), value.quantize(Decimal("0.01"))

    async def overviews(self, customer_ids: Sequence[int], limit: int = 10) -> dict[int, Overview]:
        return {
            cid: (await self.orders_of(cid, limit), *await self.totals(cid)) for cid in customer_ids
        }
