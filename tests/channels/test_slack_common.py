"""The Slack pieces the customer channel and the staff side share."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from channels.slack_common import (
    MalformedBody,
    SlackWebApi,
    check_signature,
    event_key,
    parse_slack_body,
    retry_number,
    signature_verifier,
)
from tests.channels.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, payload, sign

NOW = 1_764_400_000
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def test_a_signature_is_valid_for_five_minutes_exactly() -> None:
    body = json.dumps(payload("message_im"))
    headers = sign(body, timestamp=NOW)
    verifier = signature_verifier(SIGNING_SECRET, clock=lambda: NOW + 300)
    assert check_signature(verifier, body.encode(), headers) is None
    late = signature_verifier(SIGNING_SECRET, clock=lambda: NOW + 301)
    assert check_signature(late, body.encode(), headers) == "invalid or expired Slack signature"
    early = signature_verifier(SIGNING_SECRET, clock=lambda: NOW - 301)
    assert check_signature(early, body.encode(), headers) is not None


def test_a_changed_body_or_secret_fails_the_signature() -> None:
    body = json.dumps(payload("message_im"))
    verifier = signature_verifier(SIGNING_SECRET, clock=lambda: NOW)
    headers = sign(body, timestamp=NOW)
    assert check_signature(verifier, body.replace("order", "0rder").encode(), headers) is not None
    wrong = sign(body, timestamp=NOW, secret="another-secret")
    assert check_signature(verifier, body.encode(), wrong) is not None
    assert "missing" in (check_signature(verifier, body.encode(), {}) or "")


def test_a_signature_needs_a_secret() -> None:
    with pytest.raises(ValueError):
        signature_verifier("")


def test_each_kind_of_body_slack_sends_is_recognised() -> None:
    event = parse_slack_body(json.dumps(payload("message_im")).encode(), JSON)
    assert (event.kind, event.payload["event_id"]) == ("event", "Ev0DM0000001")
    command = parse_slack_body(urlencode(payload("slash_command")).encode(), FORM)
    assert (command.kind, command.payload["command"]) == ("command", "/threadline")
    form = urlencode({"payload": json.dumps(payload("block_actions"))})
    action = parse_slack_body(form.encode(), FORM)
    assert (action.kind, action.payload["type"]) == ("interaction", "block_actions")
    ssl = parse_slack_body(b"ssl_check=1&token=abc", FORM)
    assert ssl.kind == "ssl_check"


def test_a_command_that_mentions_payload_keeps_its_fields() -> None:
    fields = {**payload("slash_command"), "text": "what is the payload limit?"}
    body = parse_slack_body(urlencode(fields).encode(), FORM)
    assert body.kind == "command" and body.payload["text"] == "what is the payload limit?"


@pytest.mark.parametrize(
    ("raw", "content_type", "reason"),
    [
        (b"\xff\xfe", JSON, "not UTF-8"),
        (b"{", JSON, "not valid JSON"),
        (b"42", JSON, "not a JSON object"),
        (b'{"event": {}}', JSON, "no 'type'"),
        (b"payload=%5B%5D", FORM, "not a JSON object"),
        (b"payload=%7B%7D", FORM, "no 'type'"),
        (b"a=1&&=", FORM, "cannot be parsed"),
        (b"text=hi", FORM, "neither a slash command"),
        (b"<xml/>", "application/xml", "unsupported content type"),
    ],
)
def test_malformed_bodies_say_what_is_wrong(raw: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(MalformedBody, match=reason):
        parse_slack_body(raw, content_type)


def test_event_keys_are_stable_per_platform_event() -> None:
    assert event_key(payload("message_im")) == "Ev0DM0000001"
    assert event_key(payload("block_actions")) == (
        "action:1764400120.532101:8101234599999.1111222233.aa11bb22cc33dd44ee55ff6677889900"
    )
    assert event_key(payload("slash_command")) == (
        "command:8101234567891.1111222233.4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f"
    )
    assert event_key(payload("url_verification")) is None


def test_retry_numbers_from_plain_and_bolt_headers() -> None:
    assert retry_number({}) == 0
    assert retry_number({"X-Slack-Retry-Num": "2"}) == 2
    assert retry_number({"x-slack-retry-num": ["3"]}) == 3
    assert retry_number({"x-slack-retry-num": ["x"]}) == 0


async def test_every_client_shares_one_session_that_is_closed_on_shutdown() -> None:
    fake = FakeSlack()
    await fake.start()
    api = SlackWebApi(base_url=fake.api_url.rstrip("/"))
    early = api.client(BOT_TOKEN)
    try:
        await api.open()
        late = api.client(BOT_TOKEN)
        assert early.session is not None and early.session is late.session
        assert (await early.auth_test())["user_id"] == "U0BOT00001"
        assert (await late.auth_test())["team_id"] == "T0SHOP0001"
        session = early.session
    finally:
        await api.close()
        await fake.stop()
    assert session.closed
    assert early.session is None and late.session is None
    assert [c.method for c in fake.calls] == ["auth.test", "auth.test"]
