"""What every Slack-facing part of Threadline shares: the Web API client, request checks, bolt.

The customer channel (``channels.slack``) and the staff side both receive signed requests from
Slack on our aiohttp app and call the Web API. This module keeps that in one place:

* :class:`SlackWebApi` owns one aiohttp session for every Web API call of a process and builds
  the ``AsyncWebClient`` on it (``base_url`` points at Slack or at a local fake).
* :func:`check_signature` verifies ``X-Slack-Signature`` over the raw body with the 5-minute
  window, the same check bolt's own middleware repeats.
* :func:`read_slack_body` refuses bodies that are neither a JSON event nor a form (slash
  command, interactivity, ssl_check) with a reason, before bolt would fail on them.
* :func:`event_key` is the stable idempotency key of a Slack request (``event_id`` for events);
  storing it under a unique constraint is what makes retries harmless.
* :func:`dispatch_to_bolt` runs one checked request through an ``AsyncApp`` and turns the
  answer into an aiohttp response.
* :func:`call_web_api` makes one Web API call and turns a failure into the ``SendError``
  both outboxes retry, wait out (``Retry-After``) or give up on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.messages import SendError

log = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"
# Slack allows at most five minutes between its timestamp and our clock.
SIGNATURE_WINDOW_S = 60 * 5
WEB_API_TIMEOUT_S = 10
MAX_BODY_BYTES = 256 * 1024
DEFAULT_RETRY_AFTER_S = 30.0

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


class SlackWebApi:
    """One aiohttp session for every Web API call of the process, and clients built on it.

    Call :meth:`open` inside the running loop (a channel's ``startup``) and :meth:`close` on
    shutdown. Clients made before ``open`` get the session once it exists: ``AsyncWebClient``
    reads its ``session`` attribute on every call.
    """

    def __init__(self, *, base_url: str = SLACK_API_URL, timeout: int = WEB_API_TIMEOUT_S) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._clients: list[AsyncWebClient] = []

    def client(self, token: str, *, retry_rate_limited: bool = False) -> AsyncWebClient:
        """A Web API client for ``token``.

        ``retry_rate_limited`` makes the SDK itself sleep through HTTP 429 (``Retry-After``)
        once; leave it off where a caller schedules retries itself (the outbox does).
        """
        handlers: list[AsyncRetryHandler] = [AsyncConnectionErrorRetryHandler()]
        if retry_rate_limited:
            handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
        client = AsyncWebClient(
            token=token,
            base_url=self.base_url,
            timeout=self._timeout,
            session=self._session,
            retry_handlers=handlers,
        )
        self._clients.append(client)
        return client

    async def open(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
            for client in self._clients:
                client.session = self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            for client in self._clients:
                client.session = None


def signature_verifier(
    signing_secret: str, clock: Callable[[], float] | None = None
) -> SignatureVerifier:
    if not signing_secret:
        raise ValueError("a Slack signing secret is required to verify requests")
    if clock is None:
        return SignatureVerifier(signing_secret)
    return SignatureVerifier(signing_secret, clock=_ClockAdapter(clock))


class _ClockAdapter(Clock):
    """``SignatureVerifier`` asks its clock for ``now()`` in epoch seconds."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock()


def check_signature(
    verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]
) -> str | None:
    """None when the request is Slack's; otherwise why it is refused (answer 401)."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if not verifier.is_valid(text, timestamp, signature):
        return "invalid or expired Slack signature"
    return None


@dataclass(frozen=True, slots=True)
class SlackBody:
    """A checked request body: the raw text (signed) and what it parses to."""

    text: str
    payload: dict[str, Any]
    kind: str  # "event" | "command" | "interaction" | "ssl_check"


class MalformedBody(ValueError):
    """The body is not something Slack sends; the message says what is wrong."""


def parse_slack_body(raw: bytes, content_type: str) -> SlackBody:
    """Parse a signed request body the way Slack sends it, or raise :class:`MalformedBody`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("the body is not UTF-8") from None
    if content_type == JSON_TYPE:
        data = _json_object(text, "the JSON body")
        if not isinstance(data.get("type"), str):
            raise MalformedBody("the JSON body has no 'type'")
        return SlackBody(text, data, "event")
    if content_type == FORM_TYPE:
        try:
            form = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
        except ValueError:
            raise MalformedBody("the form body cannot be parsed") from None
        if "payload" in form:
            data = _json_object(form["payload"], "the 'payload' field")
            if not isinstance(data.get("type"), str):
                raise MalformedBody("the interaction payload has no 'type'")
            return SlackBody(text, data, "interaction")
        if form.get("command"):
            return SlackBody(text, dict(form), "command")
        if form.get("ssl_check"):
            return SlackBody(text, dict(form), "ssl_check")
        raise MalformedBody("the form is neither a slash command nor an interaction payload")
    raise MalformedBody(f"unsupported content type {content_type or 'none'!r}")


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise MalformedBody(f"{what} is not valid JSON") from None
    if not isinstance(data, dict):
        raise MalformedBody(f"{what} is not a JSON object")
    return data


