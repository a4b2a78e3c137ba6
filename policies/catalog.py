"""Every condition name a rule may use, what it looks at, and what kind of value it takes.

History counts come from ``HistoryFacts.recent_contacts``: the customer's contacts (visits) in
the store's window, newest first, the current one included (the message is stored before the
decision).

A *getter* reads one value from a :class:`DecisionInput`; the condition compiler pairs it with a
comparison. Getters are built once per policy (some need the policy's settings), so ``decide()``
only calls small closures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from operator import attrgetter

from policies.model import DecisionInput, OrderFacts
from policies.settings import WEEKDAYS, PolicySettings

Getter = Callable[[DecisionInput], object]

# Entity names the understanding step fills in ``Signals.entities``.
ENTITY_ORDER_NUMBER = "order_number"
ENTITY_EMAIL = "email"
ENTITY_PHONE = "phone"


class Kind(StrEnum):
    NUMBER = "number"  # gt/gte/lt/lte/eq/ne/in/not_in; a bare number means eq
    TEXT = "text"  # eq/ne/in/not_in; a bare word means eq, a list means in
    BOOL = "bool"  # true or false
    TAGS = "tags"  # a set of words: a bare word means "has it", in = has any, not_in = has none
    WINDOW = "window"  # a count over a time window: {within: 7d, gte: 3}
    KEYWORDS = "keywords"  # words or phrases in the message text (any of them)
    PATTERN = "pattern"  # regular expressions searched in the message text (any of them)
    WEEKDAY = "weekday"  # day names or ranges in the policy's time zone: [sat, sun], mon-fri


@dataclass(frozen=True, slots=True)
class ConditionKind:
    name: str
    kind: Kind
    help: str
    getter: Callable[[PolicySettings], Getter] | None = None
    counter: Callable[[timedelta], Getter] | None = None  # window conditions
    needs: str | None = None  # a setting that must be present


def _plain(read: Getter) -> Callable[[PolicySettings], Getter]:
    def build(_settings: PolicySettings) -> Getter:
        return read

    return build


def _attr(path: str) -> Callable[[PolicySettings], Getter]:
    """A reader of an attribute path of the input (C-fast ``operator.attrgetter``)."""
    return _plain(attrgetter(path))


def _order_value(read: Callable[[OrderFacts], object]) -> Callable[[PolicySettings], Getter]:
    def value(inp: DecisionInput) -> object:
        order = inp.order
        return None if order is None else read(order)

    return _plain(value)


def _has_entity(name: str) -> Callable[[PolicySettings], Getter]:
    def value(inp: DecisionInput) -> object:
        return bool(inp.signals.entities.get(name))

    return _plain(value)


def _intent_confident(settings: PolicySettings) -> Getter:
    threshold = settings.min_intent_confidence

    def value(inp: DecisionInput) -> object:
        return inp.signals.intent_confidence >= threshold

    return value


def _business_hours(settings: PolicySettings) -> Getter:
    def value(inp: DecisionInput) -> object:
        return settings.is_business_hours(inp.now)

    return value


def _holiday(settings: PolicySettings) -> Getter:
    def value(inp: DecisionInput) -> object:
        return settings.is_holiday(inp.now)

    return value


def _weekday(settings: PolicySettings) -> Getter:
    def value(inp: DecisionInput) -> object:
        return WEEKDAYS[settings.local(inp.now).weekday()]

    return value


def _local_hour(settings: PolicySettings) -> Getter:
    def value(inp: DecisionInput) -> object:
        return settings.local(inp.now).hour

    return value


def _contacts(within: timedelta) -> Getter:
    def value(inp: DecisionInput) -> object:
        cutoff = inp.now - within
        return sum(1 for c in inp.history.recent_contacts if c.at >= cutoff)

    return value


def _contacts_about_order(within: timedelta) -> Getter:
    def value(inp: DecisionInput) -> object:
        order = inp.order
        if order is None:
            return 0
        cutoff = inp.now - within
        ref = order.id
        return sum(1 for c in inp.history.recent_contacts if c.order_ref == ref and c.at >= cutoff)

    return value


def _escalated_contacts(within: timedelta) -> Getter:
    def value(inp: DecisionInput) -> object:
        cutoff = inp.now - within
        return sum(1 for c in inp.history.recent_contacts if c.escalated and c.at >= cutoff)

    return value


_ALL = (
    # what the message says
    ConditionKind(
        "intent",
        Kind.TEXT,
        "the intent understood from the message",
        _attr("signals.intent"),
    ),
    ConditionKind(
        "intent_confidence",
        Kind.NUMBER,
        "how sure the understanding is of the intent, 0 to 1",
        _attr("signals.intent_confidence"),
    ),
    ConditionKind(
        "intent_confident",
        Kind.BOOL,
        "intent confidence is at least settings.min_intent_confidence",
        _intent_confident,
    ),
    ConditionKind(
        "sentiment",
        Kind.NUMBER,
        "tone of the message, -1 (angry) to +1 (happy)",
        _attr("signals.sentiment"),
    ),
    ConditionKind(
        "needs_person",
        Kind.BOOL,
        "the customer asked for a person in so many words",
        _attr("signals.needs_person"),
    ),
    ConditionKind(
        "channel",
        Kind.TEXT,
        "the channel the message came on (webchat, telegram, slack)",
        _attr("signals.channel"),
    ),
    ConditionKind("keywords", Kind.KEYWORDS, "any of these words or phrases is in the message"),
    ConditionKind("pattern", Kind.PATTERN, "any of these regular expressions matches the message"),
    ConditionKind(
        "has_order_number",
        Kind.BOOL,
        "the message names an order number",
        _has_entity(ENTITY_ORDER_NUMBER),
    ),
    ConditionKind(
        "has_email",
        Kind.BOOL,
        "the message contains an email address",
        _has_entity(ENTITY_EMAIL),
    ),
    ConditionKind(
        "has_phone",
        Kind.BOOL,
        "the message contains a phone number",
        _has_entity(ENTITY_PHONE),
    ),
    # who is writing
    ConditionKind(
        "customer.verified",
        Kind.BOOL,
        "the customer's identity is verified",
        _attr("customer.verified"),
    ),
    ConditionKind(
        "customer.first_contact",
        Kind.BOOL,
        "this is the customer's first conversation",
        _attr("customer.first_contact"),
    ),
    ConditionKind(
        "customer.tags",
        Kind.TAGS,
        "the customer's tags (vip, wholesale, …)",
        _attr("customer.tags"),
    ),
    ConditionKind(
        "customer.tier",
        Kind.TEXT,
        "the customer's tier, if the shop uses tiers",
        _attr("customer.tier"),
    ),
    ConditionKind(
        "customer.lifetime_value",
        Kind.NUMBER,
        "total the customer has spent",
        _attr("customer.lifetime_value"),
    ),
    ConditionKind(
        "customer.orders_count",
        Kind.NUMBER,
        "how many orders the customer has placed",
        _attr("customer.orders_count"),
    ),
    # the order in question
    ConditionKind(
        "order.present",
        Kind.BOOL,
        "an order is in question (named, or the latest one)",
        _plain(lambda i: i.order is not None),
    ),
    ConditionKind(
        "order.status",
        Kind.TEXT,
        "the order's status (pending, shipped, delivered, …)",
        _order_value(lambda o: o.status),
    ),
    ConditionKind("order.total", Kind.NUMBER, "the order's total", _order_value(lambda o: o.total)),
    ConditionKind(
        "order.currency",
        Kind.TEXT,
        "the order's currency code",
        _order_value(lambda o: o.currency),
    ),
    ConditionKind(
        "order.age_days",
        Kind.NUMBER,
        "days since the order was placed",
        _order_value(lambda o: o.age_days),
    ),
    ConditionKind(
        "order.days_since_delivery",
        Kind.NUMBER,
        "days since delivery (missing if undelivered)",
        _order_value(lambda o: o.days_since_delivery),
    ),
    ConditionKind(
        "order.belongs_to_customer",
        Kind.BOOL,
        "the order is on this customer's account",
        _order_value(lambda o: o.belongs_to_customer),
    ),
    ConditionKind(
        "order.named_in_message",
        Kind.BOOL,
        "the customer named the order in the message",
        _order_value(lambda o: o.named_in_message),
    ),
    # history
    ConditionKind(
        "history.contacts",
        Kind.WINDOW,
        "contacts from this customer in the window, this one included",
        counter=_contacts,
    ),
    ConditionKind(
        "history.contacts_about_order",
        Kind.WINDOW,
        "contacts about the order in question in the window, this one included",
        counter=_contacts_about_order,
    ),
    ConditionKind(
        "history.escalated_contacts",
        Kind.WINDOW,
        "contacts in the window that went to a person",
        counter=_escalated_contacts,
    ),
    ConditionKind(
        "history.escalations",
        Kind.NUMBER,
        "earlier escalations of this customer, all time",
        _attr("history.escalations_total"),
    ),
    ConditionKind(
        "history.bot_failures",
        Kind.NUMBER,
        "bot failures in this conversation",
        _attr("history.bot_failures"),
    ),
    ConditionKind(
        "history.consecutive_clarify",
        Kind.NUMBER,
        "clarifying questions the bot asked in a row just before this message",
        _attr("history.consecutive_clarify"),
    ),
    ConditionKind(
        "history.minutes_since_staff",
        Kind.NUMBER,
        "minutes since a person last wrote in this conversation (missing if never)",
        _attr("history.minutes_since_staff"),
    ),
    ConditionKind(
        "history.conversation_state",
        Kind.TEXT,
        "state of the conversation (bot, waiting_staff, staff, resolved)",
        _attr("history.conversation_state"),
    ),
    # time, in settings.timezone
    ConditionKind(
        "time.business_hours",
        Kind.BOOL,
        "now is within settings.business_hours (not a holiday)",
        _business_hours,
        needs="business_hours",
    ),
    ConditionKind(
        "time.holiday", Kind.BOOL, "today is one of settings.holidays", _holiday, needs="holidays"
    ),
    ConditionKind("time.weekday", Kind.WEEKDAY, "today's day of the week", _weekday),
    ConditionKind("time.hour", Kind.NUMBER, "the hour of the day, 0 to 23", _local_hour),
)

CONDITIONS: dict[str, ConditionKind] = {c.name: c for c in _ALL}
GROUPS = ("all", "any", "not")
