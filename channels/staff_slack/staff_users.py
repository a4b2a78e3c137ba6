"""Who may act on handoffs from Slack, and under which staff name.

``SLACK_STAFF_USERS`` (``U01ABC:alice,U02DEF:bob``) maps Slack user ids to the staff names the
console and the store use, so "Claimed by alice" means the same person everywhere. When it is
set, only those users act; when it is not, anyone in a staff channel acts as ``slack:<user id>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
UNMAPPED_PREFIX = "slack:"


class StaffUsersError(ValueError):
    """``SLACK_STAFF_USERS`` cannot be read; the message names the bad entry."""


@dataclass(frozen=True, slots=True)
class StaffUsers:
    names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | None) -> StaffUsers:
        """``U01ABC:alice,U02DEF:bob`` → the mapping; empty or None → anyone may act."""
        names: dict[str, str] = {}
        for number, raw in enumerate((spec or "").split(","), start=1):
            entry = raw.strip()
            if not entry:
                continue
            user, sep, name = (part.strip() for part in entry.partition(":"))
            if not sep or not _USER_ID.match(user) or not name:
                raise StaffUsersError(
                    f"SLACK_STAFF_USERS: entry {number} is not <Slack user id>:<staff name> "
                    "(e.g. U01ABC:alice)"
                )
            if user in names:
                raise StaffUsersError(f"SLACK_STAFF_USERS: {user} is listed twice")
            names[user] = name
        return cls(names)

    @property
    def restricted(self) -> bool:
        """Only the listed users act on handoffs."""
        return bool(self.names)

    def name_for(self, user_id: str) -> str | None:
        """The staff name of a Slack user; None when the list is set and they are not on it."""
        if not self.restricted:
            return f"{UNMAPPED_PREFIX}{user_id}"
        return self.names.get(user_id)

    def user_for(self, name: str) -> str | None:
        """The Slack user id listed under a staff name (for ``assign @bob`` typed unescaped)."""
        for user, listed in self.names.items():
            if listed.lower() == name.lower():
                return user
        return None

    def refusal(self, user_id: str) -> str:
        return (
            f"You are not on this workspace's staff list, so Threadline did not act on that. "
            f"Ask an admin to add `{user_id}:<your staff name>` to SLACK_STAFF_USERS."
        )