def event_key(payload: Mapping[str, Any]) -> str | None:
    """The idempotency key of one Slack request, stable across Slack's retries.

    Events carry ``event_id``; an interaction is one click (``action_ts`` per action, with the
    trigger); a slash command is one ``trigger_id``. None when the request has no such id.
    """
    if payload.get("type") == "event_callback" and payload.get("event_id"):
        return str(payload["event_id"])
    if payload.get("type") == "block_actions":
        actions = payload.get("actions") or []
        if actions and actions[0].get("action_ts"):
            return f"action:{actions[0]['action_ts']}:{payload.get('trigger_id', '')}"
    if payload.get("command") and payload.get("trigger_id"):
        return f"command:{payload['trigger_id']}"
    return None


# Errors that mean Threadline's Slack app is set up wrongly: logged as errors with a hint.
SETUP_ERRORS = frozenset({"invalid_auth", "token_revoked", "not_authed", "missing_scope"})
SETUP_HINT = "check SLACK_BOT_TOKEN and the app's scopes"


async def call_web_api(
    method: str,
    call: Callable[..., Awaitable[AsyncSlackResponse]],
    *,
    permanent: frozenset[str],
    hints: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """One Web API call; a failure becomes a :class:`SendError` the outboxes understand.

    429 (or ``ratelimited``) carries Slack's ``Retry-After``; an error in ``permanent`` is not
    retried; a connection error or timeout is retried with backoff. An error with a hint (for
    the operator: ``hints``, or the setup errors) is logged once with it.
    """
    try:
        response = await call(**kwargs)
    except SlackApiError as exc:
        raise _send_error(method, exc, permanent, hints or {}) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SendError(f"{method}: {exc.__class__.__name__}: {exc}") from None
    return dict(response.data) if isinstance(response.data, dict) else {}


def _send_error(
    method: str, exc: SlackApiError, permanent: frozenset[str], hints: Mapping[str, str]
) -> SendError:
    response = exc.response
    error = str(response.get("error") or f"HTTP {response.status_code}")
    if response.status_code == 429 or error == "ratelimited":
        return SendError(
            f"{method}: rate limited", retry_after=retry_after_seconds(response.headers)
        )
    hint = hints.get(error) or (SETUP_HINT if error in SETUP_ERRORS else None)
    if hint is not None:
        log.error("slack: %s failed with %s: %s", method, error, hint)
    return SendError(f"{method}: {error}", permanent=error in permanent)


def retry_after_seconds(headers: Any) -> float:
    """Slack's ``Retry-After`` on a 429 (at least a second; 30 s when it is missing)."""
    value = None
    for name, raw in dict(headers or {}).items():
        if str(name).lower() == "retry-after":
            value = raw[0] if isinstance(raw, list | tuple) else raw
    try:
        return max(1.0, float(value)) if value is not None else DEFAULT_RETRY_AFTER_S
    except ValueError:
        return DEFAULT_RETRY_AFTER_S


def retry_number(headers: Mapping[str, Any]) -> int:
    """``X-Slack-Retry-Num`` (0 on the first delivery); bolt hands headers as lists."""
    value = headers.get("X-Slack-Retry-Num") or headers.get("x-slack-retry-num")
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


async def read_checked_body(
    request: web.Request, verifier: SignatureVerifier
) -> SlackBody | web.Response:
    """The signed, well-formed body of a Slack request, or the error response to answer."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _error(413, "the body is too large")
    raw = await request.read()
    refused = check_signature(verifier, raw, request.headers)
    if refused is not None:
        log.info("slack: refused a request: %s", refused)
        return _error(401, refused)
    try:
        return parse_slack_body(raw, request.content_type)
    except MalformedBody as exc:
        log.info("slack: malformed request: %s", exc)
        return _error(400, str(exc))


async def dispatch_to_bolt(app: AsyncApp, request: web.Request, body: SlackBody) -> web.Response:
    """Run one checked request through bolt (which verifies the signature again)."""
    req = AsyncBoltRequest(
        body=body.text,
        query=request.query_string,
        headers=dict(request.headers),
    )
    if req.body != body.payload:
        # bolt guesses a form's shape from the word "payload" anywhere in the body; a slash
        # command whose text mentions it would reach bolt empty. Use the checked parse.
        req.body = body.payload
        req.context = build_async_context(AsyncBoltContext({}), req.body)
    started = time.monotonic()
    response = await to_aiohttp_response(await app.async_dispatch(req))
    log.debug("slack: %s answered %s in %.3f s", body.kind, response.status, _since(started))
    return response


def _since(started: float) -> float:
    return time.monotonic() - started


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"ok": False, "error": reason}, status=status)
