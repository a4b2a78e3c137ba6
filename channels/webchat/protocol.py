"""The web-chat wire protocol: JSON text frames, validated strictly.

Client → server::

    {"type": "hello", "session": "<token>"}
    {"type": "hello", "customer": {"id": "<shop customer id>", "hmac": "<hex>"}}
    {"type": "message", "text": "...", "client_id": "<uuid>"}

Server → client: ``ready`` (with ``continue_on: ["telegram"]`` when the visitor can
continue on Telegram: see ``continue_elsewhere.py``), ``history``, ``ack``, ``message``
and ``error`` frames (built by the ``*_frame`` functions below). Anything else from the
client is a :class:`ProtocolError`, which names what was wrong.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.messages import OutboundMessage, Turn

CLOSE_BAD_INPUT = 4400
CLOSE_UNAUTHORIZED = 4401


class ProtocolError(ValueError):
    """A frame the server cannot accept; the connection is closed with 4400."""


class TextRejected(ValueError):
    """A well-formed message whose text cannot be stored; the connection stays open."""

    def __init__(self, reason: str, client_id: str) -> None:
        super().__init__(reason)
        self.client_id = client_id


@dataclass(frozen=True, slots=True)
class SessionHello:
    token: str


@dataclass(frozen=True, slots=True)
class CustomerHello:
    customer_id: str
    hmac: str


@dataclass(frozen=True, slots=True)
class ChatText:
    text: str
    client_id: str  # canonical lower-case UUID


Hello = SessionHello | CustomerHello
ClientFrame = SessionHello | CustomerHello | ChatText


def _require_str(obj: dict[str, Any], key: str, where: str) -> str:
    if key not in obj:
        raise ProtocolError(f"{where} is missing the field {key!r}")
    value = obj[key]
    if not isinstance(value, str):
        raise ProtocolError(f"{where} field {key!r} must be a string")
    return value


def _only_fields(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ProtocolError(f"{where} has unknown field(s): {', '.join(unknown)}")


def _parse_hello(obj: dict[str, Any]) -> Hello:
    has_session, has_customer = "session" in obj, "customer" in obj
    if has_session == has_customer:
        raise ProtocolError("hello needs exactly one of 'session' or 'customer'")
    if has_session:
        _only_fields(obj, {"type", "session"}, "hello")
        return SessionHello(token=_require_str(obj, "session", "hello"))
    _only_fields(obj, {"type", "customer"}, "hello")
    customer = obj["customer"]
    if not isinstance(customer, dict):
        raise ProtocolError("hello field 'customer' must be an object with 'id' and 'hmac'")
    _only_fields(customer, {"id", "hmac"}, "hello customer")
    return CustomerHello(
        customer_id=_require_str(customer, "id", "hello customer"),
        hmac=_require_str(customer, "hmac", "hello customer"),
    )


def _check_text(text: str, client_id: str, max_chars: int) -> str:
    if not text.strip():
        raise TextRejected("text is empty", client_id)
    if len(text) > max_chars:
        raise TextRejected(f"text is longer than {max_chars} characters", client_id)
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in text):
        raise TextRejected("text contains control characters", client_id)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TextRejected("text is not valid Unicode", client_id) from None
    return text.strip()


def _parse_message(obj: dict[str, Any], max_chars: int) -> ChatText:
    _only_fields(obj, {"type", "text", "client_id"}, "message")
    raw_id = _require_str(obj, "client_id", "message")
    text = _require_str(obj, "text", "message")
    try:
        client_id = str(uuid.UUID(raw_id))
    except ValueError:
        raise ProtocolError("message field 'client_id' must be a UUID") from None
    return ChatText(text=_check_text(text, client_id, max_chars), client_id=client_id)


def parse_client_frame(data: str, *, max_chars: int) -> ClientFrame:
    """Parse one text frame; raise :class:`ProtocolError` or :class:`TextRejected`."""
    try:
        obj = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("frame must be a JSON object")
    kind = obj.get("type")
    if kind == "hello":
        return _parse_hello(obj)
    if kind == "message":
        return _parse_message(obj, max_chars)
    if "type" not in obj:
        raise ProtocolError("frame is missing the field 'type'")
    raise ProtocolError(f"unknown frame type {kind!r}; expected 'hello' or 'message'")


def _iso(at: datetime) -> str:
    return at.isoformat()


def ready_frame(
    user: str, *, verified: bool, max_chars: int, continue_on: list[str] | None = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "ready",
        "user": user,
        "verified": verified,
        "max_chars": max_chars,
    }
    if continue_on:
        frame["continue_on"] = continue_on  # channels the widget may offer to continue on
    return frame


def history_frame(turns: list[Turn]) -> dict[str, Any]:
    return {
        "type": "history",
        "messages": [
            {
                "id": t.message_id,
                "author": t.author.value,
                "channel": t.channel,
                "text": t.text,
                "created_at": _iso(t.created_at),
            }
            for t in turns
        ],
    }


def ack_frame(client_id: str, *, duplicate: bool) -> dict[str, Any]:
    return {"type": "ack", "client_id": client_id, "duplicate": duplicate}


def message_frame(
    *,
    message_id: int | None,
    author: str,
    text: str,
    created_at: datetime,
    client_id: str | None = None,
    quick_replies: list[str] | None = None,
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "message",
        "id": message_id,
        "author": author,
        "text": text,
        "created_at": _iso(created_at),
    }
    if client_id is not None:
        frame["client_id"] = client_id
    if quick_replies:
        frame["quick_replies"] = quick_replies
    return frame


def quick_replies_of(msg: OutboundMessage) -> list[str]:
    """The reply's quick replies: its own field, else ``metadata["quick_replies"]``."""
    if msg.quick_replies:
        return list(msg.quick_replies)
    raw = msg.metadata.get("quick_replies")
    if isinstance(raw, list | tuple):
        return [item for item in raw if isinstance(item, str) and item.strip()]
    return []


def error_frame(reason: str, *, client_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "reason": reason}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame
