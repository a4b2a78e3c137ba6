"""Message types shared by every channel and the pipeline.

Channels turn platform payloads into :class:`InboundMessage` and send
:class:`OutboundMessage`; nothing else crosses the boundary of ``channels/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Author(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    STAFF = "staff"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file, photo or shared contact that came with a message."""

    kind: str  # "photo" | "document" | "contact" | "location"
    file_id: str | None = None
    name: str | None = None
    mime_type: str | None = None
    url: str | None = None
    phone: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in {
                "kind": self.kind,
                "file_id": self.file_id,
                "name": self.name,
                "mime_type": self.mime_type,
                "url": self.url,
                "phone": self.phone,
            }.items()
            if v is not None
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attachment:
        return cls(
            kind=str(data["kind"]),
            file_id=data.get("file_id"),
            name=data.get("name"),
            mime_type=data.get("mime_type"),
            url=data.get("url"),
            phone=data.get("phone"),
        )


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One customer message, as a channel adapter parsed it.

    ``(channel, external_event_id)`` is unique per platform event: a redelivery
    carries the same pair and is dropped at ingest.
    """

    channel: str
    external_event_id: str
    external_user_id: str
    text: str
    received_at: datetime
    attachments: tuple[Attachment, ...] = ()
    display_name: str | None = None
    # Identity asserted by the channel itself (e.g. an HMAC-verified shop login).
    verified_customer_ref: str | None = None
    verified_email: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to deliver to a customer on a channel."""

    channel: str
    external_user_id: str
    text: str
    conversation_id: int
    message_id: int
    author: Author = Author.BOT
    quick_replies: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Turn:
    """One stored message of a conversation, as a channel replays it to the customer."""

    message_id: int
    author: Author
    channel: str
    text: str
    created_at: datetime


class SendError(Exception):
    """A channel could not deliver an :class:`OutboundMessage`.

    ``retry_after`` (seconds) is the platform's own hint (HTTP 429); ``permanent``
    means retrying cannot help (the customer blocked the bot, the chat is gone).
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent
