"""Web-chat frames and identities: what the server accepts and why it refuses the rest."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from channels.webchat.identity import (
    IdentityError,
    customer_hmac,
    new_session_token,
    verify_customer,
    verify_session_token,
)
from channels.webchat.protocol import (
    ChatText,
    CustomerHello,
    ProtocolError,
    SessionHello,
    TextRejected,
    parse_client_frame,
)

SECRET = "s3cret-for-tests"
CID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def parse(obj: object, max_chars: int = 50) -> object:
    return parse_client_frame(json.dumps(obj), max_chars=max_chars)


def test_hello_frames_parse_into_session_or_customer() -> None:
    assert parse({"type": "hello", "session": "anon:x.y"}) == SessionHello(token="anon:x.y")
    assert parse({"type": "hello", "customer": {"id": "c-1", "hmac": "ab"}}) == CustomerHello(
        customer_id="c-1", hmac="ab"
    )


def test_message_text_is_trimmed_and_client_id_canonical() -> None:
    frame = parse({"type": "message", "text": "  where is my order?\n", "client_id": CID.upper()})
    assert frame == ChatText(text="where is my order?", client_id=CID)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"text": "hi"}', "missing the field 'type'"),
        ('{"type": "typing"}', "unknown frame type 'typing'"),
        ('{"type": "hello"}', "exactly one of 'session' or 'customer'"),
        ('{"type": "hello", "session": "a.b", "customer": {}}', "exactly one of"),
        ('{"type": "hello", "session": 7}', "'session' must be a string"),
        ('{"type": "hello", "session": "a.b", "name": "x"}', "unknown field(s): name"),
        ('{"type": "hello", "customer": "c-1"}', "must be an object"),
        ('{"type": "hello", "customer": {"id": "c-1"}}', "missing the field 'hmac'"),
        ('{"type": "hello", "customer": {"id": "c", "hmac": "h", "x": 1}}', "unknown field(s): x"),
        ('{"type": "message", "text": "hi"}', "missing the field 'client_id'"),
        (f'{{"type": "message", "client_id": "{CID}"}}', "missing the field 'text'"),
        ('{"type": "message", "text": "hi", "client_id": "42"}', "must be a UUID"),
        (f'{{"type": "message", "text": ["hi"], "client_id": "{CID}"}}', "must be a string"),
        (f'{{"type": "message", "text": "hi", "client_id": "{CID}", "html": 1}}', "html"),
    ],
)
def test_malformed_frames_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_frame(raw, max_chars=50)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "text is empty"),
        ("   \n\t ", "text is empty"),
        ("x" * 51, "longer than 50 characters"),
        ("hi\x00there", "control characters"),
        ("\ud800", "not valid Unicode"),
    ],
)
def test_unstorable_text_is_rejected_with_the_client_id(text: str, reason: str) -> None:
    with pytest.raises(TextRejected) as info:
        parse({"type": "message", "text": text, "client_id": CID})
    assert reason in str(info.value)
    assert info.value.client_id == CID


def test_text_at_the_limit_is_accepted_and_newlines_kept() -> None:
    frame = parse({"type": "message", "text": "a\nb" + "c" * 47, "client_id": CID})
    assert isinstance(frame, ChatText)
    assert frame.text.startswith("a\nb")
    assert len(frame.text) == 50


def test_session_token_round_trip() -> None:
    user, token = new_session_token(SECRET)
    assert user.startswith("anon:")
    assert token.startswith(user + ".")
    assert verify_session_token(SECRET, token).external_user_id == user
    assert verify_session_token(SECRET, token).verified_customer_ref is None


def test_sessions_are_unique() -> None:
    assert len({new_session_token(SECRET)[0] for _ in range(100)}) == 100


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("anon:", "anon:x", 1),  # different id, same signature
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # signature changed
        lambda t: t.split(".")[0],  # signature dropped
        lambda t: "customer:42." + t.split(".")[1],  # not an anonymous id
    ],
)
def test_tampered_session_tokens_are_refused(tamper: object) -> None:
    _, token = new_session_token(SECRET)
    with pytest.raises(IdentityError):
        verify_session_token(SECRET, tamper(token))  # type: ignore[operator]


def test_session_from_another_secret_is_refused() -> None:
    _, token = new_session_token("another-secret")
    with pytest.raises(IdentityError, match="signature does not match"):
        verify_session_token(SECRET, token)


def test_customer_hmac_is_plain_hmac_sha256_hex() -> None:
    # What a shop computes on its backend (docs/channels/webchat.md).
    expected = hmac.new(SECRET.encode(), b"cust-1001", hashlib.sha256).hexdigest()
    assert customer_hmac(SECRET, "cust-1001") == expected
    user = verify_customer(SECRET, "cust-1001", expected.upper())
    assert user.external_user_id == "customer:cust-1001"
    assert user.verified_customer_ref == "cust-1001"


@pytest.mark.parametrize(
    ("customer_id", "signature", "reason"),
    [
        ("cust-1001", customer_hmac(SECRET, "cust-1002"), "does not match"),
        ("cust-1001", "", "does not match"),
        ("cust-1001", customer_hmac("other", "cust-1001"), "does not match"),
        ("", customer_hmac(SECRET, ""), "1 to 128 characters"),
        ("x" * 129, customer_hmac(SECRET, "x" * 129), "1 to 128 characters"),
        ("a\nb", customer_hmac(SECRET, "a\nb"), "control characters"),
    ],
)
def test_wrong_customer_claims_are_refused(customer_id: str, signature: str, reason: str) -> None:
    with pytest.raises(IdentityError, match=reason):
        verify_customer(SECRET, customer_id, signature)


def test_a_session_signature_never_passes_as_a_customer_hmac() -> None:
    user, token = new_session_token(SECRET)
    signature = token.rpartition(".")[2]
    with pytest.raises(IdentityError):
        verify_customer(SECRET, user, signature)
