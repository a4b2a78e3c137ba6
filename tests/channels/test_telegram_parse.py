"""Telegram updates of the platform's real shapes → InboundMessages (pure, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.messages import Attachment
from channels.telegram import bot_id_from_token, check_secret, parse_update
from channels.telegram.parse import CONTACT_TEXT, UpdateError
from tests.channels.fake_telegram import BOT_ID, CUSTOMER_CHAT, TOKEN, payload


def test_text_message_becomes_one_customer_message_keyed_by_bot_and_update() -> None:
    [msg] = parse_update(payload("text"), bot_id=BOT_ID)
    assert msg.channel == "telegram"
    assert msg.external_event_id == f"{BOT_ID}:811000101"
    assert msg.external_user_id == str(CUSTOMER_CHAT)
    assert msg.text == "Hi! Do you ship to Poland?"
    assert msg.display_name == "Marta Kowalska"
    assert msg.received_at == datetime.fromtimestamp(1763632800, UTC)
    assert msg.attachments == ()
    assert msg.metadata == {
        "update_id": 811000101,
        "message_id": 1201,
        "username": "marta_k",
        "language_code": "en",
    }


def test_photo_keeps_the_largest_size_and_the_caption_as_text() -> None:
    [msg] = parse_update(payload("photo"), bot_id=BOT_ID)
    assert msg.text == "The mug arrived broken"
    assert msg.attachments == (
        Attachment(kind="photo", file_id="AgACAgIAAxkBAAIBSmdPhotoLarge1280"),
    )


def test_document_keeps_file_id_name_and_type() -> None:
    [msg] = parse_update(payload("document"), bot_id=BOT_ID)
    assert msg.text == ""
    assert msg.attachments == (
        Attachment(
            kind="document",
            file_id="BQACAgIAAxkBAAIBS2dDocumentInvoice1042",
            name="invoice-1042.pdf",
            mime_type="application/pdf",
        ),
    )


def test_shared_contact_carries_the_phone_and_says_so_in_text() -> None:
    [msg] = parse_update(payload("contact"), bot_id=BOT_ID)
    assert msg.text == CONTACT_TEXT
    assert msg.attachments == (Attachment(kind="contact", phone="+48601234567"),)


def test_deep_link_start_arrives_as_the_command_text() -> None:
    [msg] = parse_update(payload("start_code"), bot_id=BOT_ID)
    assert msg.text == "/start K7Q2M9XW"


def test_location_is_a_map_link() -> None:
    update = payload("text")
    del update["message"]["text"]
    update["message"]["location"] = {"latitude": 52.2297, "longitude": 21.0122}
    [msg] = parse_update(update, bot_id=BOT_ID)
    assert msg.attachments[0].kind == "location"
    assert msg.attachments[0].url == "https://www.openstreetmap.org/?mlat=52.2297&mlon=21.0122"


@pytest.mark.parametrize(
    "name",
    ["edited_message", "channel_post", "callback_query", "service_message", "group_message"],
)
def test_updates_that_are_not_a_customer_writing_privately_are_ignored(name: str) -> None:
    assert parse_update(payload(name), bot_id=BOT_ID) == []


def test_messages_from_bots_are_ignored() -> None:
    update = payload("text")
    update["message"]["from"] = {"id": BOT_ID, "is_bot": True, "first_name": "Shop Support"}
    assert parse_update(update, bot_id=BOT_ID) == []


@pytest.mark.parametrize(
    "body",
    [
        [],
        "update",
        {"message": {"text": "no update id"}},
        {"update_id": "811000101"},
        {"update_id": True},
        {"update_id": 5, "message": "not an object"},
    ],
)
def test_bodies_that_are_not_updates_are_refused(body: object) -> None:
    with pytest.raises(UpdateError):
        parse_update(body, bot_id=BOT_ID)


def test_the_bot_id_is_the_token_prefix() -> None:
    assert bot_id_from_token(TOKEN) == BOT_ID
    for bad in ["", "no-colon", ":abc", "12x:abc", "123:"]:
        with pytest.raises(ValueError, match="TELEGRAM_BOT_TOKEN"):
            bot_id_from_token(bad)


def test_webhook_secret_must_be_1_to_256_url_safe_characters() -> None:
    assert check_secret("a") == "a"
    assert check_secret("A-z_9" * 51 + "x") == "A-z_9" * 51 + "x"
    with pytest.raises(ValueError, match="empty"):
        check_secret("")
    with pytest.raises(ValueError, match="at most 256"):
        check_secret("a" * 257)
    with pytest.raises(ValueError, match="A-Z, a-z, 0-9"):
        check_secret("has space")
    with pytest.raises(ValueError, match="A-Z, a-z, 0-9"):
        check_secret("pässword")
