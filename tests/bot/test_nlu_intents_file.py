"""Loading intents files: errors name the file and the line; admins can extend the shipped file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu import IntentsFileError, OfflineUnderstanding, load_intents

SMALL = """\
version: 1
intents:
  human_agent:
    description: wants a person
    patterns:
      - '\\bagent\\b'
    examples:
      - let me talk to a person
      - I want a human
  out_of_scope:
    examples:
      - what's the weather
      - tell me a joke
  gift_cards:
    description: buying and using gift cards
    examples:
      - do you sell gift cards
      - how do I redeem a gift card
      - my gift card code does not work
"""


def write(tmp_path: Path, text: str, name: str = "intents.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> IntentsFileError:
    with pytest.raises(IntentsFileError) as caught:
        OfflineUnderstanding.from_file(path)
    return caught.value


def test_a_small_file_loads_in_order_with_descriptions(tmp_path: Path) -> None:
    catalog = load_intents(write(tmp_path, SMALL))
    assert catalog.names == ("human_agent", "out_of_scope", "gift_cards")
    gift = catalog.get("gift_cards")
    assert gift is not None
    assert gift.description == "buying and using gift cards"
    assert gift.examples[0] == "do you sell gift cards"


def test_an_admins_own_intent_is_recognized(tmp_path: Path) -> None:
    nlu = OfflineUnderstanding.from_file(write(tmp_path, SMALL))
    assert nlu.understand("can I buy a gift card for my mum", "webchat").intent == "gift_cards"
    assert nlu.understand("agent please", "webchat").intent == "human_agent"


def test_broken_yaml_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nintents:\n  greeting:\n    examples: [hi, hello\n")
    err = error_of(path)
    assert err.path == path
    assert err.line == 5
    assert str(err).startswith(f"{path}:5: invalid YAML")


def test_an_unknown_key_is_reported_on_its_line(tmp_path: Path) -> None:
    text = SMALL.replace("    description: wants a person\n", "    descripton: wants a person\n")
    err = error_of(write(tmp_path, text))
    assert err.line == 4
    assert "unknown key 'descripton' at intent 'human_agent'" in str(err)
    assert "description, examples, patterns" in str(err)


def test_an_example_that_is_not_text_is_reported_on_its_line(tmp_path: Path) -> None:
    text = SMALL.replace("      - tell me a joke\n", "      - {joke: yes}\n")
    err = error_of(write(tmp_path, text))
    assert err.line == 13
    assert "intent 'out_of_scope': examples item 2 must be non-empty text" in str(err)


def test_an_empty_example_is_reported_on_its_line(tmp_path: Path) -> None:
    text = SMALL.replace("      - tell me a joke\n", "      - ''\n")
    assert error_of(write(tmp_path, text)).line == 13


def test_an_intent_with_one_example_is_refused(tmp_path: Path) -> None:
    text = SMALL.replace("      - tell me a joke\n", "")
    err = error_of(write(tmp_path, text))
    assert err.line == 11
    assert "intent 'out_of_scope' needs at least 2 examples, found 1" in str(err)


def test_a_bad_regular_expression_is_reported_on_its_line(tmp_path: Path) -> None:
    text = SMALL.replace("'\\bagent\\b'", "'(agent'")
    err = error_of(write(tmp_path, text))
    assert err.line == 6
    assert "pattern 1 is not a valid regular expression" in str(err)


def test_a_bad_intent_name_is_reported_on_its_line(tmp_path: Path) -> None:
    text = SMALL.replace("  gift_cards:\n", "  Gift Cards:\n")
    err = error_of(write(tmp_path, text))
    assert err.line == 14
    assert "intent name 'Gift Cards'" in str(err)


def test_a_file_without_intents_is_refused(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "version: 1\nintent: {}\n"))
    assert err.line == 2
    assert "unknown key 'intent'" in str(err)
    assert "'intents' must be a mapping" in str(error_of(write(tmp_path, "version: 1\n")))


def test_an_unknown_version_is_refused(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, SMALL.replace("version: 1", "version: 2")))
    assert (err.line, err.message) == (1, "unknown version 2")


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    err = error_of(tmp_path / "nope.yaml")
    assert err.line is None
    assert "cannot read the file" in str(err)


def test_intents_for_people_and_off_topic_messages_are_required(tmp_path: Path) -> None:
    text = "intents:\n  greeting:\n    examples: [hi, hello]\n  thanks:\n    examples: [ty, thx]\n"
    err = error_of(write(tmp_path, text))
    assert "must include human_agent and out_of_scope" in str(err)


def test_include_shipped_adds_to_the_shipped_intents(tmp_path: Path) -> None:
    extra = """\
include_shipped: true
intents:
  gift_cards:
    examples:
      - do you sell gift cards
      - how do I redeem a gift card
      - my gift card code does not work
      - gift voucher balance
      - can I buy a gift card online
      - how much is left on my gift card
      - gift card
      - do gift cards expire
      - I want to give a gift voucher to a friend
      - can I use two gift cards on one order
  payment:
    examples:
      - can I pay with a crypto wallet
      - do you take bitcoin
"""
    path = write(tmp_path, extra)
    catalog = load_intents(path)
    shipped = load_intents(catalog.sources[0])
    assert catalog.sources == (shipped.sources[0], path)
    assert catalog.names == (*shipped.names, "gift_cards")
    payment = catalog.get("payment")
    old_payment = shipped.get("payment")
    assert payment is not None and old_payment is not None
    assert payment.examples[-2:] == ("can I pay with a crypto wallet", "do you take bitcoin")
    assert payment.description == old_payment.description
    nlu = OfflineUnderstanding(catalog)
    assert nlu.understand("is my gift card still valid", "webchat").intent == "gift_cards"
    assert nlu.understand("where is my order", "webchat").intent == "order_status"


def test_the_shipped_file_is_valid() -> None:
    nlu = OfflineUnderstanding.default()
    assert "human_agent" in nlu.intents
