"""Wiring staff Slack into a runtime (part of the composition root).

On when :func:`bot.bootstrap.staff_slack_configured` holds (a staff channel and the Slack
app's settings). It rides on the customer Slack channel's bolt app: the same app, webhook and
Socket Mode connection. Cards go to the queue's ``slack_channel`` from the policy, else to
``SLACK_STAFF_CHANNEL``; the staff post sender runs with the runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from aiohttp import web

from bot.bootstrap import Runtime, staff_slack_configured
from bot.handoff import (
    HandoffDeps,
    HandoffError,
    assign,
    back_to_bot,
    claim,
    note,
    resolve,
    staff_reply,
)
from bot.staff_outbox import StaffPostSender
from memory.handoffs import get_handoff, open_handoff_cards
from memory.staff_posts import (
    forget_staff_event,
    handoff_for_thread,
    remember_staff_event,
)

log = logging.getLogger(__name__)

NAME = "staff_slack"


class StaffSlackService:
    """Runs the staff post sender with the runtime (a service: staff-side, no customer
    deliveries). It serves no routes: Slack reaches it through the customer channel's
    webhook, and it posts with that channel's Web API client."""

    name = NAME

    def __init__(self, sender: StaffPostSender) -> None:
        self.sender = sender

    def routes(self) -> list[web.AbstractRouteDef]:
        return []

    async def startup(self) -> None:
        await self.sender.start()

    async def shutdown(self) -> None:
        await self.sender.stop()


def add_staff_slack(runtime: Runtime, *, poll_interval: float = 1.0) -> bool:
    """Post handoffs to staff Slack and take staff actions from it; False when it is off.

    An unreadable ``SLACK_STAFF_USERS`` stops the start with a message naming the entry.
    """
    from channels.slack import SlackChannel
    from channels.staff_slack import (
        HandoffSummary,
        SlackStaffPoster,
        StaffBackend,
        StaffRefused,
        StaffSlackListeners,
        StaffUsers,
    )

    settings = runtime.settings
    if not staff_slack_configured(settings):
        log.info("staff Slack: off (set SLACK_STAFF_CHANNEL and the Slack app settings)")
        return False
    customer_slack = runtime.channels.get("slack")
    if not isinstance(customer_slack, SlackChannel):
        log.warning(
            "staff Slack: off, the Slack channel is not running (see docs/channels/slack.md)"
        )
        return False
    users = StaffUsers.parse(settings.slack_staff_users)
    default_channel = settings.slack_staff_channel
    assert default_channel is not None

    def queue_channels() -> dict[str, str]:
        queues = runtime.policy.holder.policy.settings.queues
        return {name: q.slack_channel for name, q in queues.items() if q.slack_channel}

    def channel_for(queue: str) -> str:
        return queue_channels().get(queue, default_channel)

    def staff_channels() -> Collection[str]:
        return {default_channel, *queue_channels().values()}

    deps = HandoffDeps(
        runtime.session_factory,
        runtime.clock,
        runtime.outbox.wake,
        staff_slack=True,
        on_staff_post=lambda: runtime.wake_staff_posts(),
    )

    async def act(verb: str, handoff_id: int, staff: str, text: str) -> None:
        try:
            if verb == "claim":
                await claim(deps, handoff_id, staff)
            elif verb == "resolve":
                await resolve(deps, handoff_id, staff)
            elif verb == "handback":
                await back_to_bot(deps, handoff_id, staff)
            elif verb == "assign":
                await assign(deps, handoff_id, staff, text)
            elif verb == "reply":
                await staff_reply(deps, handoff_id, staff, text, origin="slack")
            elif verb == "note":
                await note(deps, handoff_id, staff, text, origin="slack")
            else:
                raise ValueError(f"unknown staff action {verb!r}")
        except HandoffError as exc:
            raise StaffRefused(str(exc)) from exc

    async def summary(handoff_id: int) -> HandoffSummary | None:
        async with runtime.read_factory() as session:
            row = await get_handoff(session, handoff_id)
        return HandoffSummary(row.id, row.state, row.claimed_by) if row is not None else None

    async def open_handoffs() -> list[HandoffSummary]:
        cards = await open_handoff_cards(runtime.read_factory)
        return [HandoffSummary(int(c["id"]), str(c["state"]), c["claimed_by"]) for c in cards]

    async def thread_handoff(channel: str, ts: str) -> int | None:
        return await handoff_for_thread(runtime.read_factory, channel=channel, ts=ts)

    async def remember(key: str, user: str) -> bool:
        return await remember_staff_event(runtime.session_factory, key, user, runtime.clock())

    async def forget(key: str) -> None:
        await forget_staff_event(runtime.session_factory, key)

    # The same app and Web API session as the customer channel (opened by its startup).
    poster = SlackStaffPoster(customer_slack.bolt.client, mention=settings.slack_staff_mention)
    sender = StaffPostSender(
        runtime.session_factory,
        poster,
        channel_for=channel_for,
        clock=runtime.clock,
        reads=runtime.read_factory,
        poll_interval=poll_interval,
    )
    listeners = StaffSlackListeners(
        backend=StaffBackend(
            act=act,
            handoff_for_thread=thread_handoff,
            summary=summary,
            open_handoffs=open_handoffs,
            remember=remember,
            forget=forget,
        ),
        users=users,
        staff_channels=staff_channels,
        teller=poster,
    )
    customer_slack.hand_over(listeners.is_staff_request)
    listeners.register(customer_slack.bolt)
    runtime.add_service(StaffSlackService(sender))
    runtime.wake_staff_posts = sender.wake
    log.info(
        "staff Slack: on, cards to %s%s; %s",
        default_channel,
        "".join(f", {q}: {c}" for q, c in sorted(queue_channels().items())),
        f"{len(users.names)} staff users" if users.restricted else "anyone in the channel acts",
    )
    return True
