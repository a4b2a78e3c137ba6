"""The widget's "Continue on Telegram" button in headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.messages import InboundMessage, Turn
from channels.webchat import WebchatChannel
from tests.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.browser

SECRET = "widget-link-secret"
PAGE = '<!doctype html><body><script src="/widget/widget.js"></script></body>'


class Shop:
    def __init__(self) -> None:
        self.bot: str | None = "shop_help_bot"
        self.asked: list[tuple[str, str | None]] = []

    async def ingest(self, msg: InboundMessage) -> bool:
        return True

    async def history(self, user: str, limit: int) -> list[Turn]:
        return []

    async def issue(self, user: str, ref: str | None) -> tuple[str, datetime]:
        self.asked.append((user, ref))
        return "W4RTU334", datetime.now(UTC) + timedelta(minutes=15)


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Shop]]:
    shop = Shop()
    channel = WebchatChannel(
        secret=SECRET,
        ingest=shop.ingest,
        history=shop.history,
        issue_link_code=shop.issue,
        telegram_bot_username=lambda: shop.bot,
    )
    app = web.Application()
    app.add_routes(channel.routes())

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", shop
    finally:
        await channel.shutdown()
        await runner.cleanup()


@pytest.fixture
async def page(chromium: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield await browser.new_page()
        finally:
            await browser.close()


async def test_continue_on_telegram_shows_the_deep_link_and_code(
    served: tuple[str, Shop], page: Any
) -> None:
    from playwright.async_api import expect

    url, shop = served
    await page.goto(url + "/")
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.locator(".tl-status")).to_have_text("Online")
    await page.get_by_role("button", name="Continue on Telegram").click()
    link = page.get_by_role("link", name="Open Telegram")
    await expect(link).to_have_attribute("href", "https://t.me/shop_help_bot?start=W4RTU334")
    await expect(page.locator(".tl-elsewhere-info")).to_contain_text("/link W4RTU334")
    [(user, ref)] = shop.asked
    assert user.startswith("anon:") and ref is None


async def test_no_telegram_button_while_telegram_is_off(
    served: tuple[str, Shop], page: Any
) -> None:
    from playwright.async_api import expect

    url, shop = served
    shop.bot = None
    await page.goto(url + "/")
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.locator(".tl-status")).to_have_text("Online")
    await expect(page.get_by_role("button", name="Continue on Telegram")).to_be_hidden()
