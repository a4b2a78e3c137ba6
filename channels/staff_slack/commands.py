"""Staff commands typed in Slack: pure parsing, no I/O.

``@Threadline resolve`` inside a handoff's thread, or ``/threadline resolve 12`` anywhere
in a staff channel (Slack does not deliver slash commands typed in threads). Verbs:
``claim``, ``resolve``, ``handback`` and ``assign @person``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERBS = {
    "claim": "claim",
    "resolve": "resolve",
    "handback": "handback",
    "hand-back": "handback",
    "back": "handback",
    "assign": "assign",
}
THREAD_USAGE = (
    "In a handoff's thread: `@Threadline claim`, `@Threadline resolve`, "
    "`@Threadline handback` or `@Threadline assign @person`."
)
SLASH_USAGE = (
    "`/threadline claim <id>`, `/threadline resolve [id]`, `/threadline handback [id]` or "
    "`/threadline assign @person [id]`; without an id, resolve, handback and assign act on "
    "the one handoff you have claimed."
)
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_HANDOFF_ID = re.compile(r"^#?(\d{1,18})$")


class CommandError(ValueError):
    """The command cannot be read; the message says how to write it."""


@dataclass(frozen=True, slots=True)
class StaffCommand:
    verb: str  # claim | resolve | handback | assign
    handoff_id: int | None = None
    # assign: a Slack user id (from an escaped mention ``<@U…>``) or a staff name (``@bob``)
    assignee_user: str | None = None
    assignee_name: str | None = None


def parse_staff_command(text: str, *, usage: str) -> StaffCommand:
    words = text.split()
    if not words:
        raise CommandError(usage)
    verb = VERBS.get(words[0].lower())
    if verb is None:
        raise CommandError(f"I don't know `{words[0]}`. {usage}")
    handoff_id: int | None = None
    user: str | None = None
    name: str | None = None
    for word in words[1:]:
        number = _HANDOFF_ID.match(word)
        mention = _MENTION.match(word)
        if number and handoff_id is None:
            handoff_id = int(number.group(1))
        elif verb == "assign" and mention and user is None and name is None:
            user = mention.group(1)
        elif verb == "assign" and user is None and name is None and word.strip("@"):
            name = word.lstrip("@")
        else:
            raise CommandError(f"I can't read `{word}` in `{text.strip()}`. {usage}")
    if verb == "assign" and user is None and name is None:
        raise CommandError(f"Say who to assign it to, e.g. `assign @bob`. {usage}")
    return StaffCommand(verb, handoff_id, user, name)
