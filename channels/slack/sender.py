"""Replies to Slack customers: ``chat.postMessage`` in the customer's direct messages.

A reply goes to the customer's DM with the app, whether they wrote there, mentioned the app in
a channel or used the slash command: order details stay private. The DM channel id comes from
the customer's own messages when this process saw one, else from ``conversations.open`` (which
returns the existing DM). Slack allows about one message per second per channel; the sender
paces itself and turns Slack's errors into :class:`SendError` for the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.messages import OutboundMessage, SendError
from channels.slack.parse import QUICK_REPLY_ACTION, slack_user_id
from channels.slack.text import MAX_SECTION_CHARS, MAX_TEXT_CHARS, clip, escape
from channels.slack_common import call_web_api

log = logging.getLogger(__name__)

# The customer or the conversation is gone for good: retrying cannot help.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "account_inactive",
        "is_archived",
        "user_not_found",
        "user_disabled",
        "users_not_found",
        "cannot_dm_bot",
        "messages_tab_disabled",
    }
)
PER_CHANNEL_INTERVAL_S = 1.0
MAX_QUICK_REPLIES = 5
MAX_BUTTON_CHARS = 75
_CACHE_SIZE = 10_000


class Pacer:
    """At most one call per ``interval`` seconds for each key (Slack: per channel)."""

    def __init__(
        self,
        interval: float = PER_CHANNEL_INTERVAL_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, key: str) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            now = self._clock()
            ready = self._next.get(key, now)
            if ready > now:
                await self._sleep(ready - now)
                now = self._clock()
            self._next[key] = max(now, ready) + self._interval
        if len(self._next) > _CACHE_SIZE:
            self._forget_idle()

    def _forget_idle(self) -> None:
        now = self._clock()
        for key in [k for k, ready in self._next.items() if ready <= now]:
            self._next.pop(key, None)
            lock = self._locks.get(key)
            if lock is not None and not lock.locked():
                del self._locks[key]


class DirectChannels:
    """Slack user id → the id of their DM channel with the app (bounded, most recent kept)."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._ids: OrderedDict[str, str] = OrderedDict()

    def remember(self, user_id: str, channel_id: str) -> None:
        self._ids[user_id] = channel_id
        self._ids.move_to_end(user_id)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)

    def get(self, user_id: str) -> str | None:
        return self._ids.get(user_id)

    def forget(self, user_id: str) -> None:
        self._ids.pop(user_id, None)


class SlackSender:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        pacer: Pacer | None = None,
        direct_channels: DirectChannels | None = None,
    ) -> None:
        self._client = client
        self._pacer = pacer or Pacer()
        self.direct_channels = direct_channels or DirectChannels()

    async def send(self, msg: OutboundMessage) -> str:
        """Post ``msg`` in the customer's DM; return the message ``ts``."""
        try:
            user = slack_user_id(msg.external_user_id)
        except ValueError as exc:
            raise SendError(str(exc), permanent=True) from None
        known = self.direct_channels.get(user)
        channel = known or await self._open_dm(user)
        try:
            return await self._post(channel, msg)
        except SendError as exc:
            if known is None or not exc.permanent:
                raise
        # The remembered DM is gone (e.g. the app was reinstalled): ask Slack once more.
        self.direct_channels.forget(user)
        fresh = await self._open_dm(user)
        return await self._post(fresh, msg)

    async def _open_dm(self, user: str) -> str:
        response = await self._call(
            "conversations.open", self._client.conversations_open, users=user
        )
        channel = (response.get("channel") or {}).get("id")
        if not isinstance(channel, str) or not channel:
            raise SendError("conversations.open returned no channel id")
        self.direct_channels.remember(user, channel)
        return channel

    async def _post(self, channel: str, msg: OutboundMessage) -> str:
        await self._pacer.wait(channel)
        text = clip(escape(msg.text), MAX_TEXT_CHARS)
        args: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if msg.quick_replies:
            args["blocks"] = reply_blocks(msg.text, msg.quick_replies, msg.message_id)
        response = await self._call("chat.postMessage", self._client.chat_postMessage, **args)
        ts = response.get("ts")
        if not isinstance(ts, str) or not ts:
            raise SendError("chat.postMessage returned no ts")
        return ts

    async def _call(
        self, method: str, call: Callable[..., Awaitable[AsyncSlackResponse]], **kwargs: Any
    ) -> dict[str, Any]:
        return await call_web_api(method, call, permanent=PERMANENT_ERRORS, **kwargs)


def reply_blocks(
    text: str, quick_replies: tuple[str, ...], message_id: int
) -> list[dict[str, Any]]:
    """The reply as a section, its quick replies as buttons that answer with their label."""
    buttons = [
        {
            "type": "button",
            "action_id": f"{QUICK_REPLY_ACTION}_{index}",
            "text": {"type": "plain_text", "text": clip(label, MAX_BUTTON_CHARS), "emoji": True},
            "value": clip(label, 2000),
        }
        for index, label in enumerate(quick_replies[:MAX_QUICK_REPLIES])
    ]
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(escape(text), MAX_SECTION_CHARS)},
        },
        {"type": "actions", "block_id": f"quick_replies_{message_id}", "elements": buttons},
    ]
