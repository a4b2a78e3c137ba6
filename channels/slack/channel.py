"""Slack for customers: a shop's Slack app that customers write to, on slack-bolt.

Slack calls ``POST /webhooks/slack`` for events, interactivity and the slash command (or
delivers the same over Socket Mode when an app-level token is set). Each request is checked
(signature, then shape), run through bolt, and a customer's message is stored before bolt
answers: the listeners await the store and bolt acks only after them
(``process_before_response``). Deciding and replying happen later, in the worker and the outbox,
so the answer to Slack is fast whatever the reply costs. Slack's retries carry the same
``event_id`` and are dropped by the store's unique key.

The same Slack app also serves staff (handoff cards and threads in staff channels). Bolt runs
the first listener that matches, so the customer listeners refuse what :meth:`hand_over`
marks as someone else's: the staff listeners registered after them get it instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.messages import InboundMessage, OutboundMessage
from channels.slack.parse import (
    CHANNEL,
    COMMAND,
    QUICK_REPLY_ACTION,
    parse_action,
    parse_command,
    parse_event,
    slack_user_id,
)
from channels.slack.sender import Pacer, SlackSender
from channels.slack_common import (
    SLACK_API_URL,
    SlackWebApi,
    dispatch_to_bolt,
    read_checked_body,
    retry_number,
    signature_verifier,
)

log = logging.getLogger(__name__)

Ingest = Callable[[InboundMessage], Awaitable[bool]]
# True for a request (event envelope, interaction payload or slash command form) that is not
# a customer's: it comes from a staff channel or carries a staff action id.
RequestFilter = Callable[[Mapping[str, Any]], Awaitable[bool]]
WEBHOOK_PATH = "/webhooks/slack"
USAGE = (
    f"Write your question after the command, e.g. `{COMMAND} where is my order?`. "
    f"`{COMMAND} link` gives you a code to continue this conversation on another channel."
)
ANSWER_IN_DM = "Thanks! I'll answer in our direct messages."


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SocketConnection(Protocol):
    """What Threadline uses of bolt's Socket Mode handler."""

    async def connect_async(self) -> None: ...
    async def close_async(self) -> None: ...


