"""Knowledge answers, small talk and the messages for escalate, clarify and verify."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from test_offline_responder_data import (
    DELIVERED_RECENT,
    NOW,
    SHIPPED,
    answer,
    context,
    signals,
    write_knowledge,
)

from bot.responder import OfflineResponder, TemplateError, Templates
from bot.responder.templates import say_duration, say_opening
from memory.knowledge import KnowledgeBase
from policies.model import Action, Decision
from policies.settings import StaffWait

BERLIN = ZoneInfo("Europe/Berlin")
TUESDAY_EVENING = datetime(2026, 11, 17, 19, 30, tzinfo=UTC)  # 20:30 in Berlin
OPEN = StaffWait(
    claim_within=timedelta(minutes=15),
    claim_by=TUESDAY_EVENING + timedelta(minutes=15),
    at=TUESDAY_EVENING,
    zone=BERLIN,
)
AWAY = StaffWait(
    claim_within=timedelta(minutes=15),
    opens_at=datetime(2026, 11, 18, 8, 0, tzinfo=UTC),  # Wednesday 09:00 in Berlin
    claim_by=datetime(2026, 11, 18, 8, 15, tzinfo=UTC),
    at=TUESDAY_EVENING,
    zone=BERLIN,
)
SUPPORT = "I'm passing this to a person on our support team; they'll reply here in this chat."


@pytest.fixture
def knowledge(tmp_path) -> KnowledgeBase:
    return KnowledgeBase.load(write_knowledge(tmp_path / "knowledge"))


@pytest.fixture
def responder(knowledge) -> OfflineResponder:
    return OfflineResponder(knowledge, Templates.default(), min_confidence=0.5, clock=lambda: NOW)


async def test_a_knowledge_question_is_answered_with_the_best_entry(responder) -> None:
    reply = await responder.reply(
        answer(), context(), signals("How long does shipping take to Germany?", "delivery_time")
    )

    assert reply is not None
    assert reply.kind == "knowledge"
    assert reply.source == "shipping-times"
    assert reply.text.startswith("Orders ship within one business day")
    assert reply.order_id is None


async def test_an_off_topic_question_below_the_threshold_gets_no_answer(responder) -> None:
    reply = await responder.reply(
        answer(), context(), signals("who won the football match yesterday", "product_question")
    )

    assert reply is None


async def test_the_threshold_decides_between_an_answer_and_none(knowledge) -> None:
    question = signals("can I pay for the shipping with PayPal", "payment")
    hits = knowledge.search(question.text)
    assert hits and hits[0].entry.id == "payment-methods"
    confidence = hits[0].confidence

    lenient = OfflineResponder(knowledge, Templates.default(), min_confidence=confidence)
    strict = OfflineResponder(
        knowledge, Templates.default(), min_confidence=min(1.0, confidence + 0.01)
    )

    lenient_reply = await lenient.reply(answer(), context(), question)
    assert lenient_reply is not None and lenient_reply.source == "payment-methods"
    assert await strict.reply(answer(), context(), question) is None


async def test_a_general_shipping_question_from_a_customer_with_no_open_order_uses_knowledge(
    responder,
) -> None:
    reply = await responder.reply(
        answer(),
        context([DELIVERED_RECENT]),
        signals("how long does shipping take", "delivery_time"),
    )

    assert reply is not None and reply.source == "shipping-times"


async def test_an_unverified_customer_asking_how_returns_work_gets_the_policy_not_an_order(
    responder,
) -> None:
    reply = await responder.reply(
        answer(),
        context([DELIVERED_RECENT], verified=False),
        signals("how do returns work?", "return_request"),
    )

    assert reply is not None
    assert reply.kind == "knowledge" and reply.source == "returns-window"
    assert "TL-1990" not in reply.text


async def test_an_unverified_order_question_the_knowledge_cannot_answer_asks_to_verify(
    responder,
) -> None:
    reply = await responder.reply(
        answer(),
        context([SHIPPED], verified=False),
        signals("I'd like to change the delivery address", "change_address"),
    )

    assert reply is not None and reply.source == "verify_identity"
    assert "TL-2002" not in reply.text


async def test_tools_limited_to_orders_do_not_search_the_knowledge_base(responder) -> None:
    reply = await responder.reply(
        answer(tools=("order_lookup",)),
        context(),
        signals("How long does shipping take to Germany?", "product_question"),
    )

    assert reply is None


async def test_small_talk_greets_by_first_name_and_reads_well_without_one(responder) -> None:
    hello = await responder.reply(answer(), context(), signals("hi there", "greeting"))
    thanks = await responder.reply(answer(), context(name=None), signals("thanks!", "thanks"))
    off_topic = await responder.reply(
        answer(), context(), signals("write me a poem", "out_of_scope")
    )

    assert hello is not None and hello.text.startswith("Hi Anna!")
    assert "Where is my order?" in hello.quick_replies
    assert thanks is not None and thanks.text.startswith("You're welcome! ")
    assert off_topic is not None and off_topic.source == "out_of_scope"
    assert "orders, shipping, returns" in off_topic.text


async def test_a_custom_template_named_by_the_policy_is_rendered(tmp_path, knowledge) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(
        "templates:\n"
        "  gift-cards: Gift cards are sold in our shop from EUR 10, {first_name}.\n"
        "  latest-order: Your latest order is {order_id} ({status}).\n",
        encoding="utf-8",
    )
    custom = OfflineResponder(knowledge, Templates.load(path), min_confidence=0.5)

    gift = await custom.reply(
        answer(template="gift-cards"), context(), signals("gift cards?", "product_question")
    )
    latest = await custom.reply(
        answer(template="latest-order"), context([SHIPPED]), signals("status?", "order_status")
    )
    hidden = await custom.reply(
        answer(template="latest-order"),
        context([SHIPPED], verified=False),
        signals("status?", "order_status"),
    )
    unknown = await custom.reply(
        answer(template="no-such-template"), context(), signals("x", "product_question")
    )

    assert gift is not None
    assert (gift.text, gift.kind) == (
        "Gift cards are sold in our shop from EUR 10, Anna.",
        "template",
    )
    assert latest is not None and latest.text == "Your latest order is TL-2002 (shipped)."
    assert latest.order_id == "TL-2002"
    assert hidden is not None and hidden.source == "verify_identity"
    assert unknown is None


def test_escalation_uses_the_policys_message_when_it_has_one(responder) -> None:
    decision = Decision(
        Action.ESCALATE,
        "big-refund",
        queue="billing",
        customer_message="A refund this size needs a colleague; they'll reply within a day.",
    )

    text = responder.render_action_message(decision, context())

    assert text == "A refund this size needs a colleague; they'll reply within a day."


def test_escalation_names_the_team_of_the_queue(responder) -> None:
    billing = Decision(Action.ESCALATE, "big-refund", queue="billing")
    unknown = Decision(Action.ESCALATE, "asks-for-a-person", queue="night-shift")

    assert responder.render_action_message(billing, context()) == (
        "I'm passing this to our billing team; they'll reply here in this chat."
    )
    assert responder.render_action_message(unknown, context()) == (
        "I'm passing this to a person on our team; they'll reply here in this chat."
    )


def test_a_new_escalation_says_how_long_a_person_usually_takes(responder) -> None:
    decision = Decision(Action.ESCALATE, "asks-for-a-person", queue="support")

    open_text = responder.render_action_message(decision, context(), OPEN)
    away_text = responder.render_action_message(decision, context(), AWAY)
    no_target = responder.render_action_message(decision, context(), StaffWait(at=TUESDAY_EVENING))

    assert open_text == f"{SUPPORT} Someone usually picks this up within 15 minutes."
    assert away_text == (
        f"{SUPPORT} Our team is away right now; they're back tomorrow at 09:00 and will reply then."
    )
    assert no_target == SUPPORT


def test_a_policy_message_gets_the_wait_unless_it_says_when_itself(responder) -> None:
    plain = Decision(
        Action.ESCALATE, "big-refund", queue="billing", customer_message="A colleague will reply."
    )
    own_wait = Decision(
        Action.ESCALATE,
        "after-hours",
        queue="support",
        customer_message="We're closed; a person replies {opens_at}, within {claim_within}.",
    )

    assert responder.render_action_message(plain, context(), OPEN) == (
        "A colleague will reply. Someone usually picks this up within 15 minutes."
    )
    assert responder.render_action_message(own_wait, context(), AWAY) == (
        "We're closed; a person replies tomorrow at 09:00, within 15 minutes."
    )


def test_a_policy_message_needing_an_unknown_time_falls_back_to_the_template(responder) -> None:
    # {opens_at} while the team is open: there is no opening to name.
    decision = Decision(
        Action.ESCALATE, "x", queue="support", customer_message="We're back {opens_at}."
    )

    text = responder.render_action_message(decision, context(), OPEN)

    assert text == f"{SUPPORT} Someone usually picks this up within 15 minutes."


def test_other_braces_in_a_policy_message_are_shown_as_written(responder) -> None:
    decision = Decision(
        Action.ESCALATE, "x", queue="support", customer_message="Quote {ticket} when you write."
    )

    assert responder.render_action_message(decision, context(), None) == (
        "Quote {ticket} when you write."
    )


def test_the_wait_sentences_are_templates_an_operator_can_change(tmp_path, knowledge) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(
        "templates:\n"
        "  escalate.wait: Expect {team} within {claim_within}.\n"
        "  escalate.after_hours: We open {opens_at}.\n",
        encoding="utf-8",
    )
    custom = OfflineResponder(knowledge, Templates.load(path), min_confidence=0.5)
    decision = Decision(Action.ESCALATE, "asks-for-a-person", queue="support")

    assert custom.render_action_message(decision, context(), OPEN).endswith(
        "Expect a person on our support team within 15 minutes."
    )
    assert custom.render_action_message(decision, context(), AWAY).endswith(
        "We open tomorrow at 09:00."
    )
    path.write_text("templates:\n  escalate.wait: Back {opens_at}.\n", encoding="utf-8")
    with pytest.raises(
        TemplateError, match=r"escalate.wait' uses unknown placeholder \{opens_at\}"
    ):
        Templates.load(path)


@pytest.mark.parametrize(
    ("duration", "said"),
    [
        (timedelta(minutes=15), "15 minutes"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(seconds=30), "1 minute"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(minutes=90), "1 hour and 30 minutes"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=1, hours=2, minutes=5), "1 day, 2 hours and 5 minutes"),
    ],
)
def test_durations_are_said_as_people_say_them(duration: timedelta, said: str) -> None:
    assert say_duration(duration) == said


@pytest.mark.parametrize(
    ("opens_at", "said"),
    [
        (datetime(2026, 11, 17, 20, 0, tzinfo=UTC), "today at 21:00"),
        (datetime(2026, 11, 18, 8, 0, tzinfo=UTC), "tomorrow at 09:00"),
        (datetime(2026, 11, 23, 8, 0, tzinfo=UTC), "on Monday at 09:00"),
        (datetime(2026, 11, 24, 8, 30, tzinfo=UTC), "on Tuesday 24 November at 09:30"),
    ],
)
def test_openings_are_said_in_local_time_relative_to_today(opens_at: datetime, said: str) -> None:
    assert say_opening(opens_at, BERLIN, TUESDAY_EVENING) == said


def test_escalation_while_staff_already_have_the_conversation_says_so(responder) -> None:
    decision = Decision(Action.ESCALATE, "asks-for-a-person", queue="support")

    text = responder.render_action_message(decision, context(state="waiting_staff"))

    assert text.startswith("Your conversation is already with a person on our support team")


def test_clarify_asks_the_policys_question_or_a_default(responder) -> None:
    asked = Decision(Action.CLARIFY, "vague", question="Is this about an order or a product?")
    default = Decision(Action.CLARIFY, "low-confidence")

    assert responder.render_action_message(asked, context()) == (
        "Is this about an order or a product?"
    )
    assert "not sure I understood" in responder.render_action_message(default, context())


def test_verify_identity_explains_both_ways_to_prove_who_you_are(responder) -> None:
    reply = responder.action_reply(Decision(Action.VERIFY_IDENTITY, "order-needs-login"), context())

    assert reply.source == "verify_identity"
    assert "log in" in reply.text
    assert "order number" in reply.text and "email address" in reply.text


async def test_answer_decisions_are_not_action_messages_and_vice_versa(responder) -> None:
    with pytest.raises(ValueError, match="reply"):
        responder.render_action_message(answer(), context())
    with pytest.raises(ValueError, match="answer"):
        await responder.reply(
            Decision(Action.ESCALATE, "x"), context(), signals("hello", "greeting")
        )
