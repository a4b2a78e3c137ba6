"""Entities in a customer's message: order numbers, email addresses, phone numbers.

Order numbers come in the shapes shops use: ``#1001``, ``#W2611340``, ``TL-10234`` and a bare
number after the word "order" ("order 12345", "order no. 12345"). Phone numbers are found and
validated by ``phonenumbers`` and returned in E.164 form; numbers that are order numbers or parts
of an email are not phones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import phonenumbers

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# "#1001", "#W2611340", "# 1001"
HASH_ORDER = re.compile(r"(?<![\w#])#\s?([A-Za-z]{0,3}\d{3,12})\b")
# "TL-10234", "ORD-2024-0042", "SO12345": letters, optional dash, digits
PREFIXED_ORDER = re.compile(r"\b([A-Z]{1,4}-?\d{4,12}(?:-\d{1,6})?)\b")
# "order 12345", "order no. 12345", "order number: 12345", "purchase #12345", "order id W123456"
WORDED_ORDER = re.compile(
    r"\b(?:order|purchase|invoice|shipment)s?\s*(?:(?:no|nr|num|number|id|ref|reference)\.?\s*)?"
    r"(?:\s*(?:is|was|=))?\s*[:#]?\s*([A-Za-z]{0,3}\d{3,20})\b",
    re.IGNORECASE,
)
NOT_AN_ORDER_PREFIX = frozenset({"UTC", "GMT", "COVID", "ISO", "USD", "EUR", "GBP"})


def extract_entities(text: str, phone_region: str | None = "US") -> Mapping[str, tuple[str, ...]]:
    """Every entity found, by kind, in order of appearance, without duplicates.

    Kinds with nothing found are left out, so ``"order_number" in entities`` means one was named.
    """
    emails = _unique(m.group(0) for m in EMAIL.finditer(text))
    orders = _order_numbers(text)
    phones = _phones(text, phone_region, emails, orders)
    found = {"order_number": orders, "email": emails, "phone": phones}
    return {kind: values for kind, values in found.items() if values}


def _order_numbers(text: str) -> tuple[str, ...]:
    without_emails = EMAIL.sub(" ", text)
    spans: list[tuple[int, str]] = []
    for m in HASH_ORDER.finditer(without_emails):
        spans.append((m.start(), "#" + m.group(1).upper()))
    for m in PREFIXED_ORDER.finditer(without_emails):
        prefix = re.match(r"[A-Z]+", m.group(1))
        if prefix and prefix.group(0) in NOT_AN_ORDER_PREFIX:
            continue
        spans.append((m.start(), m.group(1)))
    for m in WORDED_ORDER.finditer(without_emails):
        spans.append((m.start(1), m.group(1).upper()))
    spans.sort()
    values: list[str] = []
    for _, value in spans:
        bare = value.lstrip("#")
        if any(bare == v.lstrip("#") for v in values):
            continue
        values.append(value)
    return tuple(values)


def _phones(
    text: str, region: str | None, emails: tuple[str, ...], orders: tuple[str, ...]
) -> tuple[str, ...]:
    order_digits = {re.sub(r"\D", "", o) for o in orders}
    cleaned = text
    for email in emails:
        cleaned = cleaned.replace(email, " ")
    out: list[str] = []
    for match in phonenumbers.PhoneNumberMatcher(cleaned, region):
        if re.sub(r"\D", "", match.raw_string) in order_digits:
            continue
        formatted = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        if formatted not in out:
            out.append(formatted)
    return tuple(out)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        if value not in out:
            out.append(value)
    return tuple(out)
