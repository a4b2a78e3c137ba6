"""Staff in Slack: handoff cards, their threads, buttons and commands, on the shop's Slack app."""

from channels.staff_slack.card import card_blocks, card_text
from channels.staff_slack.listeners import (
    HandoffSummary,
    StaffBackend,
    StaffRefused,
    StaffSlackListeners,
)
from channels.staff_slack.poster import SlackStaffPoster
from channels.staff_slack.staff_users import StaffUsers, StaffUsersError

__all__ = [
    "HandoffSummary",
    "SlackStaffPoster",
    "StaffBackend",
    "StaffRefused",
    "StaffSlackListeners",
    "StaffUsers",
    "StaffUsersError",
    "card_blocks",
    "card_text",
]
