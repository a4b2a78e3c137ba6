"""The widget's own behaviour in headless Chromium: reconnect and resend, replies with quick
replies, and a refused login. The channel runs in a real aiohttp server on 127.0.0.1 over an
in-memory inbox, so each failure can be staged exactly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.messages import Author, InboundMessage, OutboundMessage, Turn
from channels.webchat import WebchatChannel, customer_hmac
from tests.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.browser

SECRET = "widget-browser-secret"


@dataclass
class Inbox:
    stored: list[InboundMessage] = field(default_factory=list)
    turns: dict[str, list[Turn]] = field(default_factory=dict)
    failures_left: int = 0
    attempts: int = 0

    async def ingest(self, msg: InboundMessage) -> bool:
        self.attempts += 1
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("database is restarting")
        if any(m.external_event_id == msg.external_event_id for m in self.stored):
            return False
        self.stored.append(msg)
        self.turns.setdefault(msg.external_user_id, []).append(
            Turn(len(self.stored), Author.CUSTOMER, "webchat", msg.text, datetime.now(UTC))
        )
        return True

    async def history(self, user: str, limit: int) -> list[Turn]:
        return self.turns.get(user, [])[-limit:]


@dataclass
class Served:
    url: str
    channel: WebchatChannel
    inbox: Inbox


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    inbox = Inbox()

    async def customers() -> list[dict[str, str]]:
        return [{"ref": "C77", "name": "Rui Costa", "email": "rui@example.com", "note": ""}]

    channel = WebchatChannel(
        secret=SECRET, ingest=inbox.ingest, history=inbox.history, demo_customers=customers
    )
    app = web.Application()
    app.add_routes(channel.routes())

    async def forged_login(_: web.Request) -> web.Response:
        forged = customer_hmac("not-the-secret", "C77")
        tag = (
            '<script src="/widget/widget.js" data-threadline-customer="C77" '
            f'data-threadline-hmac="{forged}"></script>'
        )
        return web.Response(text=f"<!doctype html><body>{tag}</body>", content_type="text/html")

    app.router.add_get("/forged", forged_login)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield Served(f"http://127.0.0.1:{runner.addresses[0][1]}", channel, inbox)
    finally:
        await channel.shutdown()
        await runner.cleanup()


@pytest.fixture
async def page(chromium: Path, served: Served) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield await browser.new_page()
        finally:
            await browser.close()


async def test_unstored_message_is_resent_after_reconnect_and_stored_once(
    served: Served, page: Any
) -> None:
    from playwright.async_api import expect

    await page.goto(served.url + "/?customer=C77")
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.locator(".tl-status")).to_have_text("Online")
    served.inbox.failures_left = 1  # the first attempt fails: the server closes with 1011

    await page.locator("#tl-input").fill("my parcel is late")
    await page.get_by_role("button", name="Send message").click()
    sent = page.locator("li.tl-customer")
    await expect(sent).to_have_count(1)
    # Acked only after the reconnect and resend: no bubble is left "sending".
    await expect(page.locator("li.tl-sending")).to_have_count(0, timeout=10_000)
    await expect(page.locator(".tl-status")).to_have_text("Online")

    assert served.inbox.attempts == 2
    [stored] = served.inbox.stored
    assert (stored.text, stored.verified_customer_ref) == ("my parcel is late", "C77")
    await expect(page.locator(".tl-typing")).to_be_visible()

    # A reply with quick replies; clicking one sends it as the customer's next message.
    delivered = await served.channel.send(
        OutboundMessage(
            channel="webchat",
            external_user_id="customer:C77",
            text="Sorry about that! Shall I check the carrier?",
            conversation_id=1,
            message_id=1000,
            quick_replies=("Yes, please", "No, thanks"),
        )
    )
    assert delivered is not None
    await expect(page.locator("li.tl-bot .tl-text")).to_have_text(
        ["Sorry about that! Shall I check the carrier?"]
    )
    await expect(page.locator(".tl-typing")).to_be_hidden()
    await page.get_by_role("button", name="Yes, please").click()
    await expect(page.locator("li.tl-customer .tl-text").last).to_have_text("Yes, please")
    for _ in range(50):
        if len(served.inbox.stored) == 2:
            break
        await asyncio.sleep(0.1)
    assert [m.text for m in served.inbox.stored] == ["my parcel is late", "Yes, please"]
    await expect(page.locator(".tl-chip")).to_have_count(0)


async def test_forged_login_is_refused_and_never_chats_as_a_guest(
    served: Served, page: Any
) -> None:
    from playwright.async_api import expect

    await page.goto(served.url + "/forged")
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.get_by_role("alert")).to_contain_text("could not confirm your login")
    await expect(page.locator(".tl-status")).to_have_text("Offline")
    await page.locator("#tl-input").fill("hello?")
    await page.keyboard.press("Enter")
    await expect(page.locator("#tl-input")).to_have_value("hello?")  # kept: nothing was sent
    await expect(page.locator("li.tl-customer")).to_have_count(0)
    await asyncio.sleep(0.3)
    assert served.inbox.stored == []
    assert served.channel.open_sockets("customer:C77") == 0
