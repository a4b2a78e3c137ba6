"""The staff post sender: delivers the staff side's outbox (``memory.staff_posts``) to Slack.

Like the customer outbox sender: posts are leased, sent, marked; Slack's ``Retry-After`` is
honoured, other failures back off exponentially, and after ``MAX_ATTEMPTS`` (or a permanent
error such as a staff channel the app is not in) the post is given up with an error logged.
Posts of one handoff go out in order: after a failure the rest of that handoff waits.

Every post renders the handoff as it is *now* (the card is read when it is sent), so a card
that waited through a Slack outage shows the current state when it finally appears. A post
that needs the thread (an update, a mirrored turn, a reminder, a notice) posts the card first
when the card never made it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import SendError
from bot.outbox import MAX_ATTEMPTS, backoff
from bot.polling_loop import PollingLoop
from memory.handoffs import handoff_card, turn_card
from memory.staff_posts import (
    StaffPostRecord,
    StaffThread,
    claim_staff_posts,
    mark_staff_post_failed,
    mark_staff_post_sent,
    release_staff_post,
    set_staff_thread,
    staff_thread,
)

log = logging.getLogger(__name__)


class StaffPoster(Protocol):
    """The Slack side (``channels.staff_slack.SlackStaffPoster``); raises ``SendError``."""

    async def post_card(self, channel: str, card: Mapping[str, Any]) -> str: ...
    async def update_card(self, channel: str, ts: str, card: Mapping[str, Any]) -> None: ...
    async def post_turn(self, channel: str, thread_ts: str, turn: Mapping[str, Any]) -> str: ...
    async def post_repost(
        self, channel: str, thread_ts: str, card: Mapping[str, Any], *, waited: timedelta
    ) -> str: ...
    async def post_notice(self, channel: str, thread_ts: str, text: str) -> str: ...


class StaffPostSender:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        poster: StaffPoster,
        *,
        channel_for: Callable[[str], str],
        clock: Callable[[], datetime],
        reads: async_sessionmaker[AsyncSession] | None = None,
        poll_interval: float = 1.0,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        """``channel_for(queue)``: the Slack channel id a queue's cards go to; ``reads``:
        the read-only session factory for cards and turns (default: ``factory``)."""
        self._factory = factory
        self._reads = reads or factory
        self._poster = poster
        self._channel_for = channel_for
        self._clock = clock
        self._max_attempts = max_attempts
        self._loop = PollingLoop("staff-posts", self.run_once, poll_interval=poll_interval)

    def wake(self) -> None:
        self._loop.wake()

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run_once(self) -> int:
        """Send the posts that are due; return how many were leased."""
        posts = await claim_staff_posts(self._factory, now=self._clock())
        blocked: set[int] = set()
        for post in posts:
            if post.handoff_id in blocked:
                await release_staff_post(self._factory, post.id, retry_at=self._clock())
                continue
            if not await self._deliver(post):
                blocked.add(post.handoff_id)
        return len(posts)

    async def _deliver(self, post: StaffPostRecord) -> bool:
        try:
            external_id = await self._send(post)
        except SendError as exc:
            return await self._failed(post, exc.reason, exc.retry_after, exc.permanent)
        except Exception as exc:
            log.exception("staff post %s (%s) failed", post.id, post.kind)
            return await self._failed(post, repr(exc), None, False)
        await mark_staff_post_sent(self._factory, post.id, external_id, now=self._clock())
        return True

    async def _send(self, post: StaffPostRecord) -> str | None:
        if post.kind in ("mirror", "notice"):
            # A line in the thread needs only where the thread is, not the whole card.
            thread = await staff_thread(self._reads, post.handoff_id)
            if thread is None:
                thread = await self._open_thread(await self._card(post.handoff_id))
            return await self._post_line(post, thread)
        card = await self._card(post.handoff_id)
        if post.kind == "card":
            thread = _thread_of(card)
            if thread is None:
                return (await self._open_thread(card)).ts
            # The card is there already (an earlier post opened the thread): refresh it.
            await self._poster.update_card(thread.channel, thread.ts, card)
            return thread.ts
        thread = _thread_of(card) or await self._open_thread(card)
        if post.kind == "update":
            await self._poster.update_card(thread.channel, thread.ts, card)
            return thread.ts
        if post.kind == "repost":
            # The card first: a retry after a failed reminder only refreshes it again.
            await self._poster.update_card(thread.channel, thread.ts, card)
            waited = _waited(post.payload, card, self._clock())
            return await self._poster.post_repost(thread.channel, thread.ts, card, waited=waited)
        raise SendError(f"unknown staff post kind {post.kind!r}", permanent=True)

    async def _post_line(self, post: StaffPostRecord, thread: StaffThread) -> str:
        """A mirrored turn or a notice, as a reply in the handoff's thread."""
        if post.kind == "mirror":
            turn = await self._turn(post.message_id)
            if turn is None:
                raise SendError(f"message {post.message_id} does not exist", permanent=True)
            return await self._poster.post_turn(thread.channel, thread.ts, turn)
        text = str(post.payload.get("text") or "").strip()
        if not text:
            raise SendError("a notice without text", permanent=True)
        return await self._poster.post_notice(thread.channel, thread.ts, text)

    async def _card(self, handoff_id: int) -> dict[str, Any]:
        card = await handoff_card(self._reads, handoff_id)
        if card is None:
            raise SendError(f"handoff {handoff_id} does not exist", permanent=True)
        return card

    async def _open_thread(self, card: Mapping[str, Any]) -> StaffThread:
        channel = self._channel_for(str(card.get("queue") or ""))
        ts = await self._poster.post_card(channel, card)
        await set_staff_thread(self._factory, int(card["id"]), channel=channel, ts=ts)
        log.info("staff slack: handoff %s card posted to %s", card["id"], channel)
        return StaffThread(int(card["id"]), channel, ts)

    async def _turn(self, message_id: int | None) -> dict[str, Any] | None:
        """The stored turn a mirror post copies into the thread."""
        return await turn_card(self._reads, message_id) if message_id is not None else None

    async def _failed(
        self, post: StaffPostRecord, reason: str, retry_after: float | None, permanent: bool
    ) -> bool:
        give_up = permanent or post.attempts + 1 >= self._max_attempts
        retry_at = None
        if give_up:
            log.error(
                "staff post %s (%s of handoff %s) not sent after %d attempt(s): %s; giving up",
                post.id,
                post.kind,
                post.handoff_id,
                post.attempts + 1,
                reason,
            )
        else:
            delay = timedelta(seconds=retry_after) if retry_after else backoff(post.attempts + 1)
            retry_at = self._clock() + delay
            log.warning(
                "staff post %s (%s of handoff %s) not sent (%s); retrying at %s",
                post.id,
                post.kind,
                post.handoff_id,
                reason,
                f"{retry_at:%H:%M:%S}",
            )
        await mark_staff_post_failed(self._factory, post.id, reason, retry_at=retry_at)
        return False


def _thread_of(card: Mapping[str, Any]) -> StaffThread | None:
    channel, ts = card.get("staff_channel"), card.get("staff_thread")
    if not channel or not ts:
        return None
    return StaffThread(int(card["id"]), str(channel), str(ts))


def _waited(payload: Mapping[str, Any], card: Mapping[str, Any], now: datetime) -> timedelta:
    """How long the handoff had waited when the reminder was decided (``waited_s``, from
    ``bot.sla``), else since it was opened."""
    seconds = payload.get("waited_s")
    if isinstance(seconds, int | float) and seconds >= 0:
        return timedelta(seconds=seconds)
    return now - datetime.fromisoformat(str(card["created_at"]))
