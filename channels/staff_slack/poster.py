"""Posting to staff channels through the Slack Web API.

The card opens a handoff's thread (``chat.postMessage``) and is edited in place when the
handoff changes (``chat.update``); turns, notices and reminders are thread replies; refusals
are told to one person only (``chat.postEphemeral``). Slack's failures become
:class:`bot.messages.SendError`, so the staff post sender decides when to try again: 429
carries Slack's ``Retry-After``, a missing channel or a card that is gone is permanent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.messages import SendError
from channels.slack_common import call_web_api
from channels.staff_slack.card import card_blocks, card_text
from channels.staff_slack.thread_lines import notice_line, repost_line, turn_line

log = logging.getLogger(__name__)

PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "msg_too_long",
        "invalid_blocks",
    }
)
_INVITE = (
    "invite the app to the staff channel (/invite @Threadline) or fix SLACK_STAFF_CHANNEL / "
    "the queue's slack_channel"
)
CHANNEL_HINTS = {"channel_not_found": _INVITE, "not_in_channel": _INVITE}


class SlackStaffPoster:
    """Everything Threadline posts to staff channels, on one Web API client."""

    def __init__(self, client: AsyncWebClient, *, mention: str = "<!here>") -> None:
        self._client = client
        self._mention = mention

    async def post_card(self, channel: str, card: Mapping[str, Any]) -> str:
        """Post a handoff's card; its ``ts`` is the handoff's thread from now on."""
        response = await self._call(
            "chat.postMessage",
            self._client.chat_postMessage,
            channel=channel,
            text=card_text(card),
            blocks=card_blocks(card),
            unfurl_links=False,
        )
        return _ts(response, "chat.postMessage")

    async def update_card(self, channel: str, ts: str, card: Mapping[str, Any]) -> None:
        await self._call(
            "chat.update",
            self._client.chat_update,
            channel=channel,
            ts=ts,
            text=card_text(card),
            blocks=card_blocks(card),
        )

    async def post_turn(self, channel: str, thread_ts: str, turn: Mapping[str, Any]) -> str:
        return await self._reply(channel, thread_ts, turn_line(turn))

    async def post_repost(
        self, channel: str, thread_ts: str, card: Mapping[str, Any], *, waited: timedelta
    ) -> str:
        """The reminder, broadcast to the channel so the mention reaches people."""
        text = repost_line(card, mention=self._mention, waited=waited)
        return await self._reply(channel, thread_ts, text, broadcast=True)

    async def post_notice(self, channel: str, thread_ts: str, text: str) -> str:
        return await self._reply(channel, thread_ts, notice_line(text))

    async def tell(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        """A message only ``user`` sees; failures are logged (the action itself stands)."""
        args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            args["thread_ts"] = thread_ts
        try:
            await self._call("chat.postEphemeral", self._client.chat_postEphemeral, **args)
        except SendError as exc:
            log.warning("staff slack: could not tell %s in %s: %s", user, channel, exc.reason)

    async def _reply(
        self, channel: str, thread_ts: str, text: str, *, broadcast: bool = False
    ) -> str:
        args: dict[str, Any] = {
            "channel": channel,
            "thread_ts": thread_ts,
            "text": text,
            "unfurl_links": False,
        }
        if broadcast:
            args["reply_broadcast"] = True
        response = await self._call("chat.postMessage", self._client.chat_postMessage, **args)
        return _ts(response, "chat.postMessage")

    async def _call(
        self, method: str, call: Callable[..., Awaitable[AsyncSlackResponse]], **kwargs: Any
    ) -> dict[str, Any]:
        return await call_web_api(
            method, call, permanent=PERMANENT_ERRORS, hints=CHANNEL_HINTS, **kwargs
        )


def _ts(response: Mapping[str, Any], method: str) -> str:
    ts = response.get("ts")
    if not isinstance(ts, str) or not ts:
        raise SendError(f"{method} returned no ts")
    return ts
