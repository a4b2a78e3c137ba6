"""Writes validated import records: upserts by email / SKU / order id, one savepoint each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from memory.import_records import CustomerRecord, OrderRecord, ParsedFile, ProductRecord, RowError
from memory.models import Customer, Order, Product
from memory.orders import as_utc

CHUNK = 500
Row = TypeVar("Row", Customer, Product, Order)


@dataclass
class ImportReport:
    """What one import did; ``errors`` lists every entry that was skipped."""

    path: str
    customers_created: int = 0
    customers_updated: int = 0
    customers_unchanged: int = 0
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    orders_created: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        return {f.name: v for f in fields(self) if isinstance(v := getattr(self, f.name), int)}

    def restore(self, counts: dict[str, int]) -> None:
        for name, value in counts.items():
            setattr(self, name, value)

    def summary(self) -> str:
        """The counts, as ``threadline import`` prints them (errors are listed separately)."""
        lines = [
            f"Imported {self.path}",
            f"  customers: {self.customers_created} created, {self.customers_updated} updated, "
            f"{self.customers_unchanged} unchanged",
            f"  products:  {self.products_created} created, {self.products_updated} updated, "
            f"{self.products_unchanged} unchanged",
            f"  orders:    {self.orders_created} created, {self.orders_updated} updated, "
            f"{self.orders_unchanged} unchanged",
        ]
        if self.errors:
            lines.append(f"  skipped: {len(self.errors)} entries with errors")
        return "\n".join(lines)


class EntryRejected(Exception):
    """An entry that is valid on its own but conflicts with what is stored."""


class StoreWriter:
    """Writes one parsed file inside the caller's transaction.

    Existing rows are loaded up front in a few bulk queries; each entry is then written in
    its own savepoint, so a failing entry rolls back alone and leaves nothing behind.
    """

    def __init__(self, session: AsyncSession, report: ImportReport) -> None:
        self.session = session
        self.report = report
        # Strong references: the session's identity map only holds rows weakly.
        self.customers: dict[str, Customer] = {}  # by email
        self.customers_by_ref: dict[str, Customer] = {}
        self.products: dict[str, Product] = {}
        self.orders: dict[str, Order] = {}
        self._created: list[Callable[[], None]] = []
        self._touched: list[Any] = []

    async def write(self, parsed: ParsedFile) -> None:
        await self._preload(parsed)
        for line, customer in parsed.customers:
            await self._entry(line, partial(self._customer, customer))
        for line, product in parsed.products:
            await self._entry(line, partial(self._product, product))
        for line, order in parsed.orders:
            await self._entry(line, partial(self._order, order))

    async def _preload(self, parsed: ParsedFile) -> None:
        emails = {c.email for _, c in parsed.customers} | {
            o.customer_email for _, o in parsed.orders
        }
        refs = {c.external_ref for _, c in parsed.customers if c.external_ref}
        for row in await self._load(Customer, Customer.email, emails):
            self._remember_customer(row)
        for row in await self._load(Customer, Customer.external_ref, refs):
            self._remember_customer(row)
        for product in await self._load(Product, Product.sku, {p.sku for _, p in parsed.products}):
            self.products[product.sku] = product
        for order in await self._load(Order, Order.id, {o.id for _, o in parsed.orders}):
            self.orders[order.id] = order

    async def _load(self, model: type[Row], column: Any, keys: Iterable[str]) -> list[Row]:
        wanted = sorted(keys)
        rows: list[Row] = []
        for start in range(0, len(wanted), CHUNK):
            query = select(model).where(column.in_(wanted[start : start + CHUNK]))
            rows.extend((await self.session.scalars(query)).all())
        return rows

    def _remember_customer(self, row: Customer) -> None:
        if row.email:
            self.customers[row.email] = row
        if row.external_ref:
            self.customers_by_ref[row.external_ref] = row

    async def _entry(self, line: int, work: Callable[[], Awaitable[None]]) -> None:
        """Run one entry's writes in a savepoint; on failure roll back just that entry."""
        self._created.clear()
        self._touched.clear()
        counts = self.report.counts()
        try:
            async with self.session.begin_nested():
                await work()
        except EntryRejected as exc:
            self.report.restore(counts)
            self.report.errors.append(RowError(line, str(exc)))
        except Exception as exc:  # a database constraint: report it, keep importing
            self.report.restore(counts)
            cause = getattr(exc, "orig", None) or exc
            self.report.errors.append(RowError(line, f"not stored: {cause}"))
            for row in self._touched:  # rolled back: reload what the savepoint changed
                await self.session.refresh(row)
        else:
            for remember in self._created:
                remember()

    async def _customer(self, record: CustomerRecord) -> None:
        existing = self.customers.get(record.email)
        ref = record.external_ref
        owner = self.customers_by_ref.get(ref) if ref else None
        if owner is not None and owner is not existing:
            raise EntryRejected(
                f"customer {record.email}: shop id {ref} already belongs to {owner.email}"
            )
        if existing is None:
            row = Customer(
                email=record.email,
                name=record.name,
                phone=record.phone,
                external_ref=ref,
                tags=list(record.tags),
                created_at=datetime.now(UTC),
            )
            self.session.add(row)
            await self.session.flush()
            self._created.append(lambda: self._remember_customer(row))
            self.report.customers_created += 1
            return
        wanted: dict[str, Any] = {
            "name": record.name,
            "phone": record.phone,
            "tags": list(record.tags),
        }
        if ref is not None:
            wanted["external_ref"] = ref
        if await self._update(existing, wanted):
            self._created.append(lambda: self._remember_customer(existing))
            self.report.customers_updated += 1
        else:
            self.report.customers_unchanged += 1

    async def _product(self, record: ProductRecord) -> None:
        fields: dict[str, Any] = {
            "name": record.name,
            "price": record.price,
            "currency": record.currency,
            "description": record.description,
        }
        existing = self.products.get(record.sku)
        if existing is None:
            row = Product(sku=record.sku, **fields)
            self.session.add(row)
            await self.session.flush()
            self._created.append(lambda: self.products.__setitem__(row.sku, row))
            self.report.products_created += 1
        elif await self._update(existing, fields):
            self.report.products_updated += 1
        else:
            self.report.products_unchanged += 1

    async def _order(self, record: OrderRecord) -> None:
        customer = self.customers.get(record.customer_email)
        if customer is None:
            customer = Customer(
                email=record.customer_email,
                name=record.customer_name,
                phone=record.customer_phone,
                tags=[],
                created_at=datetime.now(UTC),
            )
            self.session.add(customer)
            await self.session.flush()
            new_customer = customer
            self._created.append(lambda: self._remember_customer(new_customer))
            self.report.customers_created += 1
        tracking = record.tracking
        fields: dict[str, Any] = {
            "customer_id": customer.id,
            "email": record.customer_email,
            "status": record.status,
            "currency": record.currency,
            "total": record.total,
            "items": [item.as_json() for item in record.items],
            "created_at": record.created_at,
            "shipped_at": record.shipped_at,
            "delivered_at": record.delivered_at,
            "tracking_carrier": tracking.carrier if tracking else None,
            "tracking_number": tracking.number if tracking else None,
            "tracking_url": tracking.url if tracking else None,
            "source": record.source,
        }
        existing = self.orders.get(record.id)
        if existing is None:
            row = Order(id=record.id, **fields)
            self.session.add(row)
            await self.session.flush()
            self._created.append(lambda: self.orders.__setitem__(row.id, row))
            self.report.orders_created += 1
        elif await self._update(existing, fields):
            self.report.orders_updated += 1
        else:
            self.report.orders_unchanged += 1

    async def _update(self, row: Any, wanted: dict[str, Any]) -> bool:
        """Set the fields that differ and flush; True when anything changed."""
        changed = False
        for name, value in wanted.items():
            current = getattr(row, name)
            if isinstance(current, datetime) and isinstance(value, datetime):
                same = as_utc(current) == as_utc(value)
            else:
                same = current == value
            if not same:
                if not changed:
                    self._touched.append(row)
                setattr(row, name, value)
                changed = True
        if changed:
            await self.session.flush()
        return changed
