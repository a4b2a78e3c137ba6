"""The Telegram webhook and replies, end to end: the real SDK against a fake Bot API on
127.0.0.1, the real runtime on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.channels.fake_telegram import CUSTOMER_CHAT, Rig, payload, telegram_rig

IGNORED = ["edited_message", "channel_post", "callback_query", "service_message", "group_message"]


@pytest.fixture(autouse=True)
def _sdk_time_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # What add_telegram opts in to; set here so the test run leaves the environment as it was.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def rig(demo_database_url: str) -> AsyncIterator[Rig]:
    async with telegram_rig(demo_database_url) as r:
        yield r


async def test_wrong_or_missing_secret_is_refused_and_nothing_is_stored(rig: Rig) -> None:
    wrong = await rig.post(payload("text"), secret="not-the-secret")
    assert wrong.status == 403
    assert (await wrong.json())["reason"] == "wrong X-Telegram-Bot-Api-Secret-Token"
    missing = await rig.post(payload("text"), secret=None)
    assert missing.status == 403
    assert (await missing.json())["reason"] == "missing X-Telegram-Bot-Api-Secret-Token"
    await rig.process()
    assert await rig.events() == []
    assert rig.fake.calls_of("sendMessage") == []


async def test_without_a_webhook_secret_every_webhook_call_is_refused(
    demo_database_url: str,
) -> None:
    async with telegram_rig(demo_database_url, secret=None) as rig:
        for header in (None, "", "anything"):
            resp = await rig.post(payload("text"), secret=header)
            assert resp.status == 403
            reason = (await resp.json())["reason"]
            assert reason == "the webhook is off: TELEGRAM_WEBHOOK_SECRET is not set"
        assert await rig.events() == []


MALFORMED = [
    (b'{"update_id": 1, "message": ', "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"message": {"text": "hi"}}', "update_id"),
    (b'{"update_id": 9, "message": "hi"}', "shape"),
]


async def test_malformed_bodies_are_a_400_with_a_reason_and_nothing_is_stored(rig: Rig) -> None:
    for body, reason in MALFORMED:
        resp = await rig.post(body)
        assert resp.status == 400, body
        assert reason in (await resp.json())["reason"], body
    assert await rig.events() == []


async def test_text_is_stored_before_the_answer_then_the_reply_goes_to_the_chat(rig: Rig) -> None:
    resp = await rig.post(payload("text"))
    assert resp.status == 200
    assert await resp.json() == {"ok": True, "stored": 1, "duplicates": 0}
    [event] = await rig.events()  # stored before the 200, nothing processed yet
    assert (event.state, event.external_event_id) == ("pending", "7001002003:811000101")

    await rig.process()

    [customer] = await rig.customer_messages()
    assert customer.text == "Hi! Do you ship to Poland?"
    [sent] = rig.fake.sent
    assert sent["chat_id"] == str(CUSTOMER_CHAT)
    [item] = await rig.outbox()
    assert item.state == "sent"
    assert item.external_message_id == f"{CUSTOMER_CHAT}:101"
    async with rig.runtime.session_factory() as session:
        from memory.models import Message

        reply = await session.get(Message, item.message_id)
    assert reply is not None and reply.author == "bot"
    assert sent["text"] == reply.text and reply.text.strip()
    identity = await rig.identity()
    assert identity.display_name == "Marta Kowalska"
    assert [c.method for c in rig.fake.calls].count("getMe") == 1


async def test_photo_document_and_contact_are_stored_as_typed_attachments(rig: Rig) -> None:
    for name in ("photo", "document", "contact"):
        resp = await rig.post(payload(name))
        assert (await resp.json())["stored"] == 1
    await rig.process()
    photo, document, contact = await rig.customer_messages()
    assert photo.text == "The mug arrived broken"
    assert photo.attachments == [{"kind": "photo", "file_id": "AgACAgIAAxkBAAIBSmdPhotoLarge1280"}]
    assert document.attachments == [
        {
            "kind": "document",
            "file_id": "BQACAgIAAxkBAAIBS2dDocumentInvoice1042",
            "name": "invoice-1042.pdf",
            "mime_type": "application/pdf",
        }
    ]
    assert contact.text == "(shared a contact)"
    assert contact.attachments == [{"kind": "contact", "phone": "+48601234567"}]
    assert len(rig.fake.sent) == 3  # every one of them answered


async def test_a_retried_update_is_stored_once_and_answered_once(rig: Rig) -> None:
    first = await rig.post(payload("text"))
    await rig.process()
    again = await rig.post(payload("text"))
    assert await first.json() == {"ok": True, "stored": 1, "duplicates": 0}
    assert again.status == 200
    assert await again.json() == {"ok": True, "stored": 0, "duplicates": 1}
    await rig.process()
    assert len(await rig.customer_messages()) == 1
    assert len(await rig.events()) == 1
    assert len(rig.fake.calls_of("sendMessage")) == 1


async def test_updates_without_a_customer_message_are_acknowledged_and_dropped(rig: Rig) -> None:
    for name in IGNORED:
        resp = await rig.post(payload(name))
        assert resp.status == 200, name
        assert await resp.json() == {"ok": True, "stored": 0, "duplicates": 0}, name
    await rig.process()
    assert await rig.events() == []
    assert rig.fake.calls_of("sendMessage") == []


async def test_a_message_the_store_refuses_is_acknowledged_so_telegram_stops_retrying(
    rig: Rig,
) -> None:
    too_long = "a" * (rig.runtime.settings.max_message_chars + 1)
    resp = await rig.post(payload("text", text=too_long))
    assert resp.status == 200
    body = await resp.json()
    assert body["stored"] == 0 and "longer than" in body["rejected"]
    assert await rig.events() == []


async def test_flood_control_429_is_retried_after_the_delay_and_sent_once(rig: Rig) -> None:
    rig.fake.fail_next("sendMessage", 429, retry_after=3)
    await rig.post(payload("text"))
    await rig.process()
    assert len(rig.fake.calls_of("sendMessage")) == 1
    assert rig.fake.sent == []
    [item] = await rig.outbox()
    assert item.state == "pending"
    assert item.next_attempt_at == rig.clock.now + timedelta(seconds=3)

    rig.clock.now += timedelta(seconds=2)
    await rig.process()
    assert len(rig.fake.calls_of("sendMessage")) == 1  # not before Telegram's delay

    rig.clock.now += timedelta(seconds=1)
    await rig.process()
    assert len(rig.fake.calls_of("sendMessage")) == 2
    assert len(rig.fake.sent) == 1
    [item] = await rig.outbox()
    assert item.state == "sent"


async def test_a_customer_who_blocked_the_bot_is_marked_unreachable_without_retries(
    rig: Rig,
) -> None:
    rig.fake.fail_next("sendMessage", 403)
    await rig.post(payload("text"))
    await rig.process()
    [item] = await rig.outbox()
    assert item.state == "failed"
    assert item.error is not None and "blocked" in item.error
    assert (await rig.identity()).unreachable is True

    rig.clock.now += timedelta(hours=6)
    await rig.process()
    assert len(rig.fake.calls_of("sendMessage")) == 1
