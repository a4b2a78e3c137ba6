"""Which templates exist and which placeholders each one may use.

Names are checked when the YAML is loaded, so a typo in a name or a placeholder is an error
with its line, not a reply that breaks in front of a customer.

- Action templates: ``greeting``, ``thanks``, ``goodbye``, ``out_of_scope``, ``clarify``,
  ``verify_identity``, ``escalate``, ``escalate.waiting``.
- Wait sentences, added to a new escalation's message: ``escalate.wait`` (the queue's time to
  claim, ``{claim_within}``) and ``escalate.after_hours`` (the team is away: ``{opens_at}``).
- Order templates: ``order.<variant>`` for every order status (``order.pending``,
  ``order.shipped``, ``order.delivered.returnable`` …) plus ``order.none``,
  ``order.not_found`` and ``order.choose``.
- Intent overrides: ``<order intent>.<variant>`` (``cancel_order.pending``) wins over
  ``order.<variant>`` for that intent.
- Custom templates (lower-case names without a dot, such as ``gift-cards``): a policy rule
  names them with ``answer: {template: gift-cards}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.responder.fields import GENERAL_FIELDS, ORDER_FIELDS

# Intents whose answer comes from the customer's own orders.
ORDER_INTENTS = (
    "order_status",
    "tracking",
    "delivery_time",
    "return_request",
    "cancel_order",
    "change_order",
    "change_address",
    "refund_request",
)

# Variants of an order answer, by what the order's real fields allow.
ORDER_VARIANTS = (
    "pending",
    "shipped",
    "shipped.no_link",
    "shipped.untracked",
    "delivered.returnable",
    "delivered.not_returnable",
    "delivered.undated",
    "cancelled",
    "return_requested",
    "refunded",
    "other",
)

ACTION_TEMPLATES = (
    "greeting",
    "thanks",
    "goodbye",
    "out_of_scope",
    "clarify",
    "verify_identity",
    "escalate",
    "escalate.waiting",
    "escalate.wait",
    "escalate.after_hours",
)

REQUIRED = (
    *ACTION_TEMPLATES,
    *(f"order.{variant}" for variant in ORDER_VARIANTS),
    "order.none",
    "order.not_found",
    "order.choose",
)

CUSTOM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
TEAM_FIELDS = frozenset({"team"})
# How long a person takes: "15 minutes"; when the team is back: "tomorrow at 09:00".
WAIT_FIELDS: dict[str, frozenset[str]] = {
    "escalate.wait": frozenset({"claim_within"}),
    "escalate.after_hours": frozenset({"opens_at", "claim_within"}),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """The placeholders a template's text and its quick replies may use."""

    text: frozenset[str]
    quick_replies: frozenset[str]


def field_spec(name: str) -> FieldSpec:
    """The allowed placeholders of a template name; ``ValueError`` for a name that cannot exist."""
    if name in ACTION_TEMPLATES:
        allowed = GENERAL_FIELDS | (TEAM_FIELDS if name.startswith("escalate") else frozenset())
        allowed |= WAIT_FIELDS.get(name, frozenset())
        return FieldSpec(allowed, allowed)
    prefix, dot, variant = name.partition(".")
    if dot and (prefix == "order" or prefix in ORDER_INTENTS):
        if variant == "choose":
            return FieldSpec(GENERAL_FIELDS | {"order_list"}, GENERAL_FIELDS | ORDER_FIELDS)
        if variant in ORDER_VARIANTS:
            return FieldSpec(GENERAL_FIELDS | ORDER_FIELDS, GENERAL_FIELDS | ORDER_FIELDS)
        if prefix == "order" and variant == "none":
            return FieldSpec(GENERAL_FIELDS, GENERAL_FIELDS)
        if prefix == "order" and variant == "not_found":
            with_ref = GENERAL_FIELDS | {"order_ref"}
            return FieldSpec(with_ref, with_ref)
        known = ", ".join((*ORDER_VARIANTS, "choose"))
        raise ValueError(f"unknown order template {name!r}; the variants are: {known}")
    if CUSTOM_NAME.match(name):
        everything = GENERAL_FIELDS | ORDER_FIELDS
        return FieldSpec(everything, everything)
    raise ValueError(
        f"unknown template name {name!r}: use one of {', '.join(ACTION_TEMPLATES)}, "
        "order.<variant>, <order intent>.<variant>, or a custom lower-case name without dots"
    )
