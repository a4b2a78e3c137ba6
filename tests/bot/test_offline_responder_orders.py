"""Order answers of the offline responder: real fields, the right order, nothing for strangers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_offline_responder_data import (
    CANCELLED,
    DELIVERED_OLD,
    DELIVERED_RECENT,
    DELIVERED_UNDATED,
    NOW,
    ON_HOLD,
    PENDING,
    REFUNDED,
    RETURN_REQUESTED,
    SHIPPED,
    SHIPPED_NO_LINK,
    SHIPPED_UNTRACKED,
    answer,
    context,
    order,
    signals,
)

from bot.responder import OfflineResponder, Reply, Templates
from memory.knowledge import KnowledgeBase

WHERE = "where is my order?"


def responder(now=NOW) -> OfflineResponder:
    return OfflineResponder(
        KnowledgeBase([]), Templates.default(), min_confidence=0.5, clock=lambda: now
    )


async def ask(
    orders, text=WHERE, intent="order_status", *, numbers=(), verified=True, now=NOW
) -> Reply:
    reply = await responder(now).reply(
        answer(), context(orders, verified=verified), signals(text, intent, order_numbers=numbers)
    )
    assert reply is not None
    return reply


@pytest.mark.parametrize(
    ("the_order", "source", "must_say"),
    [
        (PENDING, "order.pending", ["TL-2001", "18 March 2026", "hasn't shipped", "EUR 158.00"]),
        (
            SHIPPED,
            "order.shipped",
            [
                "TL-2002",
                "16 March 2026",
                "DHL",
                "JD014600006543",
                "https://track.example.com/dhl/JD014600006543",
            ],
        ),
        (
            DELIVERED_RECENT,
            "order.delivered.returnable",
            ["TL-1990", "1 March 2026", "31 March 2026", "return"],
        ),
        (
            DELIVERED_OLD,
            "order.delivered.not_returnable",
            ["TL-1801", "10 January 2026", "9 February 2026", "no longer eligible"],
        ),
        (CANCELLED, "order.cancelled", ["TL-1950", "11 February 2026", "cancelled"]),
        (RETURN_REQUESTED, "order.return_requested", ["TL-1960", "return is in progress"]),
        (REFUNDED, "order.refunded", ["TL-1700", "refunded"]),
        (ON_HOLD, "order.other", ["TL-2010", '"on hold"']),
    ],
    ids=lambda v: v.id if hasattr(v, "id") else None,
)
async def test_every_status_is_answered_from_the_orders_real_fields(
    the_order, source, must_say
) -> None:
    reply = await ask([the_order], numbers=(the_order.id,))

    assert reply.kind == "order"
    assert reply.source == source
    assert reply.order_id == the_order.id
    for text in must_say:
        assert text in reply.text
    assert "None" not in reply.text and "{" not in reply.text


async def test_a_shipped_order_without_a_tracking_link_still_gives_carrier_and_number() -> None:
    reply = await ask([SHIPPED_NO_LINK])

    assert reply.source == "order.shipped.no_link"
    assert "PostNL" in reply.text and "3SPOST123456" in reply.text
    assert "http" not in reply.text


async def test_a_shipped_order_without_tracking_says_so_instead_of_inventing_it() -> None:
    reply = await ask([SHIPPED_UNTRACKED])

    assert reply.source == "order.shipped.untracked"
    assert "11 March 2026" in reply.text
    assert "aren't available yet" in reply.text
    assert "None" not in reply.text


async def test_a_delivered_order_without_a_delivery_date_makes_no_return_promise() -> None:
    reply = await ask([DELIVERED_UNDATED])

    assert reply.source == "order.delivered.undated"
    assert "can't tell" in reply.text
    assert "until" not in reply.text


@pytest.mark.parametrize(
    ("after_delivery", "source"),
    [
        (timedelta(days=29, hours=23), "order.delivered.returnable"),
        (timedelta(days=30), "order.delivered.returnable"),
        (timedelta(days=30, minutes=1), "order.delivered.not_returnable"),
        (timedelta(days=90), "order.delivered.not_returnable"),
    ],
)
async def test_return_eligibility_ends_thirty_days_after_delivery(after_delivery, source) -> None:
    assert DELIVERED_RECENT.delivered_at is not None
    now = DELIVERED_RECENT.delivered_at + after_delivery
    reply = await ask([DELIVERED_RECENT], "can I return the tent?", "return_request", now=now)

    assert reply.source == source
    assert "31 March 2026" in reply.text


async def test_unverified_customer_gets_no_order_details_whatever_the_decision_says() -> None:
    orders = [SHIPPED, PENDING, DELIVERED_RECENT]
    for text, intent, numbers in [
        (WHERE, "order_status", ()),
        ("tracking for TL-2002 please", "tracking", ("TL-2002",)),
        ("cancel order TL-2001", "cancel_order", ("TL-2001",)),
    ]:
        reply = await ask(orders, text, intent, numbers=numbers, verified=False)

        assert reply.source == "verify_identity"
        assert reply.order_id is None
        for secret in ("TL-2002", "TL-2001", "TL-1990", "DHL", "JD014600006543", "EUR"):
            assert secret not in reply.text
        assert "log in" in reply.text and "email" in reply.text


async def test_an_order_template_named_by_the_policy_is_refused_for_unverified_customers() -> None:
    reply = await responder().reply(
        answer(template="order.shipped"),
        context([SHIPPED], verified=False),
        signals(WHERE, "order_status"),
    )

    assert reply is not None
    assert reply.source == "verify_identity"
    assert "JD014600006543" not in reply.text


async def test_an_order_that_is_not_the_customers_gets_no_details() -> None:
    reply = await ask([SHIPPED, PENDING], "where is #TL-9999?", numbers=("#TL-9999",))

    assert reply.kind == "template"
    assert reply.source == "order.not_found"
    assert reply.order_id is None
    assert "couldn't find order #TL-9999 on your account" in reply.text
    for own in ("TL-2002", "TL-2001", "DHL"):
        assert own not in reply.text


async def test_a_named_order_is_found_whatever_case_or_hash_the_customer_uses() -> None:
    reply = await ask([PENDING, SHIPPED], "where is #tl-2002", numbers=("#tl-2002",))

    assert reply.order_id == "TL-2002"
    assert "JD014600006543" in reply.text


async def test_the_one_open_order_is_chosen_over_newer_closed_ones() -> None:
    newer_delivered = order(
        "TL-2050", "delivered", created=NOW - timedelta(days=2), delivered=NOW - timedelta(days=1)
    )
    reply = await ask([newer_delivered, SHIPPED, DELIVERED_OLD])

    assert reply.order_id == "TL-2002"


async def test_a_generic_question_without_open_orders_is_about_the_most_recent_order() -> None:
    reply = await ask([DELIVERED_OLD, DELIVERED_RECENT, CANCELLED])

    assert reply.order_id == "TL-1990"
    assert reply.source == "order.delivered.returnable"


async def test_several_open_orders_answer_the_newest_and_offer_the_others() -> None:
    reply = await ask([SHIPPED, PENDING, SHIPPED_NO_LINK])

    assert reply.order_id == "TL-2001"
    assert "Where is order TL-2002?" in reply.quick_replies
    assert "Where is order TL-2003?" in reply.quick_replies


async def test_naming_a_product_picks_the_order_that_contains_it() -> None:
    reply = await ask(
        [PENDING, SHIPPED, DELIVERED_RECENT],
        "I want to return the summit two-person tent",
        "return_request",
    )

    assert reply.order_id == "TL-1990"
    assert "31 March 2026" in reply.text


async def test_a_cancel_request_with_two_pending_orders_asks_which_one() -> None:
    second = order("TL-2011", "pending", created=NOW - timedelta(hours=3))
    reply = await ask([PENDING, second], "please cancel my order", "cancel_order")

    assert reply.kind == "template"
    assert reply.source == "cancel_order.choose"
    assert reply.order_id is None
    assert "TL-2011" in reply.text and "TL-2001" in reply.text
    assert reply.quick_replies == ("Cancel order TL-2011", "Cancel order TL-2001")


async def test_a_cancel_request_explains_what_the_real_status_allows() -> None:
    pending = await ask([PENDING], "cancel my order", "cancel_order")
    shipped = await ask([SHIPPED], "cancel my order", "cancel_order")

    assert pending.source == "cancel_order.pending"
    assert "can normally still be cancelled" in pending.text
    assert "Talk to a person" in pending.quick_replies
    assert shipped.source == "cancel_order.shipped"
    assert "can no longer be cancelled" in shipped.text


async def test_a_processing_order_is_answered_as_not_shipped_yet() -> None:
    processing = order("TL-3100", "processing", created=NOW - timedelta(days=1))
    reply = await ask([processing], "cancel my order", "cancel_order")

    assert reply.source == "cancel_order.pending"
    assert "TL-3100" in reply.text and "hasn't shipped yet" in reply.text


async def test_a_verified_customer_without_orders_is_told_so() -> None:
    reply = await ask([])

    assert reply.source == "order.none"
    assert reply.order_id is None
    assert "can't see any orders" in reply.text


async def test_money_and_dates_are_shown_for_people() -> None:
    tent = order(
        "TL-3000",
        "pending",
        created=NOW - timedelta(days=1),
        total="1299.00",
        currency="eur",
    )
    reply = await ask([tent])

    assert "EUR 1,299.00" in reply.text
    assert "19 March 2026" in reply.text


async def test_dates_are_shown_in_the_shops_time_zone(tmp_path) -> None:
    late = order(
        "TL-3001",
        "delivered",
        created=NOW - timedelta(days=5),
        delivered=NOW.replace(day=17, hour=23, minute=30),
    )
    path = tmp_path / "templates.yaml"
    path.write_text("version: 1\nsettings:\n  timezone: Europe/Berlin\n", encoding="utf-8")
    berlin = OfflineResponder(
        KnowledgeBase([]), Templates.load(path), min_confidence=0.5, clock=lambda: NOW
    )
    reply = await berlin.reply(answer(), context([late]), signals(WHERE, "order_status"))

    assert reply is not None
    assert "18 March 2026" in reply.text  # 23:30 UTC is already the next day in Berlin


async def test_tools_limited_to_knowledge_never_answer_from_orders() -> None:
    reply = await responder().reply(
        answer(tools=("knowledge_search",)), context([SHIPPED]), signals(WHERE, "order_status")
    )

    assert reply is None
