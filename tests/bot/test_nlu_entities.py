"""Order numbers, emails and phone numbers found in what customers write."""

from __future__ import annotations

import pytest

from bot.nlu import extract_entities


@pytest.mark.parametrize(
    ("text", "orders"),
    [
        ("where is #1001?", ("#1001",)),
        ("my order TL-10234 is late", ("TL-10234",)),
        ("question about #W2611340 please", ("#W2611340",)),
        ("order 12345 never came", ("12345",)),
        ("Order no. 88120 and order number: 99231", ("88120", "99231")),
        ("my order number is 554433", ("554433",)),
        ("I want to cancel purchase 113542617735902", ("113542617735902",)),
        ("orders #1001 and #1002, both late", ("#1001", "#1002")),
        ("order #w2611340", ("#W2611340",)),
    ],
)
def test_order_numbers_in_the_shapes_shops_use(text: str, orders: tuple[str, ...]) -> None:
    assert extract_entities(text).get("order_number") == orders


@pytest.mark.parametrize(
    "text",
    [
        "I paid 25 dollars on 2024-05-03",
        "it arrived 3 days late",
        "is the 2 kg pack in stock",
        "covid-19 delays, COVID-2020 rules",
        "size 42 please",
    ],
)
def test_numbers_that_are_not_order_numbers_are_left_alone(text: str) -> None:
    assert "order_number" not in extract_entities(text)


def test_the_same_order_named_twice_is_listed_once() -> None:
    text = "order #W2611340 — again, W2611340 has not shipped"
    assert extract_entities(text)["order_number"] == ("#W2611340",)


def test_emails_are_found_and_are_not_order_numbers() -> None:
    found = extract_entities("Mail jo.doe+shop@mail.example.co.uk or ANN@Example.org, order 4412")
    assert found["email"] == ("jo.doe+shop@mail.example.co.uk", "ANN@Example.org")
    assert found["order_number"] == ("4412",)


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("call me at (415) 555-2671", "+14155552671"),
        ("my number is +44 20 7946 0958", "+442079460958"),
        ("reach me on +49 30 901820", "+4930901820"),
    ],
)
def test_phone_numbers_are_validated_and_normalized(text: str, phone: str) -> None:
    assert extract_entities(text)["phone"] == (phone,)


def test_the_default_region_decides_how_national_numbers_read() -> None:
    assert extract_entities("ring 020 7946 0958", phone_region="GB")["phone"] == ("+442079460958",)
    assert "phone" not in extract_entities("ring 020 7946 0958", phone_region=None)


def test_an_order_number_is_never_taken_for_a_phone_number() -> None:
    found = extract_entities("order 4155552671 has not arrived")
    assert found == {"order_number": ("4155552671",)}


def test_a_message_without_entities_gives_an_empty_mapping() -> None:
    assert extract_entities("hello, do you sell gift cards?") == {}