class SlackChannel:
    """One adapter object: bolt app, webhook route, Socket Mode and the reply sender."""

    name = CHANNEL

    def __init__(
        self,
        *,
        bot_token: str,
        ingest: Ingest,
        signing_secret: str | None = None,
        app_token: str | None = None,
        api_url: str = SLACK_API_URL,
        clock: Callable[[], datetime] = _utcnow,
        pacer: Pacer | None = None,
    ) -> None:
        if not bot_token:
            raise ValueError("the Slack channel needs a bot token (xoxb-…)")
        if not app_token and not signing_secret:
            raise ValueError("the Slack channel needs a signing secret, or an app token")
        self.mode = "socket" if app_token else "http"
        self._app_token = app_token
        self._ingest = ingest
        self._clock = clock
        self._web = SlackWebApi(base_url=api_url)
        client = self._web.client(bot_token)
        self.sender = SlackSender(client, pacer=pacer)
        self._verifier = signature_verifier(signing_secret) if signing_secret else None
        self.bolt = AsyncApp(
            client=client,
            signing_secret=signing_secret or "",
            process_before_response=True,
            name="threadline-slack",
            logger=logging.getLogger("channels.slack.bolt"),
        )
        self._elsewhere: list[RequestFilter] = []
        customer = [self._is_customer_request]
        self.bolt.event(re.compile(r".*"), matchers=customer)(self._on_event)
        self.bolt.command(COMMAND, matchers=customer)(self._on_command)
        self.bolt.command(re.compile(r".*"), matchers=customer)(self._on_unknown_command)
        self.bolt.action(re.compile(rf"^{QUICK_REPLY_ACTION}"), matchers=customer)(
            self._on_quick_reply
        )
        self.bolt.action(re.compile(r".*"), matchers=customer)(self._on_other_action)
        self._socket: SocketConnection | None = None
        self._connecting: asyncio.Task[None] | None = None

    def hand_over(self, is_theirs: RequestFilter) -> None:
        """Leave requests for which ``is_theirs(body)`` holds to listeners registered later.

        Staff Slack calls this before it adds its own listeners to :attr:`bolt`: an event from
        a staff channel, a click on a staff button or ``/threadline`` typed in a staff channel
        is then never taken for a customer's message.
        """
        self._elsewhere.append(is_theirs)

    async def _is_customer_request(self, body: dict[str, Any]) -> bool:
        for is_theirs in self._elsewhere:
            if await is_theirs(body):
                return False
        return True

    def routes(self) -> list[web.AbstractRouteDef]:
        """The webhook in HTTP mode; nothing in Socket Mode (Slack sends no HTTP then)."""
        if self.mode == "socket" or self._verifier is None:
            return []
        return [web.post(WEBHOOK_PATH, self._webhook)]

    async def startup(self) -> None:
        await self._web.open()
        if self.mode == "socket" and self._connecting is None:
            self._connecting = asyncio.create_task(self._connect_socket(), name="slack-socket")

    async def shutdown(self) -> None:
        if self._connecting is not None:
            task, self._connecting = self._connecting, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._socket is not None:
            socket, self._socket = self._socket, None
            await socket.close_async()
        await self._web.close()

    async def _connect_socket(self) -> None:
        """Open the Socket Mode connection in the background.

        The SDK retries until Slack answers (and reconnects later by itself), so a Slack outage
        at start-up does not keep the rest of Threadline from starting.
        """
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler: SocketConnection = AsyncSocketModeHandler(self.bolt, self._app_token)
        self._socket = handler
        await handler.connect_async()
        log.info("slack: connected over Socket Mode")

    async def send(self, msg: OutboundMessage) -> str:
        return await self.sender.send(msg)

    # --- HTTP -----------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        assert self._verifier is not None
        checked = await read_checked_body(request, self._verifier)
        if isinstance(checked, web.Response):
            return checked
        return await dispatch_to_bolt(self.bolt, request, checked)

    # --- bolt listeners (each stores before it acks) ---------------------------

    async def _on_event(
        self,
        body: dict[str, Any],
        context: AsyncBoltContext,
        request: AsyncBoltRequest,
        ack: AsyncAck,
    ) -> None:
        msg = parse_event(body, bot_user_id=context.bot_user_id, received_at=self._clock())
        if msg is not None:
            if msg.metadata.get("source") == "dm":
                self._remember_dm(msg)
            await self._store(msg, retry=retry_number(request.headers))
        await ack()

    async def _on_command(self, body: dict[str, Any], ack: AsyncAck) -> None:
        msg = parse_command(body, received_at=self._clock())
        if msg is None:
            await ack(text=USAGE)
            return
        refused = await self._store(msg)
        if refused is not None:
            await ack(text=f"Sorry, I can't take that message: {refused}.")
            return
        dm = self.sender.direct_channels.get(slack_user_id(msg.external_user_id))
        if dm is not None and body.get("channel_id") == dm:
            await ack()
        else:
            await ack(text=ANSWER_IN_DM)

    async def _on_unknown_command(self, body: dict[str, Any], ack: AsyncAck) -> None:
        await ack(text=f"I only know {COMMAND}. {USAGE}")

    async def _on_quick_reply(self, body: dict[str, Any], ack: AsyncAck) -> None:
        msg = parse_action(body, received_at=self._clock())
        if msg is not None:
            if str(msg.metadata.get("slack_channel", "")).startswith("D"):
                self._remember_dm(msg)
            await self._store(msg)
        await ack()

    async def _on_other_action(self, ack: AsyncAck) -> None:
        await ack()

    async def _store(self, msg: InboundMessage, *, retry: int = 0) -> str | None:
        """Store ``msg``; None when stored (or already stored), else why it was refused.

        A refused message (empty, too long) is answered 200 so Slack does not retry what can
        never be stored; a storage failure raises, bolt answers 500 and Slack retries later.
        """
        try:
            is_new = await self._ingest(msg)
        except ValueError as exc:
            log.warning("slack: message %s refused: %s", msg.external_event_id, exc)
            return str(exc)
        if not is_new:
            log.info("slack: %s already stored (retry %d); dropped", msg.external_event_id, retry)
        return None

    def _remember_dm(self, msg: InboundMessage) -> None:
        channel = msg.metadata.get("slack_channel")
        if isinstance(channel, str) and channel:
            self.sender.direct_channels.remember(slack_user_id(msg.external_user_id), channel)
