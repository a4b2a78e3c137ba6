"""What the model may see: other people's emails, phones, cards and orders are masked.

A :class:`Redactor` is built for one customer and one reply. It keeps what belongs to this
customer (their email and phone on file, the orders they own or proved in this conversation)
and masks everything else of that kind before a text is sent to a model. Card-like numbers
(13–19 digits passing the Luhn check) are masked whoever they belong to. The same rules tell
whether a reply the model wrote names something it must not (:meth:`Redactor.leaks`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import phonenumbers

from bot.nlu.entities import EMAIL, HASH_ORDER, NOT_AN_ORDER_PREFIX, PREFIXED_ORDER, WORDED_ORDER
from memory.orders import normalize_order_id

EMAIL_MASK = "[email hidden]"
PHONE_MASK = "[phone hidden]"
CARD_MASK = "[card number hidden]"
ORDER_MASK = "[an order not on this account]"
# Regions whose national phone formats are recognised (international +… numbers always are).
PHONE_REGIONS = ("US", "GB", "DE", "NL", "FR")
DECIMAL_TAIL = re.compile(r"[.,]\d")
CARD_LIKE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def order_mentions(text: str) -> Iterator[tuple[int, int, str]]:
    """Every order id in ``text`` in the shapes shops use: (start, end, normalized id)."""
    seen: list[tuple[int, int]] = []
    for pattern in (HASH_ORDER, PREFIXED_ORDER, WORDED_ORDER):
        for match in pattern.finditer(text):
            raw = match.group(1)
            prefix = re.match(r"[A-Z]+", raw)
            if prefix and prefix.group(0) in NOT_AN_ORDER_PREFIX:
                continue
            start, end = match.span(1)
            if pattern is WORDED_ORDER and DECIMAL_TAIL.match(text, end):
                continue  # "the order was 131.00 EUR": an amount, not an order number
            if any(s < end and start < e for s, e in seen):
                continue
            seen.append((start, end))
            yield start, end, normalize_order_id(raw)


def phone_key(raw: str) -> str:
    """A phone number's digits (with a leading + kept) for comparing two spellings."""
    try:
        parsed = phonenumbers.parse(raw, None if raw.strip().startswith("+") else "US")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return re.sub(r"[^\d+]", "", raw)


def contact_details(
    texts: Iterable[str], regions: tuple[str, ...] = PHONE_REGIONS
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The emails and phone numbers written in ``texts`` (e.g. the shop's own, published in
    its help articles, which are never masked)."""
    emails: dict[str, None] = {}
    phones: dict[str, None] = {}
    for text in texts:
        emails.update(dict.fromkeys(m.group(0) for m in EMAIL.finditer(text)))
        for region in regions:
            phones.update(
                dict.fromkeys(m.raw_string for m in phonenumbers.PhoneNumberMatcher(text, region))
            )
    return tuple(emails), tuple(phones)


class Redactor:
    """Masks what is not this customer's; built per reply from what they may see."""

    def __init__(
        self,
        *,
        emails: Iterable[str] = (),
        phones: Iterable[str] = (),
        order_ids: Iterable[str] = (),
        regions: tuple[str, ...] = PHONE_REGIONS,
    ) -> None:
        self._emails = {e.strip().lower() for e in emails if e and e.strip()}
        self._phones = {phone_key(p) for p in phones if p and p.strip()}
        self._orders = {normalize_order_id(o) for o in order_ids if o and o.strip()}
        self._regions = regions

    def allow_order(self, order_id: str, email: str | None = None) -> None:
        """An order (and the email on it) this customer may now see."""
        self._orders.add(normalize_order_id(order_id))
        if email:
            self._emails.add(email.strip().lower())

    def may_see_order(self, order_id: str) -> bool:
        return normalize_order_id(order_id) in self._orders

    def redact(self, text: str) -> str:
        """``text`` with other people's emails, phones and orders and every card masked."""
        if not text:
            return text
        text = self._mask_cards(text)
        text = EMAIL.sub(self._email, text)
        text = self._mask_phones(text)
        return self._mask_orders(text)

    def leaks(self, text: str) -> list[str]:
        """What in ``text`` must not reach this customer (empty when the text is safe)."""
        found = [
            order_id
            for _, _, order_id in order_mentions(EMAIL.sub(" ", text))
            if order_id not in self._orders
        ]
        found += [m.group(0) for m in EMAIL.finditer(text) if self._email(m) != m.group(0)]
        found += [m for m in self._card_numbers(text)]
        found += [m.raw_string for m in self._phone_matches(text) if not self._own_phone(m)]
        return found

    # --- each kind ---

    def _email(self, match: re.Match[str]) -> str:
        return match.group(0) if match.group(0).lower() in self._emails else EMAIL_MASK

    def _card_numbers(self, text: str) -> list[str]:
        return [
            m.group(0)
            for m in CARD_LIKE.finditer(text)
            if luhn_valid(re.sub(r"\D", "", m.group(0)))
        ]

    def _mask_cards(self, text: str) -> str:
        def mask(match: re.Match[str]) -> str:
            digits = re.sub(r"\D", "", match.group(0))
            return CARD_MASK if luhn_valid(digits) else match.group(0)

        return CARD_LIKE.sub(mask, text)

    def _phone_matches(self, text: str) -> list[phonenumbers.PhoneNumberMatch]:
        spans: dict[tuple[int, int], phonenumbers.PhoneNumberMatch] = {}
        for region in self._regions:
            for match in phonenumbers.PhoneNumberMatcher(text, region):
                if not any(s < match.end and match.start < e for s, e in spans):
                    spans[(match.start, match.end)] = match
        return [spans[k] for k in sorted(spans)]

    def _own_phone(self, match: phonenumbers.PhoneNumberMatch) -> bool:
        formatted = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        return formatted in self._phones

    def _mask_phones(self, text: str) -> str:
        out, last = [], 0
        for match in self._phone_matches(text):
            if self._own_phone(match):
                continue
            out.append(text[last : match.start])
            out.append(PHONE_MASK)
            last = match.end
        out.append(text[last:])
        return "".join(out)

    def _mask_orders(self, text: str) -> str:
        # Emails were masked already, so an order-like part of an address is never touched.
        spans = sorted(
            (start, end)
            for start, end, order_id in order_mentions(text)
            if order_id not in self._orders
        )
        out, last = [], 0
        for start, end in spans:
            if start < last:
                continue
            head = text[last:start]
            if head.endswith("#"):
                head = head[:-1]
            out.append(head)
            out.append(ORDER_MASK)
            last = end
        out.append(text[last:])
        return "".join(out)
