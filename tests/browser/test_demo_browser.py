"""The demo shop in a real browser: headless Chromium against the real app.

Starts Threadline as ``threadline demo`` would (a migrated SQLite file with the demo
shop imported, the web chat with the demo page), then chats through the widget:
a guest asks about shipping and gets the knowledge answer; a logged-in demo
customer asks where their order is and gets its real status and tracking number.

Run with ``THREADLINE_SCREENSHOT=1`` to write ``docs/images/demo.png``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from memory.demo import KNOWLEDGE_DIR, SHOP_FILE
from tests.browser.demo_server import demo_app

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "demo.png"
REPLY_TIMEOUT_MS = 15_000


@pytest.fixture
async def demo_url(tmp_path: Path) -> AsyncIterator[str]:
    """The real app with the demo shop loaded, on a free port of 127.0.0.1."""
    async with demo_app(tmp_path) as url:
        yield url


def _shop_order(order_id: str) -> dict[str, Any]:
    shop = json.loads(SHOP_FILE.read_text(encoding="utf-8"))
    order: dict[str, Any] = next(o for o in shop["orders"] if o["id"] == order_id)
    return order


def _knowledge_body(entry: str) -> str:
    """The answer text of a knowledge entry (what follows its front matter)."""
    text = (KNOWLEDGE_DIR / f"{entry}.md").read_text(encoding="utf-8")
    return text.split("---", 2)[2].strip()


async def _ask(page: Any, question: str) -> str:
    """Send a question through the widget and return the text of the bot's reply."""
    from playwright.async_api import expect

    replies = page.locator("li.tl-bot .tl-text")
    before = await replies.count()
    await page.locator("#tl-input").fill(question)
    await page.keyboard.press("Enter")
    await expect(page.locator("li.tl-customer .tl-text").last).to_have_text(question)
    await expect(replies).to_have_count(before + 1, timeout=REPLY_TIMEOUT_MS)
    text: str = await replies.last.inner_text()
    return text


async def test_guest_gets_a_knowledge_answer_and_customer_sees_their_order(
    chromium: Path, demo_url: str, browser: Any
) -> None:
    # (Fixture order: skip before the server starts; the browser closes before it stops.)
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1280, "height": 820})
    await page.goto(demo_url)
    await expect(page.locator("#account")).to_contain_text("guest")

    # A guest: an anonymous signed session and an answer from the knowledge base.
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.locator(".tl-status")).to_have_text("Online")
    answer = await _ask(page, "How long does shipping take?")
    first_sentence = _knowledge_body("shipping-times").split(". ")[0]
    assert " ".join(first_sentence.split()) in " ".join(answer.split())

    # The chat survives a reload: the history comes back from the server.
    await page.reload()
    await expect(page.locator("li.tl-bot .tl-text").last).to_have_text(answer)

    # Log in as a demo customer whose latest order has shipped.
    shipped = page.locator("#demo-customers a", has_text="shipped").first
    note = await shipped.locator(".note").inner_text()
    order_id = re.search(r"latest order (\S+):", note)
    assert order_id is not None, note
    order = _shop_order(order_id.group(1))
    name = await shipped.locator(".who").inner_text()
    await shipped.click()
    await expect(page.locator("#account")).to_contain_text(f"Logged in as {name}")
    await expect(page.locator(".tl-status")).to_have_text("Online")
    # A new identity, a new story: the guest's chat is not shown to the customer.
    await expect(page.locator("li.tl-customer")).to_have_count(0)

    reply = await _ask(page, "where is my order?")
    assert order["id"] in reply
    assert "shipped" in reply.lower()
    assert order["tracking"]["number"] in reply

    if os.environ.get("THREADLINE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT))


async def test_a_second_tab_sees_the_same_conversation_live(
    chromium: Path, demo_url: str, browser: Any
) -> None:
    from playwright.async_api import expect

    context = await browser.new_context()
    first = await context.new_page()
    second = await context.new_page()
    for page in (first, second):
        await page.goto(demo_url)
        # Keyboard only: focus the bubble and press Enter.
        await page.get_by_role("button", name="Open chat").focus()
        await page.keyboard.press("Enter")
        await expect(page.locator("#tl-input")).to_be_focused()
        await expect(page.locator(".tl-status")).to_have_text("Online")

    answer = await _ask(first, "do you ship internationally?")
    # The other tab of the same visitor (one anonymous session) got both turns live.
    await expect(second.locator("li.tl-customer .tl-text")).to_have_text(
        ["do you ship internationally?"]
    )
    await expect(second.locator("li.tl-bot .tl-text")).to_have_text([answer])

    await second.keyboard.press("Escape")
    await expect(second.get_by_role("button", name="Open chat")).to_be_focused()
    await context.close()
