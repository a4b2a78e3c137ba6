"""The staff console in a real browser: headless Chromium against the real app.

A demo shop customer, logged in, asks for a person in the web chat; an agent signs in to
``/staff`` in another browser context, sees the waiting handoff appear live, claims
it and replies; the customer's chat shows the reply.

Run with ``THREADLINE_SCREENSHOT=1`` to write ``docs/images/staff-console.png``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import Runtime
from bot.wire_staff_console import add_staff_console
from tests.browser.demo_server import demo_app

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "staff-console.png"
TIMEOUT_MS = 15_000
STAFF_TOKEN = "browser-staff-token-7f3a"


@pytest.fixture
async def shop_url(tmp_path: Path) -> AsyncIterator[str]:
    """The real app with the demo shop, the web chat and the staff console."""

    def with_console(runtime: Runtime) -> None:
        assert add_staff_console(runtime, tokens=f"alice:{STAFF_TOKEN},bob:{STAFF_TOKEN}-bob")

    async with demo_app(tmp_path, with_console) as url:
        yield url


async def test_staff_sign_in_claim_and_reply_reaches_the_customers_web_chat(
    chromium: Path, shop_url: str, browser: Any
) -> None:
    from playwright.async_api import expect

    # The customer: a demo shop visitor whose chat asks for a person.
    shopper = await (await browser.new_context()).new_page()
    await shopper.goto(shop_url)
    customer = shopper.locator("#demo-customers a").first
    name = await customer.locator(".who").inner_text()
    await customer.click()
    await expect(shopper.locator("#account")).to_contain_text(f"Logged in as {name}")
    await shopper.get_by_role("button", name="Open chat").click()
    await expect(shopper.locator(".tl-status")).to_have_text("Online")

    # The agent: their own browser context (their own cookies), signed in before it starts.
    staff = await (await browser.new_context(viewport={"width": 1280, "height": 860})).new_page()
    await staff.goto(f"{shop_url}/staff")
    await staff.get_by_label("Staff token").fill("wrong-token")
    await staff.get_by_role("button", name="Sign in").click()
    await expect(staff.locator("#login-error")).to_have_text("unknown staff token")
    await staff.get_by_label("Staff token").fill(STAFF_TOKEN)
    await staff.get_by_role("button", name="Sign in").click()
    await expect(staff.locator("#who-name")).to_have_text("alice")
    await expect(staff.locator("#count-waiting")).to_have_text("0")

    await shopper.locator("#tl-input").fill("I want to talk to a human agent please")
    await shopper.keyboard.press("Enter")
    await expect(shopper.locator("li.tl-bot .tl-text")).to_have_count(1, timeout=TIMEOUT_MS)

    # The handoff appears live, without a reload.
    card = staff.locator("#waiting .card-link")
    await expect(card).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(card).to_contain_text("asks-for-a-person")
    await expect(card).to_contain_text(name)
    await card.click()
    await expect(staff.locator("#facts")).to_contain_text("webchat")
    await expect(staff.locator("#orders tbody tr").first).to_contain_text("TL-")
    await expect(staff.locator("#turns")).to_contain_text("human agent")
    send = staff.get_by_role("button", name="Send reply")
    await expect(send).to_be_disabled()

    await staff.get_by_role("button", name="Claim").click()
    await expect(staff.locator("#card-state")).to_have_text("Claimed by you", timeout=TIMEOUT_MS)
    await expect(staff.locator("#claimed .card-link")).to_have_count(1)
    await expect(send).to_be_enabled()
    # A colleague to hand it to, if need be: the other signed-up agent, not oneself.
    await expect(staff.get_by_label("Assign to")).to_have_value("bob")
    await expect(staff.get_by_role("button", name="Assign")).to_be_enabled()

    reply = "Hi, I'm Alice from the support team. How can I help?"
    await staff.get_by_label("Message to the customer, or a note for colleagues").fill(reply)
    await send.click()
    await expect(staff.locator("#status")).to_have_text("Reply sent to the customer.")

    # The customer's chat shows the reply, as the support team's.
    await expect(shopper.locator("li.tl-staff .tl-text")).to_have_text([reply], timeout=TIMEOUT_MS)
    # The staff view mirrors it into the conversation, and the customer's answer too.
    await expect(staff.locator("#turns li.staff").last).to_contain_text(reply)
    await shopper.locator("#tl-input").fill("My parcel never arrived")
    await shopper.keyboard.press("Enter")
    await expect(staff.locator("#turns li.customer").last).to_contain_text(
        "My parcel never arrived", timeout=TIMEOUT_MS
    )

    if os.environ.get("THREADLINE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await staff.screenshot(path=str(SCREENSHOT), full_page=True)
