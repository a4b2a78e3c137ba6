"""The values a reply template may show, built from real order and customer fields.

Every value is already a display string: dates as "12 March 2026" in the shop's time zone,
money as "EUR 129.00". A field whose source is empty (no tracking number yet, no delivery
date) is left out, so a template that needs it cannot render and the next variant is tried.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from memory.views import CustomerView, OrderView

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# Fields every template may use.
GENERAL_FIELDS = frozenset({"first_name", "return_window_days"})
# Fields about one order; only ever filled for a verified customer's own order.
ORDER_FIELDS = frozenset(
    {
        "order_id",
        "status",
        "created_date",
        "shipped_date",
        "delivered_date",
        "total",
        "items",
        "item_count",
        "carrier",
        "tracking_number",
        "tracking_url",
        "return_deadline",
        "days_since_delivery",
    }
)


def as_aware(value: datetime) -> datetime:
    """A timezone-aware datetime; naive values are taken as UTC (as the store keeps them)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def format_date(value: datetime, zone: tzinfo = UTC) -> str:
    """``12 March 2026``: the calendar day in the shop's time zone, the same in any locale."""
    local = as_aware(value).astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def format_money(amount: Decimal, currency: str) -> str:
    """``EUR 129.00``; thousands are grouped (``EUR 1,299.00``)."""
    return f"{currency.strip().upper()} {amount:,.2f}"


def describe_items(order: OrderView) -> str:
    """``2 × Trail Runner, Wool Socks``."""
    parts = [f"{item.qty} × {item.name}" if item.qty > 1 else item.name for item in order.items]
    return ", ".join(part for part in parts if part)


def status_label(status: str) -> str:
    return status.replace("_", " ").strip()


def return_deadline(order: OrderView, window_days: int) -> datetime | None:
    """The last moment the order can be returned, or None when its delivery date is unknown."""
    if order.delivered_at is None:
        return None
    return as_aware(order.delivered_at) + timedelta(days=window_days)


def general_fields(customer: CustomerView, window_days: int) -> dict[str, str]:
    name = (customer.name or "").strip()
    first = name.split()[0] if name else "there"
    return {"first_name": first, "return_window_days": str(window_days)}


def order_fields(
    order: OrderView, *, window_days: int, zone: tzinfo, now: datetime
) -> dict[str, str]:
    """The display fields of one order; empty sources are left out."""
    fields: dict[str, str | None] = {
        "order_id": order.id,
        "status": status_label(order.status),
        "created_date": format_date(order.created_at, zone),
        "shipped_date": _date_or_none(order.shipped_at, zone),
        "delivered_date": _date_or_none(order.delivered_at, zone),
        "total": format_money(order.total, order.currency),
        "items": describe_items(order) or None,
        "item_count": str(sum(item.qty for item in order.items)) if order.items else None,
        "carrier": _text_or_none(order.tracking_carrier),
        "tracking_number": _text_or_none(order.tracking_number),
        "tracking_url": _text_or_none(order.tracking_url),
    }
    deadline = return_deadline(order, window_days)
    if deadline is not None and order.delivered_at is not None:
        fields["return_deadline"] = format_date(deadline, zone)
        days = (as_aware(now) - as_aware(order.delivered_at)).days
        fields["days_since_delivery"] = str(max(days, 0))
    return {key: value for key, value in fields.items() if value is not None}


def order_list(orders: tuple[OrderView, ...], zone: tzinfo) -> str:
    """``TL-1001 placed on 3 March 2026 (pending); TL-0998 placed on …``."""
    return "; ".join(
        f"{o.id} placed on {format_date(o.created_at, zone)} ({status_label(o.status)})"
        for o in orders
    )


def merged(*parts: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in parts:
        out.update(part)
    return out


def _date_or_none(value: datetime | None, zone: tzinfo) -> str | None:
    return None if value is None else format_date(value, zone)


def _text_or_none(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None
