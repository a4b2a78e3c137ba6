"""Validated records that both import formats produce before anything is written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from memory.orders import normalize_order_id

OrderStatus = Literal[
    "pending", "shipped", "delivered", "cancelled", "return_requested", "refunded"
]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class RowError:
    """A skipped entry: the line where it starts in the file, and why."""

    line: int
    message: str


def describe_validation_error(exc: ValidationError) -> str:
    """``field.path: message`` for each problem, joined by ``; ``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValueError(f"not an email address: {value!r}")
    return value


def _currency(value: str) -> str:
    value = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError(f"currency must be a 3-letter code such as EUR, got {value!r}")
    return value


def _utc(value: datetime) -> datetime:
    """Naive times are taken as UTC; aware ones are converted to UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


Email = Annotated[str, AfterValidator(_email)]
Currency = Annotated[str, AfterValidator(_currency)]
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
Text = Annotated[str, AfterValidator(_text)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class CustomerRecord(_Record):
    email: Email
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    external_ids: dict[str, Annotated[str, Field(max_length=128)]] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()

    @property
    def external_ref(self) -> str | None:
        """The customer's id in the shop (``external_ids.shop``)."""
        ref = self.external_ids.get("shop", "").strip()
        return ref or None


class ProductRecord(_Record):
    sku: Annotated[str, Field(max_length=64), AfterValidator(_text)]
    name: Annotated[str, Field(max_length=200), AfterValidator(_text)]
    price: Money
    currency: Currency = "EUR"
    description: str = ""


class ItemRecord(_Record):
    name: Text
    sku: str = ""
    qty: int = Field(ge=1)
    price: Money

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "sku": self.sku, "qty": self.qty, "price": str(self.price)}


class TrackingRecord(_Record):
    carrier: Annotated[str, Field(max_length=64), AfterValidator(_text)]
    number: Annotated[str, Field(max_length=128), AfterValidator(_text)]
    url: str | None = Field(default=None, max_length=500)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://\S+$", value):
            raise ValueError("must be an http(s) URL")
        return value or None


class OrderRecord(_Record):
    id: str = Field(min_length=1, max_length=64)
    customer_email: Email
    customer_name: str | None = Field(default=None, max_length=200)
    customer_phone: str | None = Field(default=None, max_length=40)
    status: OrderStatus
    created_at: UtcDatetime
    shipped_at: UtcDatetime | None = None
    delivered_at: UtcDatetime | None = None
    currency: Currency
    total: Money
    items: tuple[ItemRecord, ...]
    tracking: TrackingRecord | None = None
    source: Literal["json", "shopify_csv"] = "json"

    @field_validator("id", mode="before")
    @classmethod
    def _normalized_id(cls, value: object) -> object:
        if isinstance(value, int):
            value = str(value)
        if isinstance(value, str):
            value = normalize_order_id(value)
            if not value:
                raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.items:
            raise ValueError("an order needs at least one item")
        if self.shipped_at is not None and self.shipped_at < self.created_at:
            raise ValueError("shipped_at is before created_at")
        if self.delivered_at is not None:
            if self.delivered_at < self.created_at:
                raise ValueError("delivered_at is before created_at")
            if self.shipped_at is not None and self.delivered_at < self.shipped_at:
                raise ValueError("delivered_at is before shipped_at")
        return self


@dataclass
class ParsedFile:
    """Everything a file holds, validated, each entry with the line it starts on."""

    customers: list[tuple[int, CustomerRecord]] = field(default_factory=list)
    products: list[tuple[int, ProductRecord]] = field(default_factory=list)
    orders: list[tuple[int, OrderRecord]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, line: int, record: CustomerRecord | ProductRecord | OrderRecord) -> None:
        """Keep a valid record, unless the file already had one with the same key."""
        if isinstance(record, CustomerRecord):
            key = ("customer", record.email)
        elif isinstance(record, ProductRecord):
            key = ("product", record.sku)
        else:
            key = ("order", record.id)
        first = self._seen.get(key)
        if first is not None:
            kind, value = key
            self.errors.append(
                RowError(line, f"{kind} {value} appears twice (first at line {first}); skipped")
            )
            return
        self._seen[key] = line
        if isinstance(record, CustomerRecord):
            self.customers.append((line, record))
        elif isinstance(record, ProductRecord):
            self.products.append((line, record))
        else:
            self.orders.append((line, record))
