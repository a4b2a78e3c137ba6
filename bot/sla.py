"""The time-to-claim watcher: a handoff nobody claimed in time is raised and reposted.

A queue's ``claim_within`` (policy settings) is the time a handoff may wait for a person. The
pipeline stores when that runs out as ``handoffs.sla_due_at``. Every 15 seconds this watcher
looks for waiting handoffs past it and, for each:

* while the team is open: raises the priority one step (low → normal → high → urgent, and
  urgent stays urgent), counts the repost, sets the next due time one ``claim_within`` on
  (none when the queue has no target any more), stores an internal system turn for staff and,
  with staff Slack on, queues a repost to the staff channel;
* while the team is away (outside business hours or on a holiday): nobody is there to see a
  repost, so the due time moves to the next opening plus ``claim_within``.

Each handoff is changed in its own transaction by one conditional ``UPDATE … WHERE state =
'waiting' AND sla_due_at = <the value read>``: when the web and worker processes both run the
watcher, whichever writes first wins and the other changes nothing, so a period is never
counted twice. The policy in force is read at each run, so an edited ``claim_within`` applies
from the next period on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.polling_loop import PollingLoop
from bot.responder.templates import say_duration
from memory.handoff_sla import Overdue, overdue_handoffs, update_if_still_due
from memory.handoffs import add_system_note
from memory.staff_posts import queue_staff_post
from policies.settings import PRIORITIES, StaffWait

log = logging.getLogger(__name__)

POLL_SECONDS = 15.0

StaffWaitFor = Callable[[str, datetime], StaffWait]


def raised(priority: str) -> str:
    """One step up: low → normal → high → urgent; urgent stays urgent."""
    step = PRIORITIES.index(priority) if priority in PRIORITIES else PRIORITIES.index("normal")
    return PRIORITIES[min(step + 1, len(PRIORITIES) - 1)]


def repost_note(
    *, reposts_before: int, claim_within: timedelta | None, waited: timedelta, old: str, new: str
) -> str:
    """The line staff read in the conversation: "Not claimed within 15 minutes: priority
    raised to high"; later "Still not claimed after 45 minutes: priority stays urgent"."""
    if reposts_before == 0 and claim_within is not None:
        head = f"Not claimed within {say_duration(claim_within)}"
    else:
        head = f"Still not claimed after {say_duration(waited)}"
    change = f"priority raised to {new}" if new != old else f"priority stays {new}"
    return f"{head}: {change}"


class SlaWatcher:
    """Runs :meth:`run_once` every ``poll_interval`` seconds; nothing needs to wake it."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        staff_wait: StaffWaitFor,
        *,
        clock: Callable[[], datetime],
        staff_slack: bool,
        on_staff_post: Callable[[], None] = lambda: None,
        poll_interval: float = POLL_SECONDS,
    ) -> None:
        self._factory = factory
        self._staff_wait = staff_wait
        self._clock = clock
        self._staff_slack = staff_slack
        self._on_staff_post = on_staff_post
        self._loop = PollingLoop("sla-watcher", self.run_once, poll_interval=poll_interval)

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run_once(self) -> int:
        """Repost or defer every overdue handoff; the number this process changed."""
        now = self._clock()
        changed = reposted = 0
        for handoff in await overdue_handoffs(self._factory, now):
            wait = self._staff_wait(handoff.queue, now)
            if wait.away:
                changed += await self._defer(handoff, wait)
            elif await self._repost(handoff, wait, now):
                changed += 1
                reposted += 1
        if reposted and self._staff_slack:
            self._on_staff_post()
        return changed

    async def _defer(self, handoff: Overdue, wait: StaffWait) -> int:
        """The team is away: the time to claim counts from the next opening instead."""
        async with self._factory() as session, session.begin():
            if not await update_if_still_due(session, handoff, sla_due_at=wait.claim_by):
                return 0
        log.info(
            "handoff %s (queue %s) came due while the team is away; next due %s",
            handoff.id,
            handoff.queue,
            wait.claim_by.isoformat() if wait.claim_by else "never (the queue has no target)",
        )
        return 1

    async def _repost(self, handoff: Overdue, wait: StaffWait, now: datetime) -> bool:
        priority = raised(handoff.priority)
        waited = now - handoff.created_at
        text = repost_note(
            reposts_before=handoff.sla_reposts,
            claim_within=wait.claim_within,
            waited=waited,
            old=handoff.priority,
            new=priority,
        )
        async with self._factory() as session, session.begin():
            updated = await update_if_still_due(
                session,
                handoff,
                sla_due_at=wait.claim_by,
                priority=priority,
                count_repost=True,
            )
            if not updated:
                return False
            await add_system_note(
                session,
                handoff_id=handoff.id,
                conversation_id=handoff.conversation_id,
                customer_id=handoff.customer_id,
                text=text,
                now=now,
                meta={"sla": True},
            )
            if self._staff_slack:
                await queue_staff_post(
                    session,
                    handoff_id=handoff.id,
                    kind="repost",
                    now=now,
                    payload={"waited_s": int(waited.total_seconds()), "priority": priority},
                )
        log.info(
            "handoff %s (queue %s) not claimed in time: priority %s -> %s, repost %d%s",
            handoff.id,
            handoff.queue,
            handoff.priority,
            priority,
            handoff.sla_reposts + 1,
            " (queued to staff Slack)" if self._staff_slack else "",
        )
        return True
