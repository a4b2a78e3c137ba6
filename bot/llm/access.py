"""Which orders this customer may see: the rule every tool and every check goes through.

A verified customer sees the orders on their account. An unverified one sees only an order
they proved in this conversation by writing its number and the email on it; nothing else.
A missing order and another customer's order get the same answer, so nobody can find out
whether an order number exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.llm.redaction import Redactor, order_mentions
from bot.nlu.entities import EMAIL
from memory.orders import OrderSource, normalize_order_id
from memory.views import Context, OrderView


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an order cannot be shown (the text goes to the model as the tool's result)."""

    error: str
    message: str


NOT_ON_ACCOUNT = Refusal(
    "not_on_this_account",
    "No order with that number is on this customer's account. Share nothing about it.",
)
NOT_VERIFIED = Refusal(
    "identity_not_verified",
    "The customer is not verified. Ask for the order number and the email address used for "
    "the order; do not describe any order until then.",
)


class OrderAccess:
    """Looks up orders for one customer in one conversation, enforcing ownership."""

    def __init__(self, context: Context, orders: OrderSource) -> None:
        self._context = context
        self._orders = orders
        customer_text = "\n".join(t.text for t in context.recent_turns if t.author == "customer")
        self._mentioned = {order_id for _, _, order_id in order_mentions(customer_text)}
        self._emails_written = {m.group(0).lower() for m in EMAIL.finditer(customer_text)}
        self._seen: dict[str, OrderView] = {}

    @property
    def verified(self) -> bool:
        return self._context.verified

    @property
    def mentioned(self) -> frozenset[str]:
        """Order ids the customer wrote in this conversation (normalized)."""
        return frozenset(self._mentioned)

    def own_orders(self) -> tuple[OrderView, ...] | Refusal:
        """The orders on this customer's account (newest first), or why not."""
        if not self.verified:
            return NOT_VERIFIED
        return tuple(o for o in self._context.orders if o.customer_id == self._context.customer.id)

    async def order(self, order_id: str) -> OrderView | Refusal:
        """One order this customer may see, or a refusal that reveals nothing."""
        key = normalize_order_id(order_id)
        if not key:
            return NOT_ON_ACCOUNT
        if key in self._seen:
            return self._seen[key]
        found = next((o for o in self._context.orders if normalize_order_id(o.id) == key), None)
        if found is None:
            found = await self._orders.order(key)
        if found is None or not self._may_see(found):
            return NOT_ON_ACCOUNT if self.verified or found is None else NOT_VERIFIED
        self._seen[key] = found
        return found

    def _may_see(self, order: OrderView) -> bool:
        if self.verified:
            return order.customer_id is not None and order.customer_id == self._context.customer.id
        # Proof in this conversation: the order number and the email on that order.
        key = normalize_order_id(order.id)
        return key in self._mentioned and order.email.strip().lower() in self._emails_written

    async def redactor(
        self, *, shop_emails: Sequence[str] = (), shop_phones: Sequence[str] = ()
    ) -> Redactor:
        """A redactor that keeps this customer's contact details, the shop's own published
        ones and the orders the customer may see."""
        customer = self._context.customer
        redactor = Redactor(
            emails=[customer.email or "", *shop_emails],
            phones=[customer.phone or "", *shop_phones],
        )
        visible = self.own_orders()
        if not isinstance(visible, Refusal):
            for order in visible:
                redactor.allow_order(order.id, order.email)
        for order_id in sorted(self._mentioned):
            found = await self.order(order_id)
            if not isinstance(found, Refusal):
                redactor.allow_order(found.id, found.email)
        return redactor
