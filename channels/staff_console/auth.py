"""Staff sign-in for the console: tokens from the environment, signed session cookies,
and a limit on failed logins per address.

Only SHA-256 digests of the tokens are kept in memory; a submitted token is hashed
and compared with every digest using :func:`hmac.compare_digest`. Tokens are never
logged. A session cookie is ``<staff>.<expiry>.<signature>``: it names the agent,
and it stops working when it expires or when that agent's token is removed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import deque
from collections.abc import Callable

SESSION_TTL_S = 12 * 3600
LOGIN_FAILURES_PER_MINUTE = 5
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")


class StaffTokenError(ValueError):
    """``THREADLINE_STAFF_TOKENS`` is malformed (the message says where, never the token)."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class StaffTokens:
    """Who may sign in: ``name:token`` pairs, e.g. ``alice:s3cret,bob:0th3r``."""

    def __init__(self, pairs: dict[str, str]) -> None:
        if not pairs:
            raise StaffTokenError("no staff tokens given")
        self._digests = {name: _digest(token) for name, token in pairs.items()}

    @classmethod
    def parse(cls, spec: str) -> StaffTokens:
        pairs: dict[str, str] = {}
        for position, part in enumerate(spec.split(","), start=1):
            part = part.strip()
            if not part:
                continue
            name, sep, token = part.partition(":")
            name, token = name.strip(), token.strip()
            if not sep or not name or not token:
                raise StaffTokenError(f"entry {position} is not name:token")
            if not set(name) <= _NAME_CHARS:
                raise StaffTokenError(f"entry {position}: names use letters, digits and ._-@")
            if name in pairs:
                raise StaffTokenError(f"entry {position}: {name} is listed twice")
            pairs[name] = token
        return cls(pairs)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._digests)

    def who(self, token: str) -> str | None:
        """The agent whose token this is; every digest is compared (no early exit)."""
        given = _digest(token)
        found: str | None = None
        for name, digest in self._digests.items():
            if hmac.compare_digest(given, digest):
                found = name
        return found


class SessionSigner:
    def __init__(self, secret: str, *, ttl_s: int = SESSION_TTL_S) -> None:
        if not secret:
            raise ValueError("the staff console needs a non-empty secret")
        self._key = hashlib.sha256(b"threadline-staff-session:" + secret.encode()).digest()
        self._ttl = ttl_s

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, staff: str, *, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self._ttl)
        payload = f"{staff}.{expires}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, cookie: str, *, now: float | None = None) -> str | None:
        """The agent named by a valid, unexpired cookie; None otherwise."""
        staff, _, rest = cookie.rpartition(".")
        staff, _, expires = staff.rpartition(".")
        if not staff or not expires.isdigit():
            return None
        if not hmac.compare_digest(self._sign(f"{staff}.{expires}"), rest):
            return None
        if int(expires) <= (time.time() if now is None else now):
            return None
        return staff


class LoginLimiter:
    """At most ``limit`` failed logins per address in any ``seconds``-long window."""

    def __init__(
        self,
        limit: int = LOGIN_FAILURES_PER_MINUTE,
        seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        now = self._clock()
        times = self._failures.get(address)
        if times is None:
            return deque()
        while times and now - times[0] >= self.seconds:
            times.popleft()
        if not times:
            del self._failures[address]
        return times

    def blocked(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or None when it may try now."""
        times = self._recent(address)
        if len(times) < self.limit:
            return None
        return max(1.0, self.seconds - (self._clock() - times[0]))

    def failed(self, address: str) -> None:
        self._recent(address)
        self._failures.setdefault(address, deque()).append(self._clock())
