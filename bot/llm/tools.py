"""The tools the model may call, bound to one customer and limited to what the decision allows.

``my_orders``, ``order_details(order_id)``, ``tracking(order_id)`` and ``search_knowledge(query)``.
Ownership is enforced here, not in the prompt: another customer's order gets the same refusal
as one that does not exist. A policy decision's ``tools`` names groups ("orders", "tracking",
"knowledge") or tool names; ``None`` allows every tool, ``()`` none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.llm.access import OrderAccess, Refusal
from bot.llm.redaction import Redactor
from bot.ports import KnowledgeSearch
from memory.views import OrderView

MY_ORDERS = "my_orders"
ORDER_DETAILS = "order_details"
TRACKING = "tracking"
SEARCH_KNOWLEDGE = "search_knowledge"
ALL_TOOLS = (MY_ORDERS, ORDER_DETAILS, TRACKING, SEARCH_KNOWLEDGE)
# Words in a policy's tool names and the tools they allow.
TOOL_GROUPS: dict[str, tuple[str, ...]] = {
    "order": (MY_ORDERS, ORDER_DETAILS),
    "track": (TRACKING, MY_ORDERS),
    "knowledge": (SEARCH_KNOWLEDGE,),
    "faq": (SEARCH_KNOWLEDGE,),
}
KNOWLEDGE_RESULTS = 3
MAX_QUERY_CHARS = 300

_ORDER_ID_PARAM = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "description": "The order number, e.g. TL-1042"}},
    "required": ["order_id"],
}
SPECS: dict[str, dict[str, Any]] = {
    MY_ORDERS: {
        "description": "The customer's own recent orders: number, status, date and total.",
        "parameters": {"type": "object", "properties": {}},
    },
    ORDER_DETAILS: {
        "description": "One of the customer's orders: status, dates, items, total and the "
        "last day it can be returned.",
        "parameters": _ORDER_ID_PARAM,
    },
    TRACKING: {
        "description": "Shipment tracking of one of the customer's orders: carrier, "
        "tracking number and link, shipped and delivered dates.",
        "parameters": _ORDER_ID_PARAM,
    },
    SEARCH_KNOWLEDGE: {
        "description": "Search the shop's help articles (shipping, returns, payment, "
        "products, contact). Answer general questions only from what this returns.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "What to look up"}},
            "required": ["query"],
        },
    },
}


def allowed_tools(decision_tools: Sequence[str] | None) -> tuple[str, ...]:
    """Our tool names that a decision's ``tools`` allow (in a fixed order)."""
    if decision_tools is None:
        return ALL_TOOLS
    allowed: set[str] = set()
    for name in decision_tools:
        lowered = name.lower()
        if lowered in ALL_TOOLS:
            allowed.add(lowered)
        for word, tools in TOOL_GROUPS.items():
            if word in lowered:
                allowed.update(tools)
    return tuple(t for t in ALL_TOOLS if t in allowed)


class CustomerTools:
    """The tools of one reply: bound to one customer, limited to ``allowed``."""

    def __init__(
        self,
        access: OrderAccess,
        knowledge: KnowledgeSearch,
        redactor: Redactor,
        *,
        allowed: Sequence[str],
        return_window_days: int,
        knowledge_threshold: float,
    ) -> None:
        self._access = access
        self._knowledge = knowledge
        self._redactor = redactor
        self.allowed = tuple(t for t in ALL_TOOLS if t in allowed)
        self._return_window = timedelta(days=return_window_days)
        self._threshold = knowledge_threshold
        self.orders_shown: list[str] = []
        self.knowledge_used: list[str] = []

    def specs(self) -> list[dict[str, Any]]:
        """The OpenAI-style tool definitions sent to the model."""
        return [{"type": "function", "function": {"name": n, **SPECS[n]}} for n in self.allowed]

    async def call(self, name: str, raw_arguments: str | None) -> str:
        """Run one tool call; the result (JSON text) is what the model sees, errors included."""
        if name not in self.allowed:
            return _result({"error": "unknown_tool", "message": f"No tool named {name!r} here."})
        try:
            arguments = json.loads(raw_arguments or "{}")
        except json.JSONDecodeError as exc:
            return _result({"error": "invalid_arguments", "message": f"Not valid JSON: {exc}"})
        if not isinstance(arguments, dict):
            return _result({"error": "invalid_arguments", "message": "Expected a JSON object."})
        if name == MY_ORDERS:
            return _result(self._my_orders())
        if name == SEARCH_KNOWLEDGE:
            query = arguments.get("query")
            if not isinstance(query, str) or not query.strip():
                return _missing("query")
            return _result(self._search(query[:MAX_QUERY_CHARS]))
        order_id = arguments.get("order_id")
        if not isinstance(order_id, str) or not order_id.strip():
            return _missing("order_id")
        found = await self._access.order(order_id)
        if isinstance(found, Refusal):
            return _result({"error": found.error, "message": found.message})
        self._redactor.allow_order(found.id, found.email)
        self.orders_shown.append(found.id)
        if name == TRACKING:
            return _result(_tracking(found))
        return _result(self._details(found))

    def _my_orders(self) -> dict[str, Any]:
        orders = self._access.own_orders()
        if isinstance(orders, Refusal):
            return {"error": orders.error, "message": orders.message}
        return {
            "orders": [
                {
                    "order_id": o.id,
                    "status": o.status,
                    "ordered_on": _date(o.created_at),
                    "total": f"{o.total} {o.currency}",
                    "items": sum(i.qty for i in o.items),
                }
                for o in orders
            ]
        }

    def _details(self, order: OrderView) -> dict[str, Any]:
        details: dict[str, Any] = {
            "order_id": order.id,
            "status": order.status,
            "ordered_on": _date(order.created_at),
            "shipped_on": _date(order.shipped_at),
            "delivered_on": _date(order.delivered_at),
            "total": f"{order.total} {order.currency}",
            "items": [
                {"name": self._redactor.redact(i.name), "qty": i.qty, "price": str(i.price)}
                for i in order.items
            ],
        }
        if order.status == "delivered" and order.delivered_at is not None:
            details["return_until"] = _date(order.delivered_at + self._return_window)
        return {k: v for k, v in details.items() if v is not None}

    def _search(self, query: str) -> dict[str, Any]:
        hits = [h for h in self._knowledge.search(query, k=KNOWLEDGE_RESULTS)]
        good = [h for h in hits if h.confidence >= self._threshold]
        if not good:
            return {"results": [], "message": "Nothing in the help articles answers this."}
        self.knowledge_used.extend(h.entry.id for h in good)
        return {
            "results": [
                {
                    "id": h.entry.id,
                    "title": self._redactor.redact(h.entry.title),
                    "answer": self._redactor.redact(h.entry.answer.strip()),
                }
                for h in good
            ]
        }


def _tracking(order: OrderView) -> dict[str, Any]:
    info: dict[str, Any] = {
        "order_id": order.id,
        "status": order.status,
        "carrier": order.tracking_carrier,
        "tracking_number": order.tracking_number,
        "tracking_url": order.tracking_url,
        "shipped_on": _date(order.shipped_at),
        "delivered_on": _date(order.delivered_at),
    }
    if order.tracking_number is None and order.status in ("pending", "processing"):
        info["message"] = "Not shipped yet, so there is no tracking."
    return {k: v for k, v in info.items() if v is not None}


def _date(value: datetime | None) -> str | None:
    return None if value is None else value.date().isoformat()


def _missing(name: str) -> str:
    return _result({"error": "invalid_arguments", "message": f"'{name}' (a string) is required."})


def _result(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)
