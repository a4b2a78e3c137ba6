"""Which of the customer's orders a message is about, without guessing.

1. An order number in the message wins; if it is not one of the customer's orders the answer
   is :class:`NotFound` (nothing about that order is shown).
2. Otherwise an order whose product the message names.
3. Otherwise the orders the question can be about (``RELEVANT``, tier by tier): exactly one is
   the answer; several are :class:`Ambiguous` for requests that change an order, while a status
   question gets the newest one and the others offered as quick replies.
4. Otherwise the newest order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from memory.orders import normalize_order_id
from memory.views import OrderView

# Questions about where an order is: answering about the newest candidate is safe.
STATUS_INTENTS = frozenset({"order_status", "tracking", "delivery_time"})
NOT_SHIPPED = frozenset({"pending", "processing"})
OPEN_STATUSES = NOT_SHIPPED | {"shipped"}
MAX_CHOICES = 5
MAX_REF_CHARS = 40  # an order number echoed back to the customer is never longer

# Statuses a question can be about, in tiers: the first tier with any order decides.
RELEVANT: dict[str, tuple[frozenset[str], ...]] = {
    "order_status": (OPEN_STATUSES,),
    "tracking": (frozenset({"shipped"}), OPEN_STATUSES),
    "delivery_time": (OPEN_STATUSES,),
    "return_request": (frozenset({"delivered"}),),
    "refund_request": (frozenset({"return_requested"}), frozenset({"delivered"})),
    "cancel_order": (NOT_SHIPPED, frozenset({"shipped"})),
    "change_order": (NOT_SHIPPED, frozenset({"shipped"})),
    "change_address": (NOT_SHIPPED, frozenset({"shipped"})),
}


@dataclass(frozen=True, slots=True)
class Found:
    order: OrderView
    named: bool = False
    others: tuple[OrderView, ...] = ()  # further candidates a status answer can offer


@dataclass(frozen=True, slots=True)
class NotFound:
    ref: str  # as the customer wrote it


@dataclass(frozen=True, slots=True)
class Ambiguous:
    candidates: tuple[OrderView, ...]


@dataclass(frozen=True, slots=True)
class NoOrders:
    pass


OrderChoice = Found | NotFound | Ambiguous | NoOrders


def choose_order(
    intent: str, text: str, named_refs: Iterable[str], orders: Sequence[OrderView]
) -> OrderChoice:
    newest_first = tuple(sorted(orders, key=lambda o: o.created_at, reverse=True))
    refs = [ref.strip() for ref in named_refs if ref and ref.strip()]
    if refs:
        by_id = {normalize_order_id(o.id): o for o in newest_first}
        for ref in refs:
            order = by_id.get(normalize_order_id(ref))
            if order is not None:
                return Found(order, named=True)
        return NotFound(refs[0][:MAX_REF_CHARS])
    if not newest_first:
        return NoOrders()

    pool = _naming_products(text, newest_first)
    if len(pool) == 1:
        return Found(pool[0], named=True)
    if not pool:
        pool = newest_first

    for tier in RELEVANT.get(intent, (OPEN_STATUSES,)):
        candidates = tuple(o for o in pool if o.status in tier)
        if len(candidates) == 1:
            return Found(candidates[0])
        if candidates and intent in STATUS_INTENTS:
            return Found(candidates[0], others=candidates[1:MAX_CHOICES])
        if candidates:
            return Ambiguous(candidates[:MAX_CHOICES])
    return Found(pool[0])


def has_open_order(orders: Sequence[OrderView]) -> bool:
    return any(o.status in OPEN_STATUSES for o in orders)


def _naming_products(text: str, orders: tuple[OrderView, ...]) -> tuple[OrderView, ...]:
    """Orders with a product whose full name appears in the message."""
    folded = " ".join(text.casefold().split())
    if not folded:
        return ()
    return tuple(
        o
        for o in orders
        if any(
            len(item.name.strip()) >= 4 and " ".join(item.name.casefold().split()) in folded
            for item in o.items
        )
    )
