"""Telegram in the running application: on only with a token, listed by /readyz, and the
webhook answers before a slow reply is sent."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.bootstrap import build_runtime
from bot.settings import Settings
from bot.wire_telegram import add_telegram
from tests.channels.fake_telegram import (
    SECRET,
    TOKEN,
    FakeTelegram,
    payload,
    shared_understander,
)


@pytest.fixture(autouse=True)
def _sdk_time_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


async def test_without_a_token_telegram_is_off_and_readyz_says_so(
    demo_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = build_runtime(
        Settings(DATABASE_URL=demo_database_url), understander=shared_understander()
    )
    with caplog.at_level(logging.INFO, logger="bot.wire_telegram"):
        assert add_telegram(runtime) is False
    assert "telegram: off (TELEGRAM_BOT_TOKEN is not set)" in caplog.messages
    async with TestClient(TestServer(build_app(runtime), host="127.0.0.1")) as client:
        ready = await (await client.get("/readyz")).json()
        assert "telegram" not in ready["channels"]
        assert (await client.post("/webhooks/telegram", json=payload("text"))).status == 404


async def test_the_webhook_answers_before_a_slow_reply_is_sent(
    demo_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeTelegram()
    await fake.start()
    fake.slow_down("sendMessage", 1.0)
    settings = Settings(
        DATABASE_URL=demo_database_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_URL=fake.url,
    )
    runtime = build_runtime(settings, understander=shared_understander(), worker_poll_interval=0.05)
    assert add_telegram(runtime) is True
    app: web.Application = build_app(runtime)
    try:
        with caplog.at_level(logging.INFO):
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                ready = await (await client.get("/readyz")).json()
                assert "telegram" in ready["channels"]
                assert any("channels on: telegram" in m for m in caplog.messages)

                resp = await client.post(
                    "/webhooks/telegram",
                    data=json.dumps(payload("text")),
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                fake.events.append(f"webhook answered {resp.status}")
                await asyncio.wait_for(fake.wait_for_event("sendMessage answered"), 10)
    finally:
        await fake.stop()
    # The reply takes a second to send; the platform had its 200 before that was done.
    assert fake.events.index("webhook answered 200") < fake.events.index("sendMessage answered")
