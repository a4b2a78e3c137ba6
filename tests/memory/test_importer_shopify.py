"""Importing Shopify's order export: grouped line items, status mapping, bad rows."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.importer import ImportFileError, import_file
from memory.models import Customer
from memory.orders import SqlOrderSource
from memory.shopify_csv import shopify_status
from memory.views import OrderItem

SAMPLE = Path(__file__).resolve().parent.parent / "payloads" / "import" / "shopify_orders.csv"
Sessions = async_sessionmaker[AsyncSession]


async def test_orders_are_grouped_and_bad_rows_reported_at_their_line(
    session_factory: Sessions,
) -> None:
    report = await import_file(session_factory, SAMPLE)

    # Line 7 is the second row of #1003 (after a quoted note spanning lines 2-3).
    assert [(e.line, e.message) for e in report.errors] == [
        (
            7,
            "order #1003: Lineitem quantity is not a whole number: 'two'; "
            "the whole order was skipped",
        ),
        (
            12,
            "order #1007: Email is empty: an order without an email cannot be linked to a customer",
        ),
    ]
    assert report.orders_created == 5
    source = SqlOrderSource(session_factory)
    first = await source.order("#1001")
    assert first is not None
    assert first.items == (
        OrderItem(name="Trail Socks - M", sku="SOCK-M", qty=2, price=Decimal("18.00")),
        OrderItem(name="Camp Mug", sku="MUG-CAMP", qty=1, price=Decimal("48.00")),
    )
    assert first.status == "shipped"
    assert first.email == "kim.lau@example.com"
    assert first.total == Decimal("84.00")
    assert first.created_at == datetime(2026, 4, 2, 7, 14, 51, tzinfo=UTC)
    assert first.shipped_at == datetime(2026, 4, 3, 14, 40, 12, tzinfo=UTC)
    assert await source.order("#1003") is None


async def test_statuses_and_customers_come_from_the_export(session_factory: Sessions) -> None:
    await import_file(session_factory, SAMPLE)
    source = SqlOrderSource(session_factory)

    statuses = {}
    for name in ("1001", "1002", "1004", "1005", "1006"):
        order = await source.order(name)
        assert order is not None
        statuses[name] = order.status

    assert statuses == {
        "1001": "shipped",
        "1002": "pending",
        "1004": "refunded",
        "1005": "cancelled",
        "1006": "refunded",
    }
    async with session_factory() as session:
        customers = {
            c.email: (c.name, c.phone) for c in (await session.scalars(select(Customer))).all()
        }
    # Kim ordered twice (once with a capitalised email) and is one customer.
    assert customers == {
        "kim.lau@example.com": ("Kim Lau", "+31 6 2222 3333"),
        "raj.patel@example.org": ("Raj Patel", "+49 151 3333 4444"),
        "ola.berg@example.com": ("Ola Berg", None),
    }
    async with session_factory() as session:
        kim = await session.scalar(
            select(Customer.id).where(Customer.email == "kim.lau@example.com")
        )
    assert kim is not None
    # The refunded #1004 does not count towards what Kim spent.
    assert await source.totals(kim) == (2, Decimal("84.00"))
    assert [o.id for o in await source.orders_of(kim)] == ["1004", "1001"]


async def test_reimporting_the_export_is_idempotent(session_factory: Sessions) -> None:
    await import_file(session_factory, SAMPLE)

    again = await import_file(session_factory, SAMPLE)

    assert (again.orders_created, again.orders_updated, again.orders_unchanged) == (0, 0, 5)
    assert again.customers_created == 0
    assert len(again.errors) == 2


@pytest.mark.parametrize(
    ("financial", "fulfillment", "cancelled_at", "delivered_at", "expected"),
    [
        ("paid", "fulfilled", "", "", "shipped"),
        ("paid", "partial", "", "", "shipped"),
        ("paid", "fulfilled", "", "2026-04-05 10:00:00 +0200", "delivered"),
        ("paid", "unfulfilled", "", "", "pending"),
        ("authorized", "", "", "", "pending"),
        ("pending", "", "", "", "pending"),
        ("refunded", "fulfilled", "", "", "refunded"),
        ("partially_refunded", "fulfilled", "", "", "refunded"),
        ("voided", "unfulfilled", "", "", "cancelled"),
        ("paid", "restocked", "", "", "cancelled"),
        ("refunded", "unfulfilled", "2026-04-09 13:00:00 +0200", "", "cancelled"),
        ("Paid", "Fulfilled", "", "", "shipped"),
    ],
)
def test_shopify_statuses_map_to_ours(
    financial: str, fulfillment: str, cancelled_at: str, delivered_at: str, expected: str
) -> None:
    assert shopify_status(financial, fulfillment, cancelled_at, delivered_at) == expected


async def test_a_csv_that_is_not_an_order_export_is_refused(
    session_factory: Sessions, tmp_path: Path
) -> None:
    products = tmp_path / "products.csv"
    products.write_text("Handle,Title,Variant SKU\ntent,Tent,T-1\n")

    with pytest.raises(ImportFileError, match="missing column"):
        await import_file(session_factory, products)
