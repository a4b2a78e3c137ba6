"""Who is on the other end of a web-chat socket.

Two ways in, both signed with the shared secret (``THREADLINE_SECRET``):

* an anonymous session: ``anon:<random>`` plus its signature, handed out by
  ``POST /webchat/session`` and kept by the widget in ``localStorage``;
* a shop's logged-in customer: the shop's backend computes
  ``hex(HMAC-SHA256(secret, customer_id))`` and puts it in the page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

ANON_PREFIX = "anon:"
CUSTOMER_PREFIX = "customer:"
MAX_CUSTOMER_ID_CHARS = 128
# Session signatures are domain-separated from customer HMACs, so one can never
# be replayed as the other.
_SESSION_DOMAIN = b"threadline-webchat-session\x00"


class IdentityError(ValueError):
    """The client's claim of identity does not hold; the message says why."""


@dataclass(frozen=True, slots=True)
class WebchatUser:
    external_user_id: str  # "anon:<random>" or "customer:<shop id>"
    verified_customer_ref: str | None = None


def customer_hmac(secret: str, customer_id: str) -> str:
    """What a shop's backend puts next to a logged-in customer's id (lower-case hex)."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def _session_signature(secret: str, session_id: str) -> str:
    return hmac.new(
        secret.encode(), _SESSION_DOMAIN + session_id.encode(), hashlib.sha256
    ).hexdigest()


def new_session_token(secret: str) -> tuple[str, str]:
    """A fresh anonymous session: ``(external_user_id, token)``."""
    session_id = ANON_PREFIX + secrets.token_urlsafe(18)
    return session_id, f"{session_id}.{_session_signature(secret, session_id)}"


def verify_session_token(secret: str, token: str) -> WebchatUser:
    session_id, dot, signature = token.rpartition(".")
    if not dot or not session_id.startswith(ANON_PREFIX) or len(session_id) > 64:
        raise IdentityError("session token is malformed")
    expected = _session_signature(secret, session_id)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        raise IdentityError("session token signature does not match")
    return WebchatUser(external_user_id=session_id)


def verify_customer(secret: str, customer_id: str, signature: str) -> WebchatUser:
    if not customer_id or len(customer_id) > MAX_CUSTOMER_ID_CHARS:
        raise IdentityError(f"customer id must be 1 to {MAX_CUSTOMER_ID_CHARS} characters")
    if not customer_id.isprintable() or customer_id != customer_id.strip():
        raise IdentityError("customer id contains control characters or surrounding spaces")
    expected = customer_hmac(secret, customer_id)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        raise IdentityError("customer hmac does not match the customer id")
    return WebchatUser(
        external_user_id=CUSTOMER_PREFIX + customer_id, verified_customer_ref=customer_id
    )
