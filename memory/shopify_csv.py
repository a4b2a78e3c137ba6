"""Shopify's order export (Orders → Export → CSV) as import records.

The export has one row per line item. The order-level columns (Email, Financial
Status, Total, Created at, …) are filled only on the first row of each order; the
following rows repeat just ``Name`` and the ``Lineitem *`` columns. A problem on any
row of an order skips the whole order, reported at the line of the row at fault.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from memory.import_records import (
    OrderRecord,
    OrderStatus,
    ParsedFile,
    RowError,
    describe_validation_error,
)

REQUIRED_COLUMNS = ("Name", "Email", "Total", "Created at", "Lineitem quantity", "Lineitem name")
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def shopify_status(
    financial: str, fulfillment: str, cancelled_at: str, delivered_at: str = ""
) -> OrderStatus:
    """Map Shopify's financial and fulfillment status to Threadline's order status.

    Cancelled (or voided / restocked) wins, then refunds, then fulfilment: fulfilled or
    partially fulfilled orders are ``shipped`` (``delivered`` when a ``Delivered at``
    date is present), anything else is ``pending``.
    """
    financial = financial.strip().lower().replace(" ", "_")
    fulfillment = fulfillment.strip().lower().replace(" ", "_")
    if cancelled_at.strip() or financial == "voided" or fulfillment == "restocked":
        return "cancelled"
    if financial in ("refunded", "partially_refunded"):
        return "refunded"
    if fulfillment in ("fulfilled", "partial", "partially_fulfilled"):
        return "delivered" if delivered_at.strip() else "shipped"
    return "pending"


def parse_shopify_date(value: str) -> datetime | None:
    """Shopify writes ``2024-03-05 14:02:11 +0100``; ISO 8601 is accepted as well."""
    value = value.strip()
    if not value:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date: {value!r}") from None


@dataclass
class _PendingOrder:
    line: int
    head: dict[str, str]
    items: list[dict[str, Any]] = field(default_factory=list)
    error: RowError | None = None


def parse_shopify_csv(text: str) -> ParsedFile:
    """Validate a Shopify order export; each order keeps the line of its first row."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            "not a Shopify order export: missing column(s) " + ", ".join(repr(c) for c in missing)
        )
    parsed = ParsedFile()
    orders: dict[str, _PendingOrder] = {}
    line = reader.line_num + 1
    for row in reader:
        _take_row(orders, parsed, line, {k: (v or "").strip() for k, v in row.items() if k})
        line = reader.line_num + 1
    for pending in orders.values():
        if pending.error is not None:
            parsed.errors.append(pending.error)
            continue
        try:
            record = _order_record(pending)
        except (ValidationError, ValueError) as exc:
            message = (
                describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
            )
            parsed.errors.append(RowError(pending.line, f"order {pending.head['Name']}: {message}"))
            continue
        parsed.add(pending.line, record)
    return parsed


def _take_row(
    orders: dict[str, _PendingOrder], parsed: ParsedFile, line: int, row: dict[str, str]
) -> None:
    name = row.get("Name", "")
    if not any(row.values()):
        return  # blank line
    if not name:
        parsed.errors.append(RowError(line, "row without an order Name; skipped"))
        return
    pending = orders.get(name)
    if pending is None:
        if not row.get("Email") and not row.get("Created at"):
            parsed.errors.append(
                RowError(line, f"order {name}: line item before the order's first row; skipped")
            )
            return
        pending = orders[name] = _PendingOrder(line=line, head=row)
    if pending.error is not None:
        return
    try:
        pending.items.append(_line_item(row))
    except ValueError as exc:
        pending.error = RowError(line, f"order {name}: {exc}; the whole order was skipped")


def _line_item(row: dict[str, str]) -> dict[str, Any]:
    qty_text = row.get("Lineitem quantity", "")
    try:
        qty = int(qty_text)
    except ValueError:
        raise ValueError(f"Lineitem quantity is not a whole number: {qty_text!r}") from None
    if qty < 1:
        raise ValueError(f"Lineitem quantity must be at least 1, got {qty}")
    name = row.get("Lineitem name", "")
    if not name:
        raise ValueError("Lineitem name is empty")
    return {
        "name": name,
        "sku": row.get("Lineitem sku", ""),
        "qty": qty,
        "price": row.get("Lineitem price", "") or "0",
    }


def _order_record(pending: _PendingOrder) -> OrderRecord:
    head = pending.head
    created_at = parse_shopify_date(head.get("Created at", ""))
    if created_at is None:
        raise ValueError("Created at is empty")
    if not head.get("Email"):
        raise ValueError("Email is empty: an order without an email cannot be linked to a customer")
    delivered_text = head.get("Delivered at", "")
    tracking = None
    if head.get("Tracking Number"):
        tracking = {
            "carrier": head.get("Tracking Company") or "carrier",
            "number": head["Tracking Number"],
            "url": head.get("Tracking URL") or None,
        }
    return OrderRecord.model_validate(
        {
            "id": head["Name"],
            "customer_email": head.get("Email", ""),
            "customer_name": head.get("Billing Name") or head.get("Shipping Name") or None,
            "customer_phone": head.get("Billing Phone") or head.get("Phone") or None,
            "status": shopify_status(
                head.get("Financial Status", ""),
                head.get("Fulfillment Status", ""),
                head.get("Cancelled at", ""),
                delivered_text,
            ),
            "created_at": created_at,
            "shipped_at": parse_shopify_date(head.get("Fulfilled at", "")),
            "delivered_at": parse_shopify_date(delivered_text),
            "currency": head.get("Currency", ""),
            "total": head.get("Total", ""),
            "items": pending.items,
            "tracking": tracking,
            "source": "shopify_csv",
        }
    )
