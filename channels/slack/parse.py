"""Slack payloads → :class:`InboundMessage`: pure functions, no I/O.

What a customer says reaches Threadline three ways: a direct message to the app
(``message.im``), a mention of the app in a channel (``app_mention``), and the slash command
``/threadline …``; a click on a quick-reply button is a message too. Everything else Slack
sends (edits, deletes, joins, other bots, the app's own posts) is not a customer message and
parses to None.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.messages import Attachment, InboundMessage
from channels.slack.text import strip_mention, to_plain
from channels.slack_common import event_key

CHANNEL = "slack"
COMMAND = "/threadline"
# `/threadline link 123` is the pipeline's `/link 123`; anything else is a plain question.
SUBCOMMANDS = frozenset({"link"})
QUICK_REPLY_ACTION = "quick_reply"
# Message subtypes that are still a person writing: a plain message, one with files.
_CUSTOMER_SUBTYPES = frozenset({None, "file_share"})


def user_key(team_id: str, user_id: str) -> str:
    """The external user id Threadline stores for a Slack user of a workspace."""
    return f"{team_id}:{user_id}"


def slack_user_id(external_user_id: str) -> str:
    """The Slack user id (``U…``) inside an external user id made by :func:`user_key`."""
    team, sep, user = external_user_id.partition(":")
    if not sep or not team or not user:
        raise ValueError(f"not a Slack user key: {external_user_id!r}")
    return user


def parse_event(
    body: Mapping[str, Any], *, bot_user_id: str | None, received_at: datetime
) -> InboundMessage | None:
    """One Events API envelope → a customer message, or None when it is not one."""
    if body.get("type") != "event_callback":
        return None
    event = body.get("event") or {}
    event_id = event_key(body)
    team_id = body.get("team_id") or event.get("team")
    user = event.get("user")
    if not event_id or not team_id or not isinstance(user, str) or not user:
        return None
    if event.get("bot_id") or event.get("bot_profile") or user == bot_user_id:
        return None
    kind = event.get("type")
    if kind == "message":
        if event.get("channel_type") != "im" or event.get("hidden"):
            return None
        if event.get("subtype") not in _CUSTOMER_SUBTYPES:
            return None
        source = "dm"
    elif kind == "app_mention":
        if event.get("subtype") not in _CUSTOMER_SUBTYPES or event.get("edited"):
            return None
        source = "mention"
    else:
        return None
    text = to_plain(strip_mention(str(event.get("text") or ""), bot_user_id))
    attachments = tuple(_attachment(f) for f in event.get("files") or () if isinstance(f, dict))
    if not text and not attachments:
        return None
    return InboundMessage(
        channel=CHANNEL,
        external_event_id=event_id,
        external_user_id=user_key(str(team_id), user),
        text=text,
        received_at=received_at,
        attachments=attachments,
        metadata=_metadata(
            source,
            channel=event.get("channel"),
            ts=event.get("ts"),
            thread_ts=event.get("thread_ts"),
        ),
    )


def parse_command(form: Mapping[str, Any], *, received_at: datetime) -> InboundMessage | None:
    """``/threadline <text>`` → a customer message; None when there is nothing to say."""
    key = event_key(form)
    team_id, user = form.get("team_id"), form.get("user_id")
    if form.get("command") != COMMAND or not key or not team_id or not user:
        return None
    text = command_text(str(form.get("text") or ""))
    if not text:
        return None
    return InboundMessage(
        channel=CHANNEL,
        external_event_id=key,
        external_user_id=user_key(str(team_id), str(user)),
        text=text,
        received_at=received_at,
        display_name=form.get("user_name") or None,
        metadata=_metadata("command", channel=form.get("channel_id")),
    )


def command_text(text: str) -> str:
    """What ``/threadline <text>`` says: ``link 123`` → ``/link 123``; else the text."""
    text = to_plain(text)
    word, _, rest = text.partition(" ")
    if word.lower() in SUBCOMMANDS:
        return f"/{word.lower()} {rest.strip()}".strip()
    return text


def parse_action(payload: Mapping[str, Any], *, received_at: datetime) -> InboundMessage | None:
    """A click on one of our quick-reply buttons → the reply it carries, as a message."""
    if payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions") or []
    action = actions[0] if actions and isinstance(actions[0], dict) else {}
    key = event_key(payload)
    team_id = (payload.get("team") or {}).get("id") or (payload.get("user") or {}).get("team_id")
    user = (payload.get("user") or {}).get("id")
    value = action.get("value")
    if not str(action.get("action_id", "")).startswith(QUICK_REPLY_ACTION):
        return None
    if not key or not team_id or not user or not isinstance(value, str) or not value.strip():
        return None
    channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get(
        "channel_id"
    )
    return InboundMessage(
        channel=CHANNEL,
        external_event_id=key,
        external_user_id=user_key(str(team_id), str(user)),
        text=value.strip(),
        received_at=received_at,
        metadata=_metadata(
            "button", channel=channel, ts=(payload.get("container") or {}).get("message_ts")
        ),
    )


def _attachment(file: Mapping[str, Any]) -> Attachment:
    mime = file.get("mimetype") or None
    return Attachment(
        kind="photo" if str(mime or "").startswith("image/") else "document",
        file_id=file.get("id"),
        name=file.get("name") or file.get("title"),
        mime_type=mime,
        url=file.get("url_private"),
    )


def _metadata(source: str, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"source": source}
    for name, value in fields.items():
        if value:
            meta["slack_channel" if name == "channel" else name] = str(value)
    return meta


def request_channel(body: Mapping[str, Any]) -> str | None:
    """The Slack channel id a request happened in, whatever its kind; None when it has none.

    Events carry it in ``event.channel``, interactions in ``channel.id`` (or the container),
    slash commands in ``channel_id``. Used to route requests from staff channels away from
    the customer listeners.
    """
    event = body.get("event")
    if isinstance(event, Mapping):
        channel = event.get("channel")
        if isinstance(channel, Mapping):  # channel_created and friends carry an object
            channel = channel.get("id")
        return str(channel) if channel else None
    found = body.get("channel")
    if isinstance(found, Mapping) and found.get("id"):
        return str(found["id"])
    container = body.get("container")
    if isinstance(container, Mapping) and container.get("channel_id"):
        return str(container["channel_id"])
    if body.get("channel_id"):
        return str(body["channel_id"])
    return None
