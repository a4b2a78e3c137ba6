"""Wiring the staff console into a runtime (part of the composition root).

On when ``THREADLINE_STAFF_TOKENS`` (``alice:token1,bob:token2``) is set, and always in
demo mode, where a fresh token for the agent ``demo`` is printed at start.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.bootstrap import Runtime
from bot.handoff import (
    HandoffDeps,
    HandoffError,
    HandoffNotFound,
    StaffAction,
    assign,
    back_to_bot,
    claim,
    note,
    resolve,
    staff_reply,
)
from memory.handoffs import conversation_outcomes, open_handoff_cards, store_version

log = logging.getLogger(__name__)

TOKENS_ENV = "THREADLINE_STAFF_TOKENS"
OUTCOME_DAYS = 30
REOPEN_DAYS = 7
OUTCOMES_EVERY_S = 2.0  # at most this often, and only when the store changed


def add_staff_console(
    runtime: Runtime, *, tokens: str | None = None, poll_interval: float = 1.0
) -> bool:
    """Mount the console at ``/staff``; return whether it is on.

    ``tokens`` defaults to ``THREADLINE_STAFF_TOKENS``; an invalid value stops the start
    with a message that names the bad entry (never the token).
    """
    from channels.staff_console import ActionRefused, ConsoleBackend, StaffConsole, StaffTokens

    spec = tokens if tokens is not None else (runtime.settings.staff_tokens or "")
    if not spec.strip():
        if not runtime.settings.demo:
            log.info("staff console: off (%s is not set)", TOKENS_ENV)
            return False
        demo_token = secrets.token_urlsafe(18)
        spec = f"demo:{demo_token}"
        # Printed, not logged: the demo's one-off token is for the person at the terminal.
        print(f"Staff console: /staff  (demo sign-in token: {demo_token})", flush=True)
    parsed = StaffTokens.parse(spec)

    deps = HandoffDeps(
        runtime.session_factory,
        runtime.clock,
        runtime.outbox.wake,
        staff_slack=runtime.pipeline.staff_slack,
        on_staff_post=lambda: runtime.wake_staff_posts(),
    )
    actions: dict[str, Callable[[int, str, str], Awaitable[StaffAction]]] = {
        "claim": lambda h, s, _t: claim(deps, h, s),
        "reply": lambda h, s, t: staff_reply(deps, h, s, t),
        "note": lambda h, s, t: note(deps, h, s, t),
        "assign": lambda h, s, t: assign(deps, h, s, t),
        "resolve": lambda h, s, _t: resolve(deps, h, s),
        "back-to-bot": lambda h, s, _t: back_to_bot(deps, h, s),
    }

    async def act(action: str, handoff_id: int, staff: str, text: str) -> dict[str, Any]:
        try:
            done = await actions[action](handoff_id, staff, text)
        except HandoffNotFound as exc:
            raise ActionRefused(str(exc), status=404) from exc
        except HandoffError as exc:
            raise ActionRefused(str(exc), status=409) from exc
        return {
            "handoff_id": done.handoff_id,
            "message_id": done.message_id,
            "delivered_to": done.delivered_to.channel if done.delivered_to else None,
        }

    cache: dict[str, Any] = {}

    async def outcomes() -> dict[str, Any]:
        if time.monotonic() - cache.get("at", -OUTCOMES_EVERY_S) >= OUTCOMES_EVERY_S:
            cache["value"] = await conversation_outcomes(
                runtime.read_factory,
                since=runtime.clock() - timedelta(days=OUTCOME_DAYS),
                reopen_days=REOPEN_DAYS,
            )
            cache["at"] = time.monotonic()
        value: dict[str, Any] = cache["value"]
        return value

    async def cards() -> list[dict[str, Any]]:
        return await open_handoff_cards(runtime.read_factory)

    async def version() -> int:
        return await store_version(runtime.read_factory)

    runtime.add_service(
        StaffConsole(
            tokens=parsed,
            secret=runtime.settings.secret,
            backend=ConsoleBackend(cards=cards, version=version, outcomes=outcomes, act=act),
            poll_interval=poll_interval,
        )
    )
    log.info("staff console: on at /staff for %d staff", len(parsed.names))
    return True
