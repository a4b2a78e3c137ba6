"""Telegram updates → :class:`InboundMessage`: a pure function of the update and the bot id.

Only new messages in private chats become customer messages. Edited messages,
channel posts, callback queries, group chats, service messages (joins, pins, …)
and messages sent by bots are ignored: they parse to an empty list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType

from bot.messages import Attachment, InboundMessage

CHANNEL = "telegram"
CONTACT_TEXT = "(shared a contact)"
LOCATION_TEXT = "(shared a location)"

_TOKEN = re.compile(r"^(?P<bot_id>[0-9]{1,20}):[A-Za-z0-9_-]{1,200}$")


class UpdateError(ValueError):
    """The body is not a Telegram update (the webhook answers 400)."""


def bot_id_from_token(token: str) -> int:
    """The bot's own id: the part of a BotFather token before the colon."""
    match = _TOKEN.match(token.strip())
    if match is None:
        raise ValueError("a Telegram bot token looks like 123456789:AAH…; check TELEGRAM_BOT_TOKEN")
    return int(match["bot_id"])


def update_from_json(data: object) -> Update:
    """Validate the outer shape and build the SDK's Update (raises :class:`UpdateError`)."""
    if not isinstance(data, Mapping):
        raise UpdateError("the body must be a JSON object (a Telegram Update)")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise UpdateError("the update has no integer update_id")
    try:
        return Update.de_json(dict(data), None)
    except Exception as exc:  # the SDK raises whatever the bad field provokes
        raise UpdateError(f"the update does not have Telegram's shape: {exc}") from exc


def parse_update(data: object, *, bot_id: int) -> list[InboundMessage]:
    """Pure: the customer messages in one update's JSON (usually one, often none)."""
    return messages_of(update_from_json(data), bot_id=bot_id)


def messages_of(update: Update, *, bot_id: int) -> list[InboundMessage]:
    """The customer messages in an SDK Update (the webhook and long polling share this)."""
    message = update.message  # new messages only: edits and channel posts are other fields
    if message is None or message.chat.type != ChatType.PRIVATE:
        return []
    sender = message.from_user
    if sender is None or sender.is_bot or sender.id == bot_id:
        return []
    text, attachments = _content(message)
    if not text and not attachments:
        return []  # a service message: nothing a customer said
    chat = message.chat
    metadata: dict[str, Any] = {"update_id": update.update_id, "message_id": message.message_id}
    if sender.username:
        metadata["username"] = sender.username
    if sender.language_code:
        metadata["language_code"] = sender.language_code
    return [
        InboundMessage(
            channel=CHANNEL,
            external_event_id=f"{bot_id}:{update.update_id}",
            external_user_id=str(chat.id),
            text=text,
            received_at=_aware(message.date),
            attachments=tuple(attachments),
            display_name=sender.full_name or None,
            metadata=metadata,
        )
    ]


def _content(message: Message) -> tuple[str, list[Attachment]]:
    text = (message.text or message.caption or "").strip()
    attachments: list[Attachment] = []
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        attachments.append(Attachment(kind="photo", file_id=largest.file_id))
    if message.document is not None:
        doc = message.document
        attachments.append(
            Attachment(
                kind="document",
                file_id=doc.file_id,
                name=doc.file_name,
                mime_type=doc.mime_type,
            )
        )
    for kind, media in (
        ("video", message.video),
        ("audio", message.audio),
        ("voice", message.voice),
        ("video_note", message.video_note),
    ):
        if media is not None:
            attachments.append(
                Attachment(
                    kind=kind,
                    file_id=media.file_id,
                    name=getattr(media, "file_name", None),
                    mime_type=getattr(media, "mime_type", None),
                )
            )
    if message.contact is not None:
        attachments.append(Attachment(kind="contact", phone=message.contact.phone_number))
        text = text or CONTACT_TEXT
    if message.location is not None:
        loc = message.location
        url = f"https://www.openstreetmap.org/?mlat={loc.latitude}&mlon={loc.longitude}"
        attachments.append(Attachment(kind="location", url=url))
        text = text or LOCATION_TEXT
    if not text and message.sticker is not None and message.sticker.emoji:
        text = message.sticker.emoji
    return text, attachments


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
