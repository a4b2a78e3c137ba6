"""The order source: the same behaviour from the SQL table and the in-memory double."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.models import Customer, Order
from memory.orders import InMemoryOrderSource, OrderSource, SqlOrderSource, normalize_order_id
from memory.views import OrderItem, OrderView

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _orders(ana: int, ben: int) -> list[OrderView]:
    def order(oid: str, customer: int, days: int, status: str, total: str) -> OrderView:
        return OrderView(
            id=oid,
            email="ana@example.com" if customer == ana else "ben@example.com",
            status=status,
            currency="EUR",
            total=Decimal(total),
            items=(OrderItem(name="Tent", sku="T-1", qty=1, price=Decimal(total)),),
            created_at=T0 + timedelta(days=days),
            shipped_at=T0 + timedelta(days=days + 1) if status != "pending" else None,
            tracking_carrier="DHL" if status == "shipped" else None,
            tracking_number="JJD42" if status == "shipped" else None,
            customer_id=customer,
        )

    return [
        order("TL-10001", ana, 0, "delivered", "120.00"),
        order("TL-10002", ana, 3, "cancelled", "50.00"),
        order("TL-10003", ana, 5, "refunded", "30.00"),
        order("TL-10004", ana, 9, "shipped", "249.90"),
        order("TL-10005", ben, 7, "pending", "15.00"),
    ]


@dataclass
class Shop:
    source: OrderSource
    ana: int
    ben: int


async def _sql_shop(session_factory: async_sessionmaker[AsyncSession]) -> Shop:
    async with session_factory() as session, session.begin():
        ana = Customer(email="ana@example.com", name="Ana", tags=[], created_at=T0)
        ben = Customer(email="ben@example.com", name="Ben", tags=[], created_at=T0)
        session.add_all([ana, ben])
        await session.flush()
        for view in _orders(ana.id, ben.id):
            session.add(
                Order(
                    id=view.id,
                    customer_id=view.customer_id,
                    email=view.email,
                    status=view.status,
                    currency=view.currency,
                    total=view.total,
                    items=[
                        {"name": i.name, "sku": i.sku, "qty": i.qty, "price": str(i.price)}
                        for i in view.items
                    ],
                    created_at=view.created_at,
                    shipped_at=view.shipped_at,
                    tracking_carrier=view.tracking_carrier,
                    tracking_number=view.tracking_number,
                )
            )
        return Shop(SqlOrderSource(session_factory), ana.id, ben.id)


@pytest.fixture(params=["sql", "in_memory"])
async def shop(
    request: pytest.FixtureRequest, session_factory: async_sessionmaker[AsyncSession]
) -> Shop:
    """The same orders behind both sources (the in-memory one ignores the database)."""
    if request.param == "in_memory":
        return Shop(InMemoryOrderSource(_orders(1, 2)), 1, 2)
    return await _sql_shop(session_factory)


async def test_a_customer_sees_only_their_orders_newest_first(shop: Shop) -> None:
    ana = await shop.source.orders_of(shop.ana)
    ben = await shop.source.orders_of(shop.ben)

    assert [o.id for o in ana] == ["TL-10004", "TL-10003", "TL-10002", "TL-10001"]
    assert [o.id for o in ben] == ["TL-10005"]
    assert [o.id for o in await shop.source.orders_of(shop.ana, limit=2)] == [
        "TL-10004",
        "TL-10003",
    ]
    assert await shop.source.orders_of(shop.ben + 1000) == []


async def test_orders_read_back_with_items_tracking_and_utc_dates(shop: Shop) -> None:
    order = await shop.source.order("TL-10004")

    assert order is not None
    assert order.items == (OrderItem(name="Tent", sku="T-1", qty=1, price=Decimal("249.90")),)
    assert (order.tracking_carrier, order.tracking_number) == ("DHL", "JJD42")
    assert order.created_at == T0 + timedelta(days=9)
    assert order.created_at.tzinfo is not None
    assert order.customer_id == shop.ana


@pytest.mark.parametrize("spelling", ["TL-10004", "#tl-10004", "  #TL-10004 ", "tl 10004"])
async def test_order_ids_are_found_in_any_spelling(shop: Shop, spelling: str) -> None:
    order = await shop.source.order(spelling)

    assert order is not None and order.id == "TL-10004"


async def test_unknown_or_empty_order_ids_find_nothing(shop: Shop) -> None:
    assert await shop.source.order("TL-99999") is None
    assert await shop.source.order("#") is None


async def test_totals_leave_out_cancelled_and_refunded_money(shop: Shop) -> None:
    assert await shop.source.totals(shop.ana) == (4, Decimal("369.90"))
    assert await shop.source.totals(shop.ben) == (1, Decimal("15.00"))
    assert await shop.source.totals(shop.ben + 1000) == (0, Decimal("0.00"))


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("#1001", "1001"),
        ("tl-10234", "TL-10234"),
        (" #TL 10234 ", "TL-10234"),
        ("W2611340", "W2611340"),
    ],
)
def test_normalize_order_id(raw: str, normal: str) -> None:
    assert normalize_order_id(raw) == normal
