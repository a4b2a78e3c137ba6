"""The shipped offline understanding on messages customers really write.

None of these sentences is an example in the shipped intents file: they check that the
classifier generalizes, not that it remembers.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bot.nlu import OfflineUnderstanding
from bot.nlu.classifier import WORDS_REMEMBERED, normalize
from bot.nlu.intents_file import load_intents
from bot.nlu.understanding import MAX_CHARS, PATTERN_CONFIDENCE
from policies.model import Signals


@pytest.fixture(scope="module")
def nlu() -> OfflineUnderstanding:
    return OfflineUnderstanding.default()


def test_every_intent_the_policies_use_is_shipped(nlu: OfflineUnderstanding) -> None:
    expected = {
        "order_status", "tracking", "delivery_time", "return_request", "refund_request",
        "cancel_order", "change_order", "change_address", "payment", "shipping_info",
        "returns_policy", "product_question", "account", "complaint", "human_agent",
        "greeting", "thanks", "goodbye", "out_of_scope",
    }  # fmt: skip
    assert expected <= set(nlu.intents)
    catalog = load_intents(nlu.catalog.sources[0])
    for spec in catalog.intents:
        assert spec.description, f"{spec.name} has no description"
        assert len(spec.examples) >= 25, f"{spec.name} has only {len(spec.examples)} examples"


@pytest.mark.parametrize(
    "text",
    [
        "Can I please talk to an actual human being?",
        "I'd like to speak with somebody from your team",
        "connect me with a live agent now",
        "get me a representative",
        "Agent!",
        "human",
        "I want to speak to a supervisor about this",
        "stop replying with a bot, I want a real person",
        "Could someone from support call me back on my mobile?",
        "please transfer me to an operator",
        "is there anyone real I can chat with?",
        "I need to speak to a manager right now",
        "what's the phone number of your call centre",
        "let me talk to someone who can actually help",
    ],
)
def test_explicit_requests_for_a_person_are_caught_with_high_confidence(
    nlu: OfflineUnderstanding, text: str
) -> None:
    signals = nlu.understand(text, "webchat")
    assert signals.intent == "human_agent", text
    assert signals.intent_confidence >= 0.9
    assert signals.needs_person is True


def test_a_customer_fed_up_with_the_bot_wants_a_person(nlu: OfflineUnderstanding) -> None:
    for text in ("I don't want to chat with a robot", "enough of this stupid bot"):
        signals = nlu.understand(text, "webchat")
        assert (signals.intent, signals.needs_person) == ("human_agent", True), text
    not_a_bot = nlu.understand("I'm not a robot, I just can't find the checkout button", "w")
    assert not_a_bot.intent != "human_agent"
    assert not_a_bot.needs_person is False


def test_a_negated_request_for_a_person_is_not_forced_by_the_patterns(
    nlu: OfflineUnderstanding,
) -> None:
    signals = nlu.understand("no need to talk to an agent, just tell me the return window", "w")
    assert signals.intent_confidence < PATTERN_CONFIDENCE
    assert signals.intent == "returns_policy"


@pytest.mark.parametrize(
    "text",
    [
        "Do you ship to Norway?",
        "how much does shipping cost for small orders",
        "Is there free delivery if I spend over 40 euros?",
        "which couriers do you work with for international orders",
    ],
)
def test_shipping_questions_are_shipping_info(nlu: OfflineUnderstanding, text: str) -> None:
    signals = nlu.understand(text, "telegram")
    assert signals.intent == "shipping_info", text
    assert signals.intent_confidence >= 0.5


@pytest.mark.parametrize(
    "text",
    [
        "What's the weather going to be like in Berlin this weekend?",
        "write me a haiku about the ocean",
        "who won the champions league final",
        "how do I reverse a linked list in java",
        "how many points does the captain get in my fantasy cricket team",
        "what's the square root of 144",
        "can you recommend a good series on netflix",
    ],
)
def test_off_topic_messages_are_out_of_scope_or_unsure(
    nlu: OfflineUnderstanding, text: str
) -> None:
    signals = nlu.understand(text, "webchat")
    assert signals.intent == "out_of_scope" or signals.intent_confidence < 0.4, (
        text,
        signals.intent,
        signals.intent_confidence,
    )
    assert signals.needs_person is False


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hey, where's my package? ordered it five days ago", "order_status"),
        ("please cancel order #48810, I bought it by accident", "cancel_order"),
        ("the lamp came cracked, how do I send it back", "return_request"),
        ("I returned the boots two weeks ago and my money still isn't back", "refund_request"),
        ("can I change the delivery address on my order to my work address", "change_address"),
        ("do you accept klarna or paypal at checkout", "payment"),
        ("how many days do I have to return a sweater", "returns_policy"),
        ("is the oak dining table available in a smaller size", "product_question"),
        ("I forgot the password for my account", "account"),
        ("this is the worst service I've ever had, absolutely unacceptable", "complaint"),
        ("good morning!", "greeting"),
        ("cheers, that helped a lot", "thanks"),
        ("ok that's all, bye", "goodbye"),
        ("what's the tracking number for my parcel", "tracking"),
        ("how long does standard delivery take to Ireland", "delivery_time"),
    ],
)
def test_common_requests_get_their_intent(
    nlu: OfflineUnderstanding, text: str, intent: str
) -> None:
    assert nlu.understand(text, "webchat").intent == intent


def test_signals_carry_the_message_channel_entities_and_sentiment(
    nlu: OfflineUnderstanding,
) -> None:
    text = "Hi, order #W2611340 still hasn't arrived. Please email me at ann@example.org"
    signals = nlu.understand(text, "slack")
    assert isinstance(signals, Signals)
    assert signals.text == text
    assert signals.channel == "slack"
    assert signals.source == "offline"
    assert signals.intent == "order_status"
    assert 0.0 <= signals.intent_confidence <= 1.0
    assert signals.entities == {"order_number": ("#W2611340",), "email": ("ann@example.org",)}
    angry = nlu.understand("This is a disgrace, the parcel is ruined and I'm furious", "slack")
    happy = nlu.understand("Lovely, thank you so much, great service!", "slack")
    assert angry.sentiment < -0.5
    assert happy.sentiment > 0.5


def test_an_empty_message_is_understood_as_nothing_in_scope(nlu: OfflineUnderstanding) -> None:
    signals = nlu.understand("   ", "webchat")
    assert signals.intent == "out_of_scope"
    assert signals.intent_confidence == 0.0
    assert signals.entities == {}
    assert signals.sentiment == 0.0


def test_a_very_long_message_is_understood_from_its_first_thousand_characters(
    nlu: OfflineUnderstanding,
) -> None:
    story = "Please cancel order 55120, I ordered the wrong model. " + (
        "Some background on what happened with the delivery last month and why. " * 200
    )
    long = nlu.understand(story, "webchat")
    clipped = nlu.understand(story[:MAX_CHARS], "webchat")
    assert long.text == story
    assert (long.intent, long.intent_confidence) == (clipped.intent, clipped.intent_confidence)
    assert long.entities == {"order_number": ("55120",)}


def test_confidences_are_probabilities_over_every_intent(nlu: OfflineUnderstanding) -> None:
    ranked = nlu.rank("where is my refund", top=len(nlu.intents))
    assert {r.intent for r in ranked} == set(nlu.intents)
    assert sum(r.confidence for r in ranked) == pytest.approx(1.0)
    assert [r.confidence for r in ranked] == sorted((r.confidence for r in ranked), reverse=True)
    assert ranked[0].intent == "refund_request"


def test_word_by_word_features_score_exactly_as_the_whole_message(
    nlu: OfflineUnderstanding,
) -> None:
    """The character block looks each word's n-grams up once and remembers them; the
    scores must equal those of cutting the whole message, for every shipped example and
    for messy text, the second time (remembered) as the first."""
    classifier = nlu._classifier
    (chars,) = [block for block in classifier._blocks if block.within_words]
    whole = replace(chars, within_words=False, words={})
    messages = [normalize(example) for spec in nlu.catalog.intents for example in spec.examples] + [
        normalize(text)
        for text in (
            "whereee is   my ordr #TL-10234??",
            "Ich möchte mein Paket zurücksenden, bitte",
            "refund refund refund!!! a@b.co +1 (555) 010-2030",
            "x",
            "",
        )
    ]
    for text in messages * 2:
        assert np.array_equal(chars.scores(text), whole.scores(text)), text
    assert 0 < len(chars.words) <= WORDS_REMEMBERED


def test_a_batch_is_understood_as_each_message_alone(nlu: OfflineUnderstanding) -> None:
    """The worker understands its batch in one call: the same signals as one by one,
    whether a message goes to the classifier, a pattern, or neither."""
    messages = [
        ("where is my order TL-10215?", "webchat"),
        ("", "webchat"),  # nothing to classify
        ("I want to talk to a human right now", "telegram"),  # a pattern decides
        ("no need for an agent, what is the return window?", "webchat"),  # negated, classified
        ("qwzx vbnm plokij", "slack"),  # no feature the classifier knows
        ("my parcel arrived broken, this is terrible", "webchat"),
        ("x" * (MAX_CHARS + 50), "webchat"),
    ]
    together = nlu.understand_many(messages)
    assert together == [nlu.understand(text, channel) for text, channel in messages]
    assert [s.intent for s in together][1:5] == [
        "out_of_scope",
        "human_agent",
        "returns_policy",
        "out_of_scope",
    ]
    assert nlu.understand_many([]) == []
