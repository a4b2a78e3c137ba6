"""Personal data in a customer's or an agent's words, replaced by placeholders.

Text that leaves one conversation (a suggested knowledge entry is read by every customer)
must not carry that customer's email, phone, order and parcel numbers or name. The shapes
are those the offline understanding reads (``bot.nlu.entities``), plus what the store knows
of this customer: their orders' ids and parcels, their phone's country, their name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from memory.models import ChannelIdentity, Customer, Order

DEFAULT_PHONE_REGION = "US"  # as the offline understanding reads phone numbers
# Parcel numbers: UPU S10 and carrier variants (PO6354715405NL), UPS 1Z…, long digit runs
# (FedEx, USPS, DHL).
PLACEHOLDERS = ("[email]", "[phone]", "[order]", "[tracking]", "[name]")
TRACKING = re.compile(r"\b(?:[A-Z]{2}\d{8,12}[A-Z]{2}|1Z[0-9A-Z]{16}|\d{12,22})\b")


@dataclass(frozen=True, slots=True)
class PersonalData:
    """What the store knows about one customer that must not end up in an entry."""

    names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phone_regions: tuple[str, ...] = (DEFAULT_PHONE_REGION,)
    order_ids: tuple[str, ...] = ()
    tracking: tuple[str, ...] = ()


async def personal_data_of(session: AsyncSession, customer_id: int) -> PersonalData:
    """The customer's name, display names, email, phone country, orders and parcels."""
    customer = await session.get(Customer, customer_id)
    names = [customer.name] if customer is not None and customer.name else []
    names += [
        n
        for n in (
            await session.scalars(
                select(ChannelIdentity.display_name).where(
                    ChannelIdentity.customer_id == customer_id
                )
            )
        ).all()
        if n
    ]
    regions = [DEFAULT_PHONE_REGION]
    if customer is not None and customer.phone:
        region = _phone_region(customer.phone)
        if region and region not in regions:
            regions.append(region)
    orders = (
        await session.execute(
            select(Order.id, Order.tracking_number, Order.tracking_url).where(
                Order.customer_id == customer_id
            )
        )
    ).all()
    return PersonalData(
        names=tuple(dict.fromkeys(names)),
        emails=(customer.email,) if customer is not None and customer.email else (),
        phone_regions=tuple(regions),
        order_ids=tuple(o[0] for o in orders),
        tracking=tuple(t for o in orders for t in (o[2], o[1]) if t),
    )


def _phone_region(number: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return None


def scrub(text: str, personal: PersonalData | None = None) -> str:
    """``text`` with emails, phones, order and tracking numbers and the customer's name
    replaced by ``[email]``, ``[phone]``, ``[order]``, ``[tracking]`` and ``[name]``."""
    personal = personal or PersonalData()
    # bot.nlu loads its classifier on import; only resolving a handoff needs the patterns.
    from bot.nlu.entities import (
        EMAIL,
        HASH_ORDER,
        NOT_AN_ORDER_PREFIX,
        PREFIXED_ORDER,
        WORDED_ORDER,
    )

    text = _replace_known(text, personal.tracking, "[tracking]")
    text = _replace_known(text, personal.emails, "[email]")
    text = EMAIL.sub("[email]", text)
    text = TRACKING.sub("[tracking]", text)
    text = _replace_known(text, personal.order_ids, "[order]", hash_prefix=True)
    text = HASH_ORDER.sub("[order]", text)
    text = PREFIXED_ORDER.sub(
        lambda m: m.group(0) if _prefix(m.group(1)) in NOT_AN_ORDER_PREFIX else "[order]", text
    )
    text = WORDED_ORDER.sub(
        lambda m: m.group(0)[: m.start(1) - m.start(0)] + "[order]" + m.group(0)[m.end(1) :], text
    )
    for region in personal.phone_regions:
        text = _replace_phones(text, region)
    return _replace_names(text, personal.names)


def _prefix(value: str) -> str:
    match = re.match(r"[A-Z]+", value)
    return match.group(0) if match else ""


def _replace_known(
    text: str, values: Iterable[str], placeholder: str, *, hash_prefix: bool = False
) -> str:
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        lead = r"#?" if hash_prefix else ""
        pattern = rf"(?<![\w#]){lead}{re.escape(value)}(?!\w)"
        text = re.sub(pattern, placeholder, text, flags=re.IGNORECASE)
    return text


def _replace_phones(text: str, region: str) -> str:
    spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, region)]
    for start, end in reversed(spans):
        text = text[:start] + "[phone]" + text[end:]
    return text


def _replace_names(text: str, names: Iterable[str]) -> str:
    """The full name in any case; each part of it (first name, surname) as written."""
    names = [" ".join(n.split()) for n in names if n.strip()]
    for full in sorted(set(names), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(full)}(?!\w)", "[name]", text, flags=re.IGNORECASE)
    parts = {p.strip(".,") for n in names for p in n.split()}
    for part in sorted((p for p in parts if len(p) >= 2), key=len, reverse=True):
        text = re.sub(rf"(?<![\w\[]){re.escape(part)}(?![\w\]])", "[name]", text)
    return text


def placeholders_in(text: str) -> list[str]:
    """The placeholders :func:`scrub` left in ``text``, in the order of :data:`PLACEHOLDERS`."""
    return [p for p in PLACEHOLDERS if p in text]
