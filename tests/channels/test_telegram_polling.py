"""Long polling and webhook registration against the fake Bot API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from click.testing import CliRunner

from bot.cli_telegram import telegram
from channels.telegram import Poller, WebhookSetupError, register_webhook
from tests.channels.fake_telegram import (
    CUSTOMER_CHAT,
    SECRET,
    TOKEN,
    USERNAME,
    FakeTelegram,
    Rig,
    payload,
    telegram_rig,
)

HOOK_URL = "https://shop.example.com/webhooks/telegram"


@pytest.fixture(autouse=True)
def _sdk_time_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def rig(demo_database_url: str) -> AsyncIterator[Rig]:
    async with telegram_rig(demo_database_url) as r:
        yield r


async def test_polled_updates_take_the_webhook_path_and_are_answered(rig: Rig) -> None:
    rig.fake.webhook = {"url": HOOK_URL}
    poller = Poller(rig.channel, timeout=1)
    await poller.prepare()
    assert rig.fake.webhook == {}  # Telegram serves polling or a webhook, not both

    rig.fake.queue_update(payload("text"))
    rig.fake.queue_update(payload("edited_message"))
    assert await poller.poll_once() == 2
    assert poller.offset == 811000107
    await rig.process()
    [customer] = await rig.customer_messages()
    assert customer.text == "Hi! Do you ship to Poland?"
    [sent] = rig.fake.sent
    assert sent["chat_id"] == str(CUSTOMER_CHAT)

    # A restarted poller has no offset: Telegram sends the unconfirmed updates again, and
    # ingest drops the one already stored.
    rig.fake.queue_update(payload("photo", update_id=811000200))
    restarted = Poller(rig.channel, timeout=0)
    assert await restarted.poll_once() == 3
    await rig.process()
    assert [m.text for m in await rig.customer_messages()] == [
        "Hi! Do you ship to Poland?",
        "The mug arrived broken",
    ]
    assert len(rig.fake.sent) == 2

    # The next poll confirms what was stored: nothing comes twice.
    assert await restarted.poll_once() == 0
    assert rig.fake.calls_of("getUpdates")[-1].params["offset"] == "811000201"


async def test_run_polls_until_stopped(rig: Rig) -> None:
    rig.fake.queue_update(payload("text"))
    stop = asyncio.Event()
    poller = Poller(rig.channel, timeout=5)
    task = asyncio.create_task(poller.run(stop))
    await asyncio.wait_for(rig.fake.wait_for("getUpdates", 2), 10)
    stop.set()
    await asyncio.wait_for(task, 5)  # a long poll in flight does not hold the stop up
    assert len(await rig.events()) == 1
    assert poller.offset == 811000102


async def test_register_webhook_sends_the_url_secret_and_update_types() -> None:
    fake = FakeTelegram()
    await fake.start()
    try:
        username = await register_webhook(
            token=TOKEN, api_url=fake.url, url=HOOK_URL, secret=SECRET, drop_pending_updates=True
        )
        assert username == USERNAME
        assert fake.webhook["url"] == HOOK_URL
        assert fake.webhook["secret_token"] == SECRET
        assert fake.webhook["allowed_updates"] == ["message"]
        assert fake.webhook["drop_pending_updates"] == "true"

        fake.fail_next(
            "setWebhook", 400, description="Bad Request: bad webhook: Failed to resolve host"
        )
        with pytest.raises(WebhookSetupError, match=r"(?i)failed to resolve host"):
            await register_webhook(token=TOKEN, api_url=fake.url, url=HOOK_URL, secret=SECRET)
    finally:
        await fake.stop()


@pytest.fixture
def threaded_fake() -> Iterator[FakeTelegram]:
    """The fake on its own loop in a thread, for the CLI (which runs its own loop)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakeTelegram()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(10)
    yield fake
    asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def _env(fake_url: str = "http://127.0.0.1:9", **changes: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_URL": fake_url,
    }
    env.update(changes)
    return env


def test_cli_set_webhook_registers_it(threaded_fake: FakeTelegram) -> None:
    result = CliRunner().invoke(telegram, ["set-webhook", HOOK_URL], env=_env(threaded_fake.url))
    assert result.exit_code == 0, result.output
    assert f"Telegram now posts @{USERNAME}'s updates to {HOOK_URL}" in result.output
    assert threaded_fake.webhook["secret_token"] == SECRET


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ([HOOK_URL], _env(TELEGRAM_BOT_TOKEN=None), "TELEGRAM_BOT_TOKEN is not set"),
        ([HOOK_URL], _env(TELEGRAM_WEBHOOK_SECRET=None), "TELEGRAM_WEBHOOK_SECRET is not set"),
        ([HOOK_URL], _env(TELEGRAM_WEBHOOK_SECRET="has spaces"), "may only use the characters"),
        ([HOOK_URL], _env(TELEGRAM_WEBHOOK_SECRET="x" * 257), "at most 256"),
        (["http://shop.example.com/webhooks/telegram"], _env(), "only calls https://"),
    ],
)
def test_cli_set_webhook_refuses_bad_settings_before_calling_telegram(
    args: list[str], env: dict[str, str | None], message: str
) -> None:
    # The API URL points at a closed port: any call would fail differently.
    result = CliRunner().invoke(telegram, ["set-webhook", *args], env=env)
    assert result.exit_code == 1
    assert message in result.output
