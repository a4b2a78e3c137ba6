"""The demo shop page: a small storefront with the widget, and a demo-customer switcher.

It embeds the widget exactly as a shop's backend would: for a logged-in customer the
server computes ``HMAC-SHA256(secret, customer_id)`` and writes it next to the id; the
browser never sees the secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from html import escape
from string import Template

from channels.webchat.assets import STATIC_DIR
from channels.webchat.identity import customer_hmac

DemoCustomers = Callable[[], Awaitable[list[dict[str, str]]]]

SHOP_NAME = "Trail & Lantern Outfitters"

# A shop window of the demo shop's catalogue (memory/demo/shop.json).
PRODUCTS: tuple[tuple[str, str, str, str], ...] = (
    # name, price, blurb, swatch class
    ("Lantern Ridge 2P Tent", "€289.00", "Two-person, three-season tent, 2.1 kg.", "sw-moss"),
    ("Daybreak 28 L Daypack", "€99.00", "Hip belt, rain cover, hydration sleeve.", "sw-sand"),
    ("Downpour Rain Jacket", "€179.00", "3-layer waterproof shell.", "sw-sky"),
    ("Firefly Down Jacket", "€199.00", "Packable 800 fill power down.", "sw-dusk"),
    ("Lantern 400 Headlamp", "€45.00", "400 lumen, USB-C rechargeable.", "sw-clay"),
    ("Merino Hiking Socks (3 pairs)", "€36.00", "Cushioned merino blend.", "sw-berry"),
)


@cache
def _page_template() -> Template:
    return Template((STATIC_DIR / "demo.html").read_text(encoding="utf-8"))


def _products_html() -> str:
    cards = []
    for name, price, blurb, swatch in PRODUCTS:
        cards.append(
            f'<article class="product"><div class="swatch {swatch}" aria-hidden="true"></div>'
            f"<h3>{escape(name)}</h3><p>{escape(blurb)}</p>"
            f'<div class="buy"><span class="price">{escape(price)}</span>'
            f'<button type="button" class="add" aria-label="Add {escape(name)} to cart">'
            "Add to cart</button></div></article>"
        )
    return "\n".join(cards)


def _switcher_html(customers: list[dict[str, str]], current_ref: str | None) -> str:
    items = []
    for c in customers:
        ref = c.get("ref", "")
        current = ' aria-current="true"' if ref == current_ref else ""
        note = f'<span class="note">{escape(c["note"])}</span>' if c.get("note") else ""
        items.append(
            f'<li><a href="/?customer={escape(ref, quote=True)}"{current}>'
            f'<span class="who">{escape(c.get("name") or ref)}</span>'
            f'<span class="email">{escape(c.get("email", ""))}</span>{note}</a></li>'
        )
    if not items:
        items.append('<li class="empty">No demo customers are loaded.</li>')
    return "\n".join(items)


def _account_html(customers: list[dict[str, str]], current_ref: str | None) -> str:
    if current_ref is None:
        return '<span class="account-state">Browsing as a guest</span>'
    current = next((c for c in customers if c.get("ref") == current_ref), {})
    name = escape(current.get("name") or current_ref)
    return (
        f'<span class="account-state">Logged in as <strong>{name}</strong></span>'
        '<a class="logout" href="/">Log out</a>'
    )


def widget_tag(secret: str, current_ref: str | None) -> str:
    """The one ``<script>`` line a shop adds to its pages."""
    if current_ref is None:
        return '<script src="/widget/widget.js" defer></script>'
    signature = customer_hmac(secret, current_ref)
    return (
        '<script src="/widget/widget.js" defer '
        f'data-threadline-customer="{escape(current_ref, quote=True)}" '
        f'data-threadline-hmac="{signature}"></script>'
    )


def render_demo_page(
    customers: list[dict[str, str]], *, current_ref: str | None, secret: str
) -> str:
    return _page_template().substitute(
        shop_name=escape(SHOP_NAME),
        account=_account_html(customers, current_ref),
        switcher=_switcher_html(customers, current_ref),
        products=_products_html(),
        widget=widget_tag(secret, current_ref),
    )
