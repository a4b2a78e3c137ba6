"""``threadline import FILE``: customers, products and orders from the shop.

Two formats, chosen by the file's extension:

* ``.json`` — Threadline's own format (``docs/import.md``), validated entry by entry;
* ``.csv`` — Shopify's order export (:mod:`memory.shopify_csv`).

A bad entry is reported with its line and skipped; every other entry is written.
Each customer, product and order is written in its own savepoint, so a failure
leaves no partial rows. Re-importing a file is idempotent: customers are matched by
email, products by SKU and orders by their normalized id.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from memory.import_json import ImportFileError, parse_threadline_json
from memory.import_records import ParsedFile, RowError
from memory.import_writer import ImportReport, StoreWriter
from memory.orders import as_utc
from memory.shopify_csv import parse_shopify_csv

__all__ = ["ImportFileError", "ImportReport", "RowError", "import_file", "parse_file", "rebased"]


def parse_file(path: Path) -> ParsedFile:
    """Read and validate ``path`` without touching the database."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"{path}: cannot read: {exc}") from exc
    if suffix == ".json":
        return parse_threadline_json(text, str(path))
    if suffix == ".csv":
        try:
            return parse_shopify_csv(text)
        except (ValueError, csv.Error) as exc:
            raise ImportFileError(f"{path}: {exc}") from exc
    raise ImportFileError(f"{path}: unknown format {suffix!r}; use .json or .csv (Shopify export)")


async def import_file(
    session_factory: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    rebase_dates: bool = False,
    now: datetime | None = None,
) -> ImportReport:
    """Import ``path`` into the store and report what was created, updated and skipped.

    ``rebase_dates`` shifts every date by one amount so that the newest date in the
    file becomes ``now - 1 day`` (the demo shop stays fresh whenever it is loaded).
    """
    parsed = parse_file(path)
    if rebase_dates:
        parsed = rebased(parsed, now or datetime.now(UTC))
    report = ImportReport(path=str(path), errors=list(parsed.errors))
    async with session_factory() as session, session.begin():
        await StoreWriter(session, report).write(parsed)
    report.errors.sort(key=lambda e: e.line)
    return report


def rebased(parsed: ParsedFile, now: datetime) -> ParsedFile:
    """The same file with every order date moved so the newest is one day before ``now``."""
    dates = [d for _, o in parsed.orders for d in (o.created_at, o.shipped_at, o.delivered_at)]
    present = [d for d in dates if d is not None]
    if not present:
        return parsed
    shift = (as_utc(now) - timedelta(days=1)) - max(present)
    shift = timedelta(seconds=round(shift.total_seconds()))

    def move(value: datetime | None) -> datetime | None:
        return None if value is None else value + shift

    orders = [
        (
            line,
            order.model_copy(
                update={
                    "created_at": order.created_at + shift,
                    "shipped_at": move(order.shipped_at),
                    "delivered_at": move(order.delivered_at),
                }
            ),
        )
        for line, order in parsed.orders
    ]
    return replace(parsed, orders=orders)
