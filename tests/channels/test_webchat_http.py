"""The web chat's plain HTTP side: widget assets, sessions, and the demo shop page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from html import unescape

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.messages import InboundMessage, Turn
from channels.webchat import WebchatChannel, customer_hmac
from channels.webchat.identity import verify_session_token

SECRET = "http-test-secret"
CUSTOMERS = [
    {
        "ref": "C1",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "note": "latest order 7: shipped",
    },
    {"ref": 'C<2>&"x', "name": "Tricky <b>Name</b>", "email": "t@example.com", "note": ""},
]

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[bool], Awaitable[Client]]


async def _ingest(msg: InboundMessage) -> bool:
    raise AssertionError("no message is sent in these tests")


async def _history(user: str, limit: int) -> list[Turn]:
    return []


async def _customers() -> list[dict[str, str]]:
    return CUSTOMERS


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    clients: list[Client] = []

    async def make(with_demo: bool) -> Client:
        channel = WebchatChannel(
            secret=SECRET,
            ingest=_ingest,
            history=_history,
            demo_customers=_customers if with_demo else None,
        )
        app = web.Application()
        app.add_routes(channel.routes())
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_widget_assets_are_served_with_types_and_revalidation(
    make_client: MakeClient,
) -> None:
    client = await make_client(False)
    js = await client.get("/widget/widget.js")
    assert js.status == 200
    assert js.content_type == "text/javascript"
    assert "webchat/ws" in await js.text()
    assert js.headers["Access-Control-Allow-Origin"] == "*"
    etag = js.headers["ETag"]

    again = await client.get("/widget/widget.js", headers={"If-None-Match": f'"x", {etag}'})
    assert again.status == 304
    assert await again.read() == b""

    css = await client.get("/widget/widget.css")
    assert css.status == 200
    assert css.content_type == "text/css"
    assert ".tl-bubble" in await css.text()


async def test_session_endpoint_issues_a_verifiable_anonymous_session(
    make_client: MakeClient,
) -> None:
    client = await make_client(False)
    resp = await client.post("/webchat/session")
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    body = await resp.json()
    assert body["user"].startswith("anon:")
    assert verify_session_token(SECRET, body["session"]).external_user_id == body["user"]

    preflight = await client.options("/webchat/session")
    assert preflight.status == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]

    assert (await client.get("/webchat/session")).status == 405


async def test_demo_page_is_only_served_when_demo_customers_are_given(
    make_client: MakeClient,
) -> None:
    client = await make_client(False)
    assert (await client.get("/")).status == 404


async def test_demo_page_as_a_guest_embeds_the_widget_without_identity(
    make_client: MakeClient,
) -> None:
    client = await make_client(True)
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert "Browsing as a guest" in html
    assert '<script src="/widget/widget.js" defer></script>' in html
    assert "data-threadline-hmac" not in html
    # Every demo customer is offered, with text escaped.
    assert 'href="/?customer=C1"' in html
    assert "Ada Lovelace" in html and "latest order 7: shipped" in html
    assert "Tricky &lt;b&gt;Name&lt;/b&gt;" in html
    assert "<b>Name</b>" not in html


async def test_demo_page_logged_in_signs_the_customer_like_a_shop_backend(
    make_client: MakeClient,
) -> None:
    client = await make_client(True)
    html = await (await client.get("/", params={"customer": 'C<2>&"x'})).text()
    tag = re.search(r"<script src=\"/widget/widget.js\"[^>]*>", html)
    assert tag is not None
    attrs = dict(re.findall(r'data-threadline-(\w+)="([^"]*)"', tag.group(0)))
    assert unescape(attrs["customer"]) == 'C<2>&"x'
    assert attrs["hmac"] == customer_hmac(SECRET, 'C<2>&"x')
    assert "Logged in as <strong>Tricky &lt;b&gt;Name&lt;/b&gt;</strong>" in html
    assert '<a class="logout" href="/">Log out</a>' in html
    assert SECRET not in html


async def test_demo_page_refuses_customers_it_does_not_list(make_client: MakeClient) -> None:
    client = await make_client(True)
    resp = await client.get("/", params={"customer": "C999"})
    assert resp.status == 404
    assert "no demo customer 'C999'" in await resp.text()
