"""Replies to Slack customers through the real Web API client against the fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.messages import OutboundMessage, SendError
from channels.slack.sender import Pacer, SlackSender
from channels.slack_common import SlackWebApi
from tests.channels.fake_slack import BOT_TOKEN, TEAM_ID, Failure, FakeSlack


@pytest.fixture
async def web(fake: FakeSlack) -> AsyncIterator[SlackWebApi]:
    api = SlackWebApi(base_url=fake.api_url)
    await api.open()
    yield api
    await api.close()


def reply(
    text: str = "Your order shipped.", *, user: str = "U0CUST0001", quick: tuple[str, ...] = ()
) -> OutboundMessage:
    return OutboundMessage(
        channel="slack",
        external_user_id=f"{TEAM_ID}:{user}",
        text=text,
        conversation_id=1,
        message_id=7,
        quick_replies=quick,
    )


def sender_for(web: SlackWebApi, *, token: str = BOT_TOKEN) -> SlackSender:
    return SlackSender(web.client(token), pacer=Pacer(0.0))


async def test_an_unknown_dm_is_opened_once_and_remembered(
    fake: FakeSlack, web: SlackWebApi
) -> None:
    sender = sender_for(web)
    first = await sender.send(reply("one"))
    second = await sender.send(reply("two"))
    assert first != second
    assert [c.params["users"] for c in fake.called("conversations.open")] == ["U0CUST0001"]
    assert [(p["channel"], p["text"]) for p in fake.posted()] == [
        ("D0CUST0001", "one"),
        ("D0CUST0001", "two"),
    ]
    assert first == fake.accepted("chat.postMessage")[0].answer["ts"]


async def test_text_is_escaped_and_quick_replies_become_buttons(
    fake: FakeSlack, web: SlackWebApi
) -> None:
    await sender_for(web).send(reply("Refunds <5 days> & more", quick=("Yes", "No, thanks")))
    [posted] = fake.posted()
    assert posted["text"] == "Refunds &lt;5 days&gt; &amp; more"
    section, actions = posted["blocks"]
    assert section["text"]["text"] == "Refunds &lt;5 days&gt; &amp; more"
    assert [(b["action_id"], b["value"]) for b in actions["elements"]] == [
        ("quick_reply_0", "Yes"),
        ("quick_reply_1", "No, thanks"),
    ]
    assert posted["unfurl_links"] is False


async def test_a_rate_limit_is_a_retry_after_the_given_delay(
    fake: FakeSlack, web: SlackWebApi
) -> None:
    fake.fail("chat.postMessage", Failure(error="ratelimited", status=429, retry_after=12))
    with pytest.raises(SendError) as caught:
        await sender_for(web).send(reply())
    assert caught.value.retry_after == 12
    assert not caught.value.permanent
    assert fake.posted() == []


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "account_inactive"])
async def test_a_gone_customer_is_a_permanent_failure(
    fake: FakeSlack, web: SlackWebApi, error: str
) -> None:
    fake.fail("chat.postMessage", Failure(error=error))
    with pytest.raises(SendError) as caught:
        await sender_for(web).send(reply())
    assert caught.value.permanent
    assert error in caught.value.reason


async def test_a_deactivated_user_cannot_even_get_a_dm(fake: FakeSlack, web: SlackWebApi) -> None:
    fake.fail("conversations.open", Failure(error="user_disabled"))
    with pytest.raises(SendError) as caught:
        await sender_for(web).send(reply())
    assert caught.value.permanent
    assert fake.called("chat.postMessage") == []


async def test_a_stale_remembered_dm_is_reopened_once(fake: FakeSlack, web: SlackWebApi) -> None:
    sender = sender_for(web)
    sender.direct_channels.remember("U0CUST0001", "D0GONE00001")
    fake.fail("chat.postMessage", Failure(error="channel_not_found"))
    ts = await sender.send(reply())
    assert [c.params["channel"] for c in fake.called("chat.postMessage")] == [
        "D0GONE00001",
        "D0CUST0001",
    ]
    assert ts == fake.accepted("chat.postMessage")[0].answer["ts"]
    assert sender.direct_channels.get("U0CUST0001") == "D0CUST0001"


async def test_a_bad_token_is_retried_not_blamed_on_the_customer(
    fake: FakeSlack, web: SlackWebApi
) -> None:
    with pytest.raises(SendError) as caught:
        await sender_for(web, token="xoxb-revoked").send(reply())
    assert not caught.value.permanent
    assert "invalid_auth" in caught.value.reason


async def test_an_unreachable_api_is_a_transient_failure() -> None:
    api = SlackWebApi(base_url="http://127.0.0.1:9/api/", timeout=2)
    await api.open()
    try:
        with pytest.raises(SendError) as caught:
            await SlackSender(api.client(BOT_TOKEN), pacer=Pacer(0.0)).send(reply())
    finally:
        await api.close()
    assert not caught.value.permanent and caught.value.retry_after is None


async def test_a_malformed_user_key_is_permanent(web: SlackWebApi) -> None:
    bad = OutboundMessage(
        channel="slack", external_user_id="U0CUST0001", text="x", conversation_id=1, message_id=1
    )
    with pytest.raises(SendError) as caught:
        await sender_for(web).send(bad)
    assert caught.value.permanent


async def test_the_pacer_keeps_a_second_between_posts_to_one_channel() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(1.0, clock=lambda: now[0], sleep=sleep)
    await pacer.wait("D1")
    await pacer.wait("D2")
    assert slept == [], "different channels do not wait for each other"
    now[0] += 0.25
    await pacer.wait("D1")
    assert slept == [0.75]
    await pacer.wait("D1")
    assert slept == [0.75, 1.0]
    now[0] += 5
    await pacer.wait("D1")
    assert slept == [0.75, 1.0]
