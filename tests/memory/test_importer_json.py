"""Importing Threadline JSON: the demo shop, bad entries with their lines, idempotence."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from memory.demo import SHOP_FILE
from memory.demo.generate import build_shop
from memory.importer import ImportFileError, import_file
from memory.models import Customer, Order, Product
from memory.orders import SqlOrderSource, as_utc

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads" / "import"
Sessions = async_sessionmaker[AsyncSession]


async def _count(session_factory: Sessions, model: type[object]) -> int:
    async with session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _emails(session_factory: Sessions) -> set[str]:
    async with session_factory() as session:
        return {e for e in (await session.scalars(select(Customer.email))).all() if e}


async def test_demo_shop_imports_completely_with_every_status(session_factory: Sessions) -> None:
    shop = json.loads(SHOP_FILE.read_text())

    report = await import_file(session_factory, SHOP_FILE)

    guests = {o["customer_email"] for o in shop["orders"]} - {c["email"] for c in shop["customers"]}
    assert report.errors == []
    assert report.customers_created == len(shop["customers"]) + len(guests)
    assert report.products_created == len(shop["products"]) >= 25
    assert report.orders_created == len(shop["orders"]) >= 220
    assert len(shop["customers"]) >= 60
    async with session_factory() as session:
        statuses = Counter((await session.scalars(select(Order.status))).all())
        linked = await session.scalar(select(func.count()).where(Order.customer_id.is_(None)))
        refs = set((await session.scalars(select(Customer.external_ref))).all())
    assert set(statuses) == {
        "pending",
        "shipped",
        "delivered",
        "cancelled",
        "return_requested",
        "refunded",
    }
    assert linked == 0
    assert {"C1001", "C1002", "C1003", "C1004", "C1005"} <= refs


def test_the_demo_shop_file_is_what_the_seeded_generator_writes() -> None:
    written = json.dumps(build_shop(), indent=2, ensure_ascii=False) + "\n"

    assert SHOP_FILE.read_text(encoding="utf-8") == written


async def test_demo_customers_have_the_documented_orders(session_factory: Sessions) -> None:
    await import_file(session_factory, SHOP_FILE)
    async with session_factory() as session:
        maya = await session.scalar(select(Customer).where(Customer.external_ref == "C1001"))
    assert maya is not None and maya.email == "maya.okafor@example.com"

    orders = await SqlOrderSource(session_factory).orders_of(maya.id)

    assert [(o.id, o.status) for o in orders] == [
        ("TL-10215", "shipped"),
        ("TL-10158", "delivered"),
        ("TL-10077", "delivered"),
    ]
    assert orders[0].tracking_carrier == "UPS"
    assert orders[0].tracking_url == "https://track.example.net/ups/UP8942290544NL"


async def test_bad_entries_are_reported_at_their_lines_and_the_rest_imported(
    session_factory: Sessions,
) -> None:
    report = await import_file(session_factory, PAYLOADS / "bad_entries.json")

    by_line = {e.line: e.message for e in report.errors}
    assert sorted(by_line) == [4, 9, 24, 33, 42, 62, 72]
    assert "email: not an email address: 'not-an-email'" in by_line[4]
    assert "product MUG-2" in by_line[9] and "price" in by_line[9]
    assert "order BAD-QTY" in by_line[24] and "items.0.qty" in by_line[24]
    assert "status" in by_line[33]
    assert "shipped_at is before created_at" in by_line[42]
    assert "order OK-1 appears twice (first at line 12)" in by_line[62]
    assert "unknown section 'discounts'" in by_line[72]
    assert (report.customers_created, report.products_created, report.orders_created) == (3, 1, 2)
    # The order that failed took nothing with it: its new customer was not created.
    assert await _emails(session_factory) == {
        "ana.ruiz@example.com",
        "ben.ode@example.org",
        "guest@example.com",
    }
    source = SqlOrderSource(session_factory)
    first = await source.order("#ok-1")
    guest_order = await source.order("ok-2")
    assert first is not None and first.email == "ana.ruiz@example.com"
    assert first.total == Decimal("25.00") and first.tracking_number == "3S123"
    assert guest_order is not None and guest_order.currency == "EUR"
    assert guest_order.created_at == datetime(2026, 3, 7, 9, 0, tzinfo=UTC)
    assert await source.order("BAD-QTY") is None
    assert await _count(session_factory, Order) == 2


async def test_reimporting_the_same_file_changes_nothing(session_factory: Sessions) -> None:
    await import_file(session_factory, SHOP_FILE)
    before = [await _count(session_factory, m) for m in (Customer, Product, Order)]

    again = await import_file(session_factory, SHOP_FILE)

    assert (again.customers_created, again.products_created, again.orders_created) == (0, 0, 0)
    assert (again.customers_updated, again.products_updated, again.orders_updated) == (0, 0, 0)
    assert again.orders_unchanged == before[2]
    assert [await _count(session_factory, m) for m in (Customer, Product, Order)] == before


async def test_a_changed_order_is_updated_in_place(
    session_factory: Sessions, tmp_path: Path
) -> None:
    shop = json.loads(SHOP_FILE.read_text())
    await import_file(session_factory, SHOP_FILE)
    order = next(o for o in shop["orders"] if o["id"] == "TL-10236")
    order["status"] = "shipped"
    order["shipped_at"] = "2026-06-30T08:00:00Z"
    order["tracking"] = {"carrier": "DHL", "number": "JJD0001", "url": "https://t.example.net/1"}
    changed = tmp_path / "shop.json"
    changed.write_text(json.dumps(shop))

    report = await import_file(session_factory, changed)

    assert (report.orders_created, report.orders_updated) == (0, 1)
    stored = await SqlOrderSource(session_factory).order("tl-10236")
    assert stored is not None and stored.status == "shipped"
    assert stored.tracking_number == "JJD0001"


async def test_rebased_dates_end_yesterday_and_keep_their_spacing(
    session_factory: Sessions,
) -> None:
    now = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)

    await import_file(session_factory, SHOP_FILE, rebase_dates=True, now=now)

    async with session_factory() as session:
        newest_created = await session.scalar(select(func.max(Order.created_at)))
        pending = await session.get(Order, "TL-10236")
        newest = await session.get(Order, "TL-10238")
    assert newest_created is not None and newest is not None and pending is not None
    assert as_utc(newest.created_at) == now - timedelta(days=1)
    assert as_utc(newest_created) == now - timedelta(days=1)
    # TL-10236 was created 16 h 12 min before TL-10238 in the file, and still is.
    assert as_utc(newest.created_at) - as_utc(pending.created_at) == timedelta(hours=16, minutes=12)


async def test_conflicting_shop_id_is_rejected_without_touching_the_owner(
    session_factory: Sessions, tmp_path: Path
) -> None:
    await import_file(session_factory, SHOP_FILE)
    clash = tmp_path / "clash.json"
    clash.write_text(
        '{"customers": [\n'
        '  {"email": "someone.else@example.com", "external_ids": {"shop": "C1001"}}\n'
        "]}\n"
    )

    report = await import_file(session_factory, clash)

    assert [(e.line, e.message) for e in report.errors] == [
        (
            2,
            "customer someone.else@example.com: shop id C1001 already belongs to "
            "maya.okafor@example.com",
        )
    ]
    assert "someone.else@example.com" not in await _emails(session_factory)


async def _install_refusing_trigger(engine: AsyncEngine) -> None:
    """Make the database itself refuse inserting the order with id BOOM."""
    if engine.dialect.name == "sqlite":
        statements = [
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON orders WHEN NEW.id = 'BOOM' "
            "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
        ]
    else:
        statements = [
            "CREATE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN "
            "IF NEW.id = 'BOOM' THEN RAISE EXCEPTION 'refused by trigger'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON orders "
            "FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
        ]
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def _drop_refusing_trigger(engine: AsyncEngine) -> None:
    if engine.dialect.name == "sqlite":
        statements = ["DROP TRIGGER refuse_boom"]
    else:
        statements = ["DROP TRIGGER refuse_boom ON orders", "DROP FUNCTION refuse_boom()"]
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def test_a_database_failure_rolls_back_only_that_order(
    engine: AsyncEngine, session_factory: Sessions, tmp_path: Path
) -> None:
    """A new customer and their order are written together or not at all."""
    await _install_refusing_trigger(engine)
    order = {
        "status": "pending",
        "created_at": "2026-05-01T10:00:00Z",
        "currency": "EUR",
        "total": "5.00",
        "items": [{"name": "Patch", "qty": 1, "price": "5.00"}],
    }
    path = tmp_path / "boom.json"
    path.write_text(
        json.dumps(
            {
                "orders": [
                    {"id": "BOOM", "customer_email": "boom@example.com", **order},
                    {"id": "FINE", "customer_email": "fine@example.com", **order},
                ]
            },
            indent=2,
        )
    )
    try:
        report = await import_file(session_factory, path)
    finally:
        await _drop_refusing_trigger(engine)

    assert [e.line for e in report.errors] == [3]
    assert "refused by trigger" in report.errors[0].message
    assert await _emails(session_factory) == {"fine@example.com"}
    assert report.orders_created == 1 and report.customers_created == 1


async def test_unreadable_files_raise_a_clear_error(
    session_factory: Sessions, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "customers": [\n    {"email": "a@example.com",}\n  ]\n}\n')
    other = tmp_path / "orders.xlsx"
    other.write_text("x")

    with pytest.raises(ImportFileError, match=r"not valid JSON at line 3"):
        await import_file(session_factory, broken)
    with pytest.raises(ImportFileError, match=r"unknown format '.xlsx'"):
        await import_file(session_factory, other)
    assert await _count(session_factory, Customer) == 0
