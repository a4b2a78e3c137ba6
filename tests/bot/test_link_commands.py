"""/link and /start CODE through the whole pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.commands import parse_link_command
from bot.messages import OutboundMessage
from memory.context import ContextLimits
from memory.models import (
    ChannelIdentity,
    Conversation,
    IdentityEvent,
    InboundEvent,
    LinkCode,
    Message,
    OutboxItem,
)
from memory.unit_of_work import SqlUnitOfWork
from tests.bot.harness import Harness, RecordingChannel

CODE = re.compile(r"Your link code is ([A-Z2-9]{8})\.")


@pytest.fixture
def telegram(h: Harness) -> RecordingChannel:
    channel = RecordingChannel(name="telegram")
    h.runtime.outbox.add_sender(channel.name, channel)
    return channel


async def rows(h: Harness, model: type, *where: object) -> list:  # type: ignore[type-arg]
    async with h.runtime.session_factory() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def say_on(h: Harness, channel: RecordingChannel, user: str, text: str) -> OutboundMessage:
    before = len(channel.sent)
    assert await h.runtime.ingest(h.message(user, text, channel=channel.name))
    await h.process()
    assert len(channel.sent) == before + 1, "exactly one reply per message"
    return channel.sent[-1]


async def code_from(h: Harness, user: str) -> str:
    reply = await h.say(user, "/link")
    match = CODE.search(reply.text)
    assert match, reply.text
    return match.group(1)


async def identity(h: Harness, channel: str, user: str) -> ChannelIdentity:
    (row,) = await rows(
        h,
        ChannelIdentity,
        ChannelIdentity.channel == channel,
        ChannelIdentity.external_user_id == user,
    )
    return row


def test_only_link_commands_are_recognised() -> None:
    assert parse_link_command("/link") is not None
    assert parse_link_command("/link").code is None  # type: ignore[union-attr]
    assert parse_link_command(" /LINK ab12cd34 ").code == "ab12cd34"  # type: ignore[union-attr]
    assert parse_link_command("/start K7QMP2XD").code == "K7QMP2XD"  # type: ignore[union-attr]
    assert parse_link_command("/link@shop_bot K7QMP2XD").code == "K7QMP2XD"  # type: ignore[union-attr]
    assert parse_link_command("/start") is None, "a plain /start is a greeting"
    assert parse_link_command("how do I link my accounts?") is None
    assert parse_link_command("/link one two") is None


async def test_a_code_from_one_channel_links_another_and_the_story_follows(
    h: Harness, telegram: RecordingChannel
) -> None:
    ref, order = await h.customer_with_latest("shipped")
    web_user = f"customer:{ref}"
    first = await h.say(web_user, "where is my order?", ref=ref)
    assert order.id in first.text
    code = await code_from(h, web_user)

    linked = await say_on(h, telegram, "tg-100", f"/link {code}")
    assert "now linked to your account" in linked.text
    web = await identity(h, "testchat", web_user)
    tg = await identity(h, "telegram", "tg-100")
    assert tg.customer_id == web.customer_id
    assert (tg.verified, tg.verified_via) == (True, "link_code")

    reply = await say_on(h, telegram, "tg-100", "where is my order now?")
    assert reply.metadata["action"] == "answer"
    assert order.id in reply.text, "Telegram now speaks for the verified customer"
    (conversation,) = await rows(h, Conversation, Conversation.customer_id == web.customer_id)
    with_turns = ContextLimits(turn_texts=True)  # the turns a model's prompt carries
    orders = h.runtime.pipeline.orders
    async with SqlUnitOfWork(h.runtime.session_factory, orders, with_turns) as uow:
        record = await uow.conversations.latest(web.customer_id)
        assert record is not None and record.id == conversation.id
        context = await uow.context.build(
            customer_id=web.customer_id,
            conversation=record,
            channel="telegram",
            verified=True,
            verified_via="link_code",
            now=h.clock(),
        )
    turns = [(t.channel, t.author, t.text) for t in context.recent_turns]
    assert turns[0] == ("testchat", "customer", "where is my order?")
    assert ("testchat", "bot", first.text) in turns
    assert turns[-2] == ("telegram", "customer", "where is my order now?")
    history = await h.runtime.history("telegram", "tg-100", 50)
    assert [t.text for t in history][:2] == ["where is my order?", first.text]


async def test_a_telegram_deep_link_start_code_links_too(
    h: Harness, telegram: RecordingChannel
) -> None:
    await h.say("anon-web", "Do you ship to Canada?")
    code = await code_from(h, "anon-web")
    reply = await say_on(h, telegram, "tg-200", f"/start {code}")
    assert "now linked" in reply.text
    tg = await identity(h, "telegram", "tg-200")
    web = await identity(h, "testchat", "anon-web")
    assert tg.customer_id == web.customer_id
    assert not tg.verified, "a link is never more verified than the chat that asked for it"


async def test_a_code_works_once(h: Harness, telegram: RecordingChannel) -> None:
    code = await code_from(h, "anon-a")
    assert "now linked" in (await say_on(h, telegram, "tg-1", f"/link {code}")).text
    again = await say_on(h, telegram, "tg-2", f"/link {code}")
    assert "already been used" in again.text
    assert (await identity(h, "telegram", "tg-2")).customer_id != (
        await identity(h, "testchat", "anon-a")
    ).customer_id


async def test_a_code_expires_after_fifteen_minutes(h: Harness, telegram: RecordingChannel) -> None:
    code = await code_from(h, "anon-b")
    h.clock.now += timedelta(minutes=15, seconds=1)
    reply = await say_on(h, telegram, "tg-3", f"/link {code.lower()}")
    assert "expired" in reply.text
    assert (await identity(h, "telegram", "tg-3")).customer_id != (
        await identity(h, "testchat", "anon-b")
    ).customer_id


async def test_a_code_still_works_just_before_it_expires(
    h: Harness, telegram: RecordingChannel
) -> None:
    code = await code_from(h, "anon-c")
    h.clock.now += timedelta(minutes=14, seconds=59)
    assert "now linked" in (await say_on(h, telegram, "tg-4", f"/link {code}")).text


async def test_an_unknown_code_is_refused(h: Harness) -> None:
    reply = await h.say("anon-d", "/link ABCDEFGH")
    assert "don't recognise that link code" in reply.text
    reply = await h.say("anon-d", "/link not-a-code")
    assert "don't recognise that link code" in reply.text


async def test_codes_are_stored_only_as_hashes(h: Harness) -> None:
    code = await code_from(h, "anon-e")
    (row,) = await rows(h, LinkCode)
    assert row.code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in row.code_hash
    assert row.expires_at - row.created_at == timedelta(minutes=15)
    assert row.issued_on == "testchat"


async def test_a_known_customer_is_never_merged_by_a_code(
    h: Harness, telegram: RecordingChannel
) -> None:
    ref, _ = await h.customer_with_latest("shipped")
    code = await code_from(h, "anon-f")
    other_ref, _ = await h.customer_with_latest("delivered")
    assert other_ref != ref
    # The Telegram chat already speaks for another customer with a shop login.
    await h.say(f"customer:{other_ref}", "hello", ref=other_ref)
    await h.say("anon-f", "hello")  # the web chat stays anonymous
    known = await identity(h, "testchat", f"customer:{other_ref}")
    reply = await h.say(f"customer:{other_ref}", f"/link {code}", ref=other_ref)
    assert "different customer account" in reply.text
    assert "merge" in reply.text
    after = await identity(h, "testchat", f"customer:{other_ref}")
    assert after.customer_id == known.customer_id
    anon = await identity(h, "testchat", "anon-f")
    (refused,) = await rows(h, IdentityEvent, IdentityEvent.action == "link_refused")
    assert (refused.identity_id, refused.from_customer_id, refused.to_customer_id) == (
        known.id,
        known.customer_id,
        anon.customer_id,
    )
    assert (refused.actor, refused.method) == ("customer", "link_code")


async def test_the_command_and_reply_go_through_the_outbox_in_one_transaction(
    h: Harness,
) -> None:
    await code_from(h, "anon-g")
    messages = await rows(h, Message)
    assert [(m.author, m.meta.get("command")) for m in messages] == [
        ("customer", "link"),
        ("bot", "link"),
    ]
    (item,) = await rows(h, OutboxItem)
    assert (item.message_id, item.state) == (messages[1].id, "sent")
    (event,) = await rows(h, InboundEvent)
    assert event.state == "done"
    assert messages[0].inbound_event_id == event.id


async def test_every_link_is_audited_with_who_how_and_when(
    h: Harness, telegram: RecordingChannel
) -> None:
    ref, order = await h.customer_with_latest("shipped")
    await h.say(f"customer:{ref}", "hi", ref=ref)
    login = await identity(h, "testchat", f"customer:{ref}")

    await say_on(h, telegram, "tg-proof", "where is my order?")
    anon_customer = (await identity(h, "telegram", "tg-proof")).customer_id
    await say_on(h, telegram, "tg-proof", f"{order.id} {order.email}")
    proven = await identity(h, "telegram", "tg-proof")
    assert proven.customer_id == login.customer_id

    code = await code_from(h, f"customer:{ref}")
    await say_on(h, telegram, "tg-code", f"/link {code}")
    by_code = await identity(h, "telegram", "tg-code")

    events = await rows(h, IdentityEvent)
    links = {
        (e.identity_id, e.method, e.from_customer_id, e.to_customer_id)
        for e in events
        if e.action == "link"
    }
    assert (login.id, "shop_login", None, login.customer_id) in links
    assert (proven.id, "order_email", anon_customer, login.customer_id) in links
    assert any(i == by_code.id and m == "link_code" for i, m, _, _ in links)
    merges = [e for e in events if e.action == "merge"]
    assert {(e.from_customer_id, e.method) for e in merges} >= {(anon_customer, "order_email")}
    assert all(e.actor == "customer" and e.created_at is not None for e in events)


async def test_what_the_sender_said_before_linking_joins_the_open_conversation(
    h: Harness, telegram: RecordingChannel
) -> None:
    await h.say("anon-web2", "Do you ship to Canada?")
    code = await code_from(h, "anon-web2")
    await say_on(h, telegram, "tg-early", "hello there")
    await say_on(h, telegram, "tg-early", f"/link {code}")
    await say_on(h, telegram, "tg-early", "how much is shipping?")
    web = await identity(h, "testchat", "anon-web2")
    (conversation,) = await rows(h, Conversation, Conversation.customer_id == web.customer_id)
    texts = [
        (m.channel, m.text)
        for m in sorted(
            await rows(h, Message, Message.conversation_id == conversation.id), key=lambda m: m.id
        )
        if m.author == "customer"
    ]
    assert texts == [
        ("testchat", "Do you ship to Canada?"),
        ("testchat", "/link"),
        ("telegram", "hello there"),
        ("telegram", f"/link {code}"),
        ("telegram", "how much is shipping?"),
    ]
    turns = await h.runtime.history("telegram", "tg-early", 50)
    assert turns[0].text == "Do you ship to Canada?"
