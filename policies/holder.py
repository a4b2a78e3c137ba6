"""The policy the bot runs now, reloaded when its files change.

An invalid edit is refused: the issues are logged with file and line, and the last good policy
keeps deciding.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from watchfiles import Change, awatch

from policies.errors import PolicyError, PolicyIssue
from policies.loader import DEFAULT_POLICY_PATH, is_cases_file, load_policy
from policies.policy import Policy

log = logging.getLogger(__name__)


class PolicyHolder:
    """Holds the current :class:`Policy`; the first load must succeed (raises PolicyError)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else DEFAULT_POLICY_PATH
        self._policy = load_policy(self.path)
        self.last_issues: tuple[PolicyIssue, ...] = ()

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def version(self) -> str:
        return self._policy.version

    def reload(self) -> tuple[PolicyIssue, ...]:
        """Load the files again; on error keep the last good policy and return the issues."""
        try:
            policy = load_policy(self.path)
        except PolicyError as exc:
            self.last_issues = exc.issues
            log.error(
                "policy change refused, still running version %s:\n%s",
                self._policy.version,
                exc,
            )
            return exc.issues
        self.last_issues = ()
        if policy.version != self._policy.version:
            log.info(
                "policy reloaded: version %s → %s (%d rules)",
                self._policy.version,
                policy.version,
                len(policy.rules),
            )
        self._policy = policy
        return ()

    def _relevant(self, change: tuple[Change, str]) -> bool:
        changed = Path(change[1])
        if self.path.is_dir():
            return changed.suffix in (".yaml", ".yml") and not is_cases_file(changed)
        return changed.name == self.path.name

    async def watch(self, stop_event: asyncio.Event | None = None) -> None:
        """Reload whenever the policy files change, until ``stop_event`` is set or cancelled."""
        folder = self.path if self.path.is_dir() else self.path.parent
        log.info("watching %s for policy changes", self.path)
        async for changes in awatch(folder, stop_event=stop_event):
            if any(self._relevant(change) for change in changes):
                self.reload()
