"""Slack payloads of the real shapes → customer messages (pure parsing, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.messages import Attachment
from channels.slack.parse import (
    command_text,
    parse_action,
    parse_command,
    parse_event,
    slack_user_id,
    user_key,
)
from channels.slack.text import clip, escape, strip_mention, to_plain
from tests.channels.fake_slack import BOT_USER_ID, TEAM_ID, payload

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_a_direct_message_becomes_a_customer_message() -> None:
    msg = parse_event(payload("message_im"), bot_user_id=BOT_USER_ID, received_at=NOW)
    assert msg is not None
    assert msg.channel == "slack"
    assert msg.external_event_id == "Ev0DM0000001"
    assert msg.external_user_id == f"{TEAM_ID}:U0CUST0001"
    assert msg.text == "Hi! Could you tell me where my order is? My email is ada@example.com"
    assert msg.received_at == NOW
    assert msg.metadata == {
        "source": "dm",
        "slack_channel": "D0CUST0001",
        "ts": "1764400101.000200",
    }


def test_a_reply_in_a_dm_thread_keeps_its_thread() -> None:
    body = payload("message_im")
    body["event"]["thread_ts"] = "1764400001.000100"
    msg = parse_event(body, bot_user_id=BOT_USER_ID, received_at=NOW)
    assert msg is not None and msg.metadata["thread_ts"] == "1764400001.000100"


def test_a_mention_loses_the_mention_of_the_bot() -> None:
    msg = parse_event(payload("app_mention"), bot_user_id=BOT_USER_ID, received_at=NOW)
    assert msg is not None
    assert msg.text == "do you ship to Norway?"
    assert msg.metadata["source"] == "mention"
    assert msg.metadata["slack_channel"] == "C0PARTNERS1"


def test_a_mention_with_nothing_else_is_not_a_message() -> None:
    body = payload("app_mention")
    body["event"]["text"] = f"<@{BOT_USER_ID}>"
    assert parse_event(body, bot_user_id=BOT_USER_ID, received_at=NOW) is None


def test_a_shared_photo_is_an_attachment() -> None:
    msg = parse_event(payload("file_share"), bot_user_id=BOT_USER_ID, received_at=NOW)
    assert msg is not None
    assert msg.text == "This arrived broken"
    assert msg.attachments == (
        Attachment(
            kind="photo",
            file_id="F0PHOTO0001",
            name="IMG_2041.jpg",
            mime_type="image/jpeg",
            url="https://files.slack.com/files-pri/T0SHOP0001-F0PHOTO0001/img_2041.jpg",
        ),
    )


@pytest.mark.parametrize(
    "name",
    [
        "message_changed",
        "message_deleted",
        "member_joined_channel",
        "bot_message",
        "own_post",
        "url_verification",
    ],
)
def test_what_is_not_a_customer_writing_parses_to_nothing(name: str) -> None:
    assert parse_event(payload(name), bot_user_id=BOT_USER_ID, received_at=NOW) is None


def test_a_message_in_a_channel_without_a_mention_is_not_for_the_bot() -> None:
    body = payload("message_im")
    body["event"]["channel_type"] = "channel"
    body["event"]["channel"] = "C0PARTNERS1"
    assert parse_event(body, bot_user_id=BOT_USER_ID, received_at=NOW) is None


def test_the_slash_command_maps_link_to_the_link_command() -> None:
    msg = parse_command(payload("slash_command"), received_at=NOW)
    assert msg is not None
    assert msg.text == "/link"
    assert msg.external_user_id == f"{TEAM_ID}:U0CUST0002"
    assert msg.external_event_id.startswith("command:8101234567891.")
    assert msg.display_name == "grace"
    assert msg.metadata == {"source": "command", "slack_channel": "C0PARTNERS1"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("link", "/link"),
        ("LINK 123456", "/link 123456"),
        ("where is my order?", "where is my order?"),
        ("linking my accounts?", "linking my accounts?"),
        ("my email is <mailto:a@b.example|a@b.example>", "my email is a@b.example"),
        ("   ", ""),
    ],
)
def test_command_text(text: str, message: str) -> None:
    assert command_text(text) == message


def test_another_command_or_no_text_is_not_a_message() -> None:
    assert parse_command({**payload("slash_command"), "text": ""}, received_at=NOW) is None
    assert parse_command({**payload("slash_command"), "command": "/other"}, received_at=NOW) is None


def test_a_quick_reply_click_is_the_reply_it_carries() -> None:
    msg = parse_action(payload("block_actions"), received_at=NOW)
    assert msg is not None
    assert msg.text == "Order 1043"
    assert msg.external_user_id == f"{TEAM_ID}:U0CUST0001"
    assert msg.external_event_id.startswith("action:1764400120.532101:")
    assert msg.metadata["slack_channel"] == "D0CUST0001"


def test_a_click_on_another_button_is_not_a_message() -> None:
    body = payload("block_actions")
    body["actions"][0]["action_id"] = "approve"
    assert parse_action(body, received_at=NOW) is None


def test_user_keys_round_trip() -> None:
    assert slack_user_id(user_key("T1", "U2")) == "U2"
    with pytest.raises(ValueError):
        slack_user_id("U2")


@pytest.mark.parametrize(
    ("slack", "plain"),
    [
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("mail <mailto:x@y.example|x@y.example>", "mail x@y.example"),
        ("see <https://shop.example/o/1|my order>", "see https://shop.example/o/1"),
        ("ask <@U0STAFF01|maria>", "ask @maria"),
        ("in <#C0PARTNERS1|partners>", "in #partners"),
        ("hey <!here>", "hey @here"),
        ("call <tel:+4712345678|+47 12 34 56 78>", "call +4712345678"),
    ],
)
def test_slack_text_becomes_what_the_customer_typed(slack: str, plain: str) -> None:
    assert to_plain(slack) == plain


def test_only_leading_mentions_of_the_bot_are_dropped() -> None:
    assert strip_mention("<@UBOT> <@UBOT>, hi <@UBOT>", "UBOT") == "hi <@UBOT>"
    assert strip_mention("<@UOTHER> hi", "UBOT") == "<@UOTHER> hi"


def test_outgoing_text_is_escaped_and_clipped() -> None:
    assert escape("5 < 6 & 7 > 3") == "5 &lt; 6 &amp; 7 &gt; 3"
    assert clip("abcdef", 4) == "abc…"
    assert clip("abc", 4) == "abc"
