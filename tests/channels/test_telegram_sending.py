"""TelegramChannel.send through the real SDK against the fake Bot API: buttons, long
texts, Telegram's rates and its errors as the outbox sees them."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from bot.messages import InboundMessage, OutboundMessage, SendError
from channels.telegram import SendLimiter, TelegramChannel
from tests.channels.fake_telegram import CUSTOMER_CHAT, TOKEN, FakeTelegram


async def _no_ingest(msg: InboundMessage) -> bool:
    raise AssertionError("nothing is received in these tests")


@pytest.fixture(autouse=True)
def _sdk_time_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def channel(fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    tg = TelegramChannel(
        token=TOKEN,
        ingest=_no_ingest,
        api_url=fake.url,
        limiter=SendLimiter(per_chat_interval=0.0),
    )
    await tg.startup()
    yield tg
    await tg.shutdown()


def reply(text: str, *, quick: tuple[str, ...] = (), message_id: int = 1) -> OutboundMessage:
    return OutboundMessage(
        channel="telegram",
        external_user_id=str(CUSTOMER_CHAT),
        text=text,
        conversation_id=1,
        message_id=message_id,
        quick_replies=quick,
    )


async def test_quick_replies_arrive_as_a_reply_keyboard(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    external_id = await channel.send(reply("Which order?", quick=("#1042", "#1077")))
    [sent] = fake.sent
    assert external_id == f"{CUSTOMER_CHAT}:{101}"
    assert sent["text"] == "Which order?"
    assert sent["reply_markup"]["keyboard"] == [[{"text": "#1042"}, {"text": "#1077"}]]
    assert sent["reply_markup"]["one_time_keyboard"] is True


async def test_a_reply_without_options_clears_earlier_buttons(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    await channel.send(reply("Your parcel is on its way."))
    assert fake.sent[0]["reply_markup"] == {"remove_keyboard": True}


async def test_buttons_telegram_refuses_fall_back_to_options_in_the_text(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.fail_next("sendMessage", 400)
    await channel.send(reply("Which order?", quick=("#1042", "#1077")))
    [sent] = fake.sent
    assert sent["text"] == "Which order?\n\n• #1042\n• #1077"
    assert "keyboard" not in sent["reply_markup"]


async def test_a_long_reply_is_sent_in_parts_within_the_length_limit(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    text = "\n\n".join(f"Paragraph {i}: " + "details " * 300 for i in range(3))
    external_id = await channel.send(reply(text, message_id=7))
    parts = [s["text"] for s in fake.sent]
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert [p.split(":")[0] for p in parts] == ["Paragraph 0", "Paragraph 1", "Paragraph 2"]
    assert external_id == f"{CUSTOMER_CHAT}:103"  # the last part's message


async def test_a_retry_after_a_flood_wait_sends_only_the_parts_not_yet_sent(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    text = "\n\n".join(f"Part {i}. " + "words " * 500 for i in range(3))
    fake.fail_next("sendMessage", 429, retry_after=5, after=1)
    with pytest.raises(SendError) as failed:
        await channel.send(reply(text, message_id=8))
    assert failed.value.retry_after == 5.0 and not failed.value.permanent
    assert [s["text"][:6] for s in fake.sent] == ["Part 0"]

    await channel.send(reply(text, message_id=8))  # the outbox's retry
    assert [s["text"][:6] for s in fake.sent] == ["Part 0", "Part 1", "Part 2"]


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(403, True), (400, True), (401, False)],
)
async def test_bot_api_errors_tell_the_outbox_whether_to_retry(
    channel: TelegramChannel, fake: FakeTelegram, status: int, permanent: bool
) -> None:
    fake.fail_next("sendMessage", status)
    with pytest.raises(SendError) as failed:
        await channel.send(reply("Hello"))
    assert failed.value.permanent is permanent
    assert failed.value.retry_after is None


async def test_an_unreachable_api_is_a_retryable_error(fake: FakeTelegram) -> None:
    tg = TelegramChannel(token=TOKEN, ingest=_no_ingest, api_url=fake.url)
    await tg.startup()
    await fake.stop()  # the connection is refused from now on
    try:
        with pytest.raises(SendError) as failed:
            await tg.send(reply("Hello"))
        assert not failed.value.permanent and failed.value.retry_after is None
    finally:
        await tg.shutdown()


async def test_a_chat_id_that_is_not_telegrams_is_permanent(channel: TelegramChannel) -> None:
    with pytest.raises(SendError) as failed:
        await channel.send(
            OutboundMessage(
                channel="telegram",
                external_user_id="anon:abc",
                text="Hello",
                conversation_id=1,
                message_id=1,
            )
        )
    assert failed.value.permanent


async def test_start_up_calls_getme_once_whatever_the_number_of_sends(
    channel: TelegramChannel, fake: FakeTelegram
) -> None:
    for n in range(3):
        await channel.send(reply(f"Reply {n}", message_id=n + 1))
    assert [c.method for c in fake.calls] == ["getMe"] + ["sendMessage"] * 3


async def test_a_failed_start_up_connects_at_the_first_send(fake: FakeTelegram) -> None:
    fake.fail_next("getMe", 502)
    tg = TelegramChannel(token=TOKEN, ingest=_no_ingest, api_url=fake.url)
    await tg.startup()  # logs the failure; the web process still starts
    try:
        await tg.send(reply("Hello"))
        assert [c.method for c in fake.calls] == ["getMe", "getMe", "sendMessage"]
    finally:
        await tg.shutdown()


async def test_replies_to_one_chat_are_a_second_apart(fake: FakeTelegram) -> None:
    tg = TelegramChannel(token=TOKEN, ingest=_no_ingest, api_url=fake.url)  # Telegram's limits
    await tg.startup()
    try:
        for n in range(3):
            await tg.send(reply(f"Reply {n}", message_id=n + 1))
    finally:
        await tg.shutdown()
    moments = [c.at for c in fake.calls_of("sendMessage")]
    assert len(moments) == 3
    # Measured where the fake receives them: a second apart, give or take network jitter.
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(moments))
