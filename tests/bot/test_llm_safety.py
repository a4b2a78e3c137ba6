"""Safety that does not depend on the prompt: redaction, order ownership, tool limits."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.llm.access import OrderAccess
from bot.llm.redaction import (
    CARD_MASK,
    EMAIL_MASK,
    ORDER_MASK,
    PHONE_MASK,
    Redactor,
    contact_details,
    luhn_valid,
)
from bot.llm.tools import CustomerTools, allowed_tools
from memory.knowledge import KnowledgeBase, KnowledgeEntry
from memory.orders import InMemoryOrderSource
from memory.views import Context, CustomerView, OrderItem, OrderView, TurnView

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
ADA = CustomerView(
    id=1,
    name="Ada Lovelace",
    email="ada@example.com",
    phone="+31 6 1234 5678",
    external_ref="C1",
    tags=(),
    created_at=NOW - timedelta(days=300),
)


def order(order_id: str, customer_id: int | None, email: str, **fields: object) -> OrderView:
    base = OrderView(
        id=order_id,
        email=email,
        status="shipped",
        currency="EUR",
        total=Decimal("131.00"),
        items=(OrderItem("Lantern 400 Headlamp", "TL-LAMP", 1, Decimal("45.00")),),
        created_at=NOW - timedelta(days=3),
        shipped_at=NOW - timedelta(days=2),
        tracking_carrier="UPS",
        tracking_number="UP8942290544NL",
        tracking_url="https://track.example.net/ups/UP8942290544NL",
        customer_id=customer_id,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


ADAS_ORDER = order("TL-10215", 1, "ada@example.com")
OTHERS_ORDER = order(
    "TL-10001",
    2,
    "bob@example.org",
    items=(OrderItem("Basecamp 4P Family Tent", "TL-TENT", 1, Decimal("449.00")),),
    tracking_number="PO6354715405NL",
)


def context(*, verified: bool, customer_says: tuple[str, ...] = ()) -> Context:
    turns = tuple(
        TurnView(i + 1, "customer", "webchat", text, NOW) for i, text in enumerate(customer_says)
    )
    return Context(
        customer=ADA if verified else replace(ADA, email=None, phone=None, name=None),
        verified=verified,
        verified_via="shop_login" if verified else None,
        channel="webchat",
        conversation_id=7,
        conversation_state="bot",
        first_contact=False,
        recent_turns=turns,
        past_conversations=(),
        orders=(ADAS_ORDER,) if verified else (),
        orders_count=1 if verified else 0,
        lifetime_value=Decimal("131.00"),
        recent_contacts=(),
        escalations_total=0,
        bot_failures=0,
        consecutive_clarify=0,
        last_staff_at=None,
    )


KNOWLEDGE = KnowledgeBase.from_entries(
    [
        KnowledgeEntry(
            id="returns-window",
            title="How long do I have to return something?",
            questions=("can I still return my order", "what is your return policy"),
            answer="You can return anything within 30 days of delivery. Questions: "
            "write to returns@shop.example or call +44 20 7946 0958. Example from "
            "jane.doe@example.org, 06-98765432: labels arrive by email.",
        )
    ]
)


async def tools_for(ctx: Context, allowed: tuple[str, ...] | None = None) -> CustomerTools:
    access = OrderAccess(ctx, InMemoryOrderSource([ADAS_ORDER, OTHERS_ORDER]))
    redactor = await access.redactor(
        shop_emails=["returns@shop.example"], shop_phones=["+44 20 7946 0958"]
    )
    return CustomerTools(
        access,
        KNOWLEDGE,
        redactor,
        allowed=allowed_tools(allowed),
        return_window_days=30,
        knowledge_threshold=0.3,
    )


# --- redaction ---


def test_others_contact_details_and_all_cards_are_masked_the_customers_own_kept() -> None:
    redactor = Redactor(emails=["ada@example.com"], phones=["+31 6 1234 5678"])
    text = (
        "I'm ada@example.com, +31 6 1234 5678. My ex is bob@example.org, (415) 555-2671, "
        "06-98765432. Card 4111 1111 1111 1111."
    )
    masked = redactor.redact(text)
    assert "ada@example.com" in masked and "+31 6 1234 5678" in masked
    for secret in ("bob@example.org", "555-2671", "98765432", "4111"):
        assert secret not in masked
    assert masked.count(EMAIL_MASK) == 1
    assert masked.count(PHONE_MASK) == 2
    assert CARD_MASK in masked


def test_numbers_that_fail_luhn_tracking_numbers_and_dates_stay() -> None:
    redactor = Redactor()
    text = "Tracking UP8942290544NL, ref 4111 1111 1111 1112, on 2026-11-20 at 10:00."
    assert redactor.redact(text) == text
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_orders_not_on_this_account_are_masked_in_any_spelling() -> None:
    redactor = Redactor(order_ids=["TL-10215"])
    masked = redactor.redact("Compare tl 10215? no: TL-10215 with TL-10001 and #W2611340.")
    assert "TL-10215" in masked
    assert "TL-10001" not in masked and "W2611340" not in masked
    assert masked.count(ORDER_MASK) == 2


def test_a_reply_leaks_when_it_names_an_order_or_contact_that_is_not_the_customers() -> None:
    redactor = Redactor(emails=["ada@example.com"], order_ids=["TL-10215"])
    assert redactor.leaks("Your order TL-10215 ships today; we wrote to ada@example.com.") == []
    assert redactor.leaks("Order TL-10001 was delivered.") == ["TL-10001"]
    assert redactor.leaks("Contact bob@example.org") == ["bob@example.org"]
    assert redactor.leaks("Your order was 131.00 EUR and shipped on 2026-11-18.") == []


# --- tools bound to the customer ---


async def test_verified_customer_sees_own_order_and_the_same_refusal_for_others_or_none() -> None:
    tools = await tools_for(context(verified=True))
    own = json.loads(await tools.call("order_details", '{"order_id": "tl-10215"}'))
    assert own["order_id"] == "TL-10215" and own["status"] == "shipped"
    other = json.loads(await tools.call("order_details", '{"order_id": "TL-10001"}'))
    missing = json.loads(await tools.call("order_details", '{"order_id": "TL-99999"}'))
    assert other == missing
    assert other["error"] == "not_on_this_account"
    tracking = await tools.call("tracking", '{"order_id": "TL-10001"}')
    assert "PO6354715405NL" not in tracking and "Tent" not in tracking


async def test_unverified_customer_needs_order_number_and_its_email_in_the_conversation() -> None:
    stranger = await tools_for(context(verified=False))
    refused = json.loads(await stranger.call("tracking", '{"order_id": "TL-10215"}'))
    assert refused["error"] == "identity_not_verified"
    assert json.loads(await stranger.call("my_orders", "{}"))["error"] == "identity_not_verified"

    wrong_email = await tools_for(
        context(verified=False, customer_says=("where is TL-10215", "I'm bob@example.org"))
    )
    assert "error" in json.loads(await wrong_email.call("tracking", '{"order_id": "TL-10215"}'))

    proven = await tools_for(
        context(verified=False, customer_says=("where is TL-10215?", "it's ada@example.com"))
    )
    tracked = json.loads(await proven.call("tracking", '{"order_id": "TL-10215"}'))
    assert tracked["tracking_number"] == "UP8942290544NL"


async def test_malformed_arguments_and_unknown_tools_return_an_error_for_the_model() -> None:
    tools = await tools_for(context(verified=True))
    assert json.loads(await tools.call("order_details", '{"order_id": '))["error"] == (
        "invalid_arguments"
    )
    assert json.loads(await tools.call("order_details", "[1]"))["error"] == "invalid_arguments"
    assert json.loads(await tools.call("order_details", "{}"))["error"] == "invalid_arguments"
    assert json.loads(await tools.call("drop_tables", "{}"))["error"] == "unknown_tool"


async def test_the_decision_limits_the_tools_offered_and_usable() -> None:
    assert allowed_tools(None) == ("my_orders", "order_details", "tracking", "search_knowledge")
    assert allowed_tools(["knowledge"]) == ("search_knowledge",)
    assert allowed_tools(["orders", "tracking"]) == ("my_orders", "order_details", "tracking")
    assert allowed_tools([]) == ()
    tools = await tools_for(context(verified=True), ("knowledge",))
    assert [s["function"]["name"] for s in tools.specs()] == ["search_knowledge"]
    assert json.loads(await tools.call("my_orders", "{}"))["error"] == "unknown_tool"


async def test_knowledge_keeps_the_shops_contacts_masks_others_and_skips_weak_matches() -> None:
    tools = await tools_for(context(verified=True))
    found = json.loads(await tools.call("search_knowledge", '{"query": "return policy"}'))
    answer = found["results"][0]["answer"]
    assert "30 days" in answer
    assert "returns@shop.example" in answer and "+44 20 7946 0958" in answer
    assert "jane.doe@example.org" not in answer and "98765432" not in answer
    nothing = json.loads(await tools.call("search_knowledge", '{"query": "quantum physics"}'))
    assert nothing["results"] == []


async def test_my_orders_lists_only_the_customers_orders() -> None:
    tools = await tools_for(context(verified=True))
    listed = json.loads(await tools.call("my_orders", "{}"))
    assert [o["order_id"] for o in listed["orders"]] == ["TL-10215"]


def test_contact_details_published_by_the_shop_are_found() -> None:
    emails, phones = contact_details(["Write to help@shop.example or call +31 30 555 0140."])
    assert emails == ("help@shop.example",) and phones == ("+31 30 555 0140",)
