"""The offline responder over the demo shop's own orders and knowledge base."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_offline_responder_data import answer, context, signals

from bot.responder import OfflineResponder, Templates
from memory.demo import KNOWLEDGE_DIR, SHOP_FILE
from memory.importer import parse_file
from memory.knowledge import RECOMMENDED_THRESHOLD as KNOWLEDGE_MIN_CONFIDENCE
from memory.knowledge import KnowledgeBase
from memory.views import OrderItem, OrderView

PARSED = parse_file(SHOP_FILE)
NOW = max(
    d for _, o in PARSED.orders for d in (o.created_at, o.shipped_at, o.delivered_at) if d
) + timedelta(days=1)
ORDERS = tuple(
    OrderView(
        id=o.id,
        email=o.customer_email,
        status=o.status,
        currency=o.currency,
        total=o.total,
        items=tuple(OrderItem(i.name, i.sku, i.qty, i.price) for i in o.items),
        created_at=o.created_at,
        shipped_at=o.shipped_at,
        delivered_at=o.delivered_at,
        tracking_carrier=o.tracking.carrier if o.tracking else None,
        tracking_number=o.tracking.number if o.tracking else None,
        tracking_url=o.tracking.url if o.tracking else None,
    )
    for _, o in PARSED.orders
)


@pytest.fixture(scope="module")
def responder() -> OfflineResponder:
    return OfflineResponder(
        KnowledgeBase.load(KNOWLEDGE_DIR),
        Templates.default(),
        min_confidence=KNOWLEDGE_MIN_CONFIDENCE,
        clock=lambda: NOW,
    )


def test_the_demo_shop_has_orders_in_every_status() -> None:
    assert {o.status for o in ORDERS} >= {
        "pending",
        "shipped",
        "delivered",
        "cancelled",
        "return_requested",
        "refunded",
    }


async def test_every_demo_order_gets_an_answer_from_its_own_fields(responder) -> None:
    for order in ORDERS:
        reply = await responder.reply(
            answer(), context([order]), signals(f"where is {order.id}?", "order_status")
        )

        assert reply is not None, order.id
        assert reply.order_id == order.id
        assert order.id in reply.text
        assert reply.source is not None
        assert reply.source.startswith(f"order.{order.status}"), (order.id, reply.source)
        if order.status == "shipped":
            assert order.tracking_number and order.tracking_number in reply.text
            assert order.tracking_url is None or order.tracking_url in reply.text
        if order.status == "delivered":
            assert order.delivered_at is not None
            returnable = NOW - order.delivered_at <= timedelta(days=30)
            expected = "returnable" if returnable else "not_returnable"
            assert reply.source == f"order.delivered.{expected}"
        if order.status == "pending":
            assert f"EUR {order.total:,.2f}" in reply.text
        assert "None" not in reply.text and "{" not in reply.text


async def test_no_demo_order_is_shown_to_an_unverified_customer(responder) -> None:
    for order in ORDERS:
        reply = await responder.reply(
            answer(),
            context([order], verified=False),
            signals(f"where is {order.id}?", "order_status", order_numbers=(order.id,)),
        )

        assert reply is not None and reply.source == "verify_identity"
        assert order.id not in reply.text
        assert not order.tracking_number or order.tracking_number not in reply.text


@pytest.mark.parametrize(
    ("question", "intent", "entry"),
    [
        ("How long does shipping take?", "shipping_info", "shipping-times"),
        ("how do I return an item?", "returns_policy", "returns-how-to"),
        ("can I pay with PayPal?", "payment", "payment-methods"),
    ],
)
async def test_demo_knowledge_questions_get_the_right_entry(
    responder, question: str, intent: str, entry: str
) -> None:
    reply = await responder.reply(answer(), context(), signals(question, intent))

    assert reply is not None
    assert (reply.kind, reply.source) == ("knowledge", entry)


async def test_an_off_topic_question_gets_nothing_from_the_demo_knowledge(responder) -> None:
    reply = await responder.reply(
        answer(), context(), signals("what's the capital of Australia?", "product_question")
    )

    assert reply is None
