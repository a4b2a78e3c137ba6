"""The built-in staff console: handoffs in the browser, for shops with or without Slack."""

from channels.staff_console.auth import LoginLimiter, StaffTokenError, StaffTokens
from channels.staff_console.console import ActionRefused, ConsoleBackend, StaffConsole

__all__ = [
    "ActionRefused",
    "ConsoleBackend",
    "LoginLimiter",
    "StaffConsole",
    "StaffTokenError",
    "StaffTokens",
]
