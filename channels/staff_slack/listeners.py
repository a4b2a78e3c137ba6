"""Staff in Slack: the bolt listeners for card buttons, thread replies and commands.

They run on the customer Slack channel's bolt app (one app, one webhook, one Socket Mode
connection) and take every request from a staff channel or with a staff action id; the
customer listeners leave those alone (:meth:`SlackChannel.hand_over`).

The safe note rule decides where a thread message goes: it reaches the customer only when
its author is the person who claimed the handoff and it does not start with ``//``. Anything
else a person writes in the thread (a colleague, the claimer's ``//`` lines, anything before
a claim) is kept as an internal note. Bot posts, edits, deletes and joins are ignored, so
nothing Threadline posts can come back as a reply.

Every request is remembered by Slack's idempotency key before it acts, so a retry
(``X-Slack-Retry-Num``) acts once; when handling fails unexpectedly the key is forgotten and
bolt answers 500, so Slack's retry gets its chance.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from channels.slack.parse import COMMAND, request_channel
from channels.slack.text import strip_mention, to_plain
from channels.slack_common import event_key
from channels.staff_slack.card import (
    ACTION_PREFIX,
    CLAIM_ACTION,
    HANDBACK_ACTION,
    RESOLVE_ACTION,
)
from channels.staff_slack.commands import (
    SLASH_USAGE,
    THREAD_USAGE,
    CommandError,
    StaffCommand,
    parse_staff_command,
)
from channels.staff_slack.staff_users import StaffUsers

log = logging.getLogger(__name__)

NOTE_MARKER = "//"
NO_FILES = "Files are not passed on to the customer; paste a link in your reply instead."
# Message subtypes that are a person writing; everything else (edits, deletes, joins) is not.
_PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
_BUTTON_VERBS = {CLAIM_ACTION: "claim", RESOLVE_ACTION: "resolve", HANDBACK_ACTION: "handback"}
_DONE = {
    "claim": "You claimed handoff {id}. Reply in its thread to write to the customer; "
    "start a line with // to keep it as a note.",
    "resolve": "Handoff {id} is resolved; the customer was asked for a rating.",
    "handback": "Handoff {id} is back with the bot; the customer was told.",
    "assign": "Handoff {id} is now {to}'s.",
}


class StaffRefused(Exception):
    """The action cannot be done; the message says why, for the person who tried."""


@dataclass(frozen=True, slots=True)
class HandoffSummary:
    id: int
    state: str
    claimed_by: str | None


# act(verb, handoff id, staff name, text): verb is claim | resolve | handback | assign (text:
# the staff name to assign to) | reply | note (text: the message). Raises StaffRefused.
Act = Callable[[str, int, str, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StaffBackend:
    """What the listeners need from Threadline, as plain async functions (wired in ``bot``)."""

    act: Act
    handoff_for_thread: Callable[[str, str], Awaitable[int | None]]
    summary: Callable[[int], Awaitable[HandoffSummary | None]]
    open_handoffs: Callable[[], Awaitable[list[HandoffSummary]]]
    remember: Callable[[str, str], Awaitable[bool]]  # (event key, Slack user) → new?
    forget: Callable[[str], Awaitable[None]]


class Teller(Protocol):
    async def tell(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> None: ...


class StaffSlackListeners:
    def __init__(
        self,
        *,
        backend: StaffBackend,
        users: StaffUsers,
        staff_channels: Callable[[], Collection[str]],
        teller: Teller,
    ) -> None:
        self._backend = backend
        self._users = users
        self._staff_channels = staff_channels
        self._teller = teller

    async def is_staff_request(self, body: Mapping[str, Any]) -> bool:
        """From a staff channel, a click on a staff button, or in a handoff card's thread
        (wherever the card is: a queue's channel may have left the policy since)."""
        if body.get("type") == "block_actions":
            for action in body.get("actions") or ():
                if str(action.get("action_id", "")).startswith(ACTION_PREFIX):
                    return True
        channel = request_channel(body)
        if channel is None:
            return False
        if channel in self._staff_channels():
            return True
        event = body.get("event")
        if not isinstance(event, Mapping) or not event.get("thread_ts"):
            return False
        if event.get("channel_type") == "im":
            return False  # a customer's direct message: cards are never there, no lookup
        return await self._backend.handoff_for_thread(channel, str(event["thread_ts"])) is not None

    def register(self, app: AsyncApp) -> None:
        """Add the staff listeners to ``app`` (after the customer channel handed them over)."""
        staff = [self._matches]
        app.action(re.compile(rf"^{ACTION_PREFIX}"))(self._on_button)
        app.action(re.compile(r".*"), matchers=staff)(self._ack_only)
        app.event(re.compile(r".*"), matchers=staff)(self._on_event)
        app.command(COMMAND, matchers=staff)(self._on_command)
        app.command(re.compile(r".*"), matchers=staff)(self._on_other_command)

    async def _matches(self, body: dict[str, Any]) -> bool:
        return await self.is_staff_request(body)

    # --- buttons on the card ------------------------------------------------------------

    async def _on_button(self, body: dict[str, Any], ack: AsyncAck) -> None:
        action = (body.get("actions") or [{}])[0]
        verb = _BUTTON_VERBS.get(str(action.get("action_id")))
        user = str((body.get("user") or {}).get("id") or "")
        channel = request_channel(body)
        if verb is not None and user and channel and str(action.get("value", "")).isdigit():
            handoff_id = int(action["value"])
            staff = self._users.name_for(user)
            if staff is None:
                await self._teller.tell(channel, user, self._users.refusal(user))
            else:
                refused = await self._once(body, user, self._act(verb, handoff_id, staff))
                if refused:
                    await self._teller.tell(channel, user, refused)
        await ack()

    async def _ack_only(self, ack: AsyncAck) -> None:
        await ack()

    # --- thread messages and mentions ---------------------------------------------------

    async def _on_event(
        self, body: dict[str, Any], context: AsyncBoltContext, ack: AsyncAck
    ) -> None:
        event = body.get("event") or {}
        if body.get("type") == "event_callback" and _from_a_person(event, context.bot_user_id):
            if event.get("type") == "app_mention":
                await self._on_mention(body, event, context.bot_user_id)
            elif event.get("type") == "message" and not _mentions(event, context.bot_user_id):
                await self._on_thread_message(body, event)
        await ack()

    async def _on_thread_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        channel, user = str(event.get("channel") or ""), str(event["user"])
        thread = event.get("thread_ts")
        if not channel or not thread or thread == event.get("ts"):
            return  # chatter in the channel, not in a handoff's thread
        text = to_plain(str(event.get("text") or ""))
        handoff_id = await self._backend.handoff_for_thread(channel, str(thread))
        if handoff_id is None:
            return
        if not text:
            if event.get("files"):
                await self._teller.tell(channel, user, NO_FILES, thread_ts=thread)
            return
        staff = self._users.name_for(user)
        if staff is None:
            await self._teller.tell(channel, user, self._users.refusal(user), thread_ts=thread)
            return
        relay = self._relay(handoff_id, staff, text)
        if event.get("files"):  # the text goes on; the author learns the files did not
            relay = _adding(relay, NO_FILES)
        said = await self._once(body, user, relay)
        if said:
            await self._teller.tell(channel, user, said, thread_ts=thread)

    def _relay(self, handoff_id: int, staff: str, text: str) -> Callable[[], Awaitable[str]]:
        """The safe note rule; returns what to tell the author privately ("" for nothing)."""

        async def relay() -> str:
            summary = await self._backend.summary(handoff_id)
            if summary is None:
                return ""
            is_note = text.startswith(NOTE_MARKER)
            body = text[len(NOTE_MARKER) :].strip() if is_note else text
            told = ""
            if not is_note and summary.state == "claimed" and summary.claimed_by == staff:
                try:
                    await self._backend.act("reply", handoff_id, staff, body)
                    return ""
                except StaffRefused as exc:
                    told = f"Not sent to the customer: {_sentence(str(exc))} "
            elif not is_note and summary.state == "waiting":
                told = (
                    f"Not sent to the customer: claim handoff {handoff_id} first (the Claim "
                    "button or `@Threadline claim`), then write again. "
                )
            try:
                await self._backend.act("note", handoff_id, staff, body)
            except StaffRefused as exc:
                why = _sentence(str(exc))
                return f"{told}Not kept as a note either: {why}" if told else f"Not stored: {why}"
            return f"{told}Kept as an internal note." if told else ""

        return relay

    async def _on_mention(
        self, body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None
    ) -> None:
        channel, user = str(event.get("channel") or ""), str(event["user"])
        thread = event.get("thread_ts")
        text = strip_mention(str(event.get("text") or ""), bot_user_id)
        staff = self._users.name_for(user)
        if staff is None:
            await self._teller.tell(channel, user, self._users.refusal(user), thread_ts=thread)
            return
        try:
            command = parse_staff_command(text, usage=THREAD_USAGE)
            handoff_id = command.handoff_id
            if handoff_id is None and thread:
                handoff_id = await self._backend.handoff_for_thread(channel, str(thread))
            if handoff_id is None:
                raise CommandError(f"Write that in a handoff's thread. {THREAD_USAGE}")
            to = self._assignee(command)
        except CommandError as exc:
            await self._teller.tell(channel, user, str(exc), thread_ts=thread)
            return
        refused = await self._once(body, user, self._act(command.verb, handoff_id, staff, to))
        if refused:
            await self._teller.tell(channel, user, refused, thread_ts=thread)

    # --- /threadline in a staff channel -------------------------------------------------

    async def _on_command(self, body: dict[str, Any], ack: AsyncAck) -> None:
        user = str(body.get("user_id") or "")
        staff = self._users.name_for(user)
        if staff is None:
            await ack(text=self._users.refusal(user))
            return
        try:
            command = parse_staff_command(str(body.get("text") or ""), usage=SLASH_USAGE)
            handoff_id = command.handoff_id or await self._only_handoff(command, staff)
            to = self._assignee(command)
        except CommandError as exc:
            await ack(text=str(exc))
            return
        refused = await self._once(body, user, self._act(command.verb, handoff_id, staff, to))
        await ack(text=refused or _DONE[command.verb].format(id=handoff_id, to=to))

    async def _on_other_command(self, body: dict[str, Any], ack: AsyncAck) -> None:
        await ack(text=f"In staff channels I know {COMMAND}: {SLASH_USAGE}")

    async def _only_handoff(self, command: StaffCommand, staff: str) -> int:
        handoffs = await self._backend.open_handoffs()
        if command.verb == "claim":
            waiting = ", ".join(str(h.id) for h in handoffs if h.state == "waiting") or "none"
            raise CommandError(f"Say which one: `/threadline claim <id>`. Waiting: {waiting}.")
        mine = [h.id for h in handoffs if h.state == "claimed" and h.claimed_by == staff]
        if len(mine) == 1:
            return mine[0]
        held = ", ".join(str(i) for i in mine) if mine else "none"
        raise CommandError(
            f"Say which handoff: `/threadline {command.verb} <id>`. "
            f"You have claimed: {held}. {SLASH_USAGE}"
        )

    def _assignee(self, command: StaffCommand) -> str:
        """The staff name to assign to ("" for other verbs)."""
        if command.verb != "assign":
            return ""
        if command.assignee_user is not None:
            name = self._users.name_for(command.assignee_user)
            if name is None:
                raise CommandError(
                    f"<@{command.assignee_user}> is not on the staff list (SLACK_STAFF_USERS)."
                )
            return name
        wanted = command.assignee_name or ""
        user = self._users.user_for(wanted)
        if user is None:
            raise CommandError(
                f"I can't tell who `@{wanted}` is: mention them so Slack sends their user id "
                "(pick the name from the list as you type @)."
            )
        return self._users.names[user]

    # --- shared -------------------------------------------------------------------------

    def _act(
        self, verb: str, handoff_id: int, staff: str, text: str = ""
    ) -> Callable[[], Awaitable[str]]:
        async def act() -> str:
            try:
                await self._backend.act(verb, handoff_id, staff, text)
            except StaffRefused as exc:
                return _sentence(str(exc))
            return ""

        return act

    async def _once(
        self, body: Mapping[str, Any], user: str, handle: Callable[[], Awaitable[str]]
    ) -> str:
        """Run ``handle`` once per Slack request; a retry of a handled one does nothing."""
        key = event_key(body)
        if key is not None and not await self._backend.remember(key, user):
            log.info("staff slack: %s already handled; retry dropped", key)
            return ""
        try:
            return await handle()
        except Exception:
            if key is not None:
                await self._backend.forget(key)
            raise


def _adding(handle: Callable[[], Awaitable[str]], note: str) -> Callable[[], Awaitable[str]]:
    """``handle``, with ``note`` added to what it tells the author."""

    async def handled() -> str:
        told = await handle()
        return f"{told} {note}" if told else note

    return handled


def _from_a_person(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    user = event.get("user")
    if not isinstance(user, str) or not user or user == bot_user_id:
        return False
    if event.get("bot_id") or event.get("bot_profile") or event.get("hidden"):
        return False
    return event.get("subtype") in _PERSON_SUBTYPES and not event.get("edited")


def _mentions(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """A message that mentions the app is a command: its ``app_mention`` event handles it."""
    return bool(bot_user_id) and f"<@{bot_user_id}" in str(event.get("text") or "")


def _sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."
