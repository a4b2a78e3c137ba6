"""The staff console over HTTP and WebSockets, on the real app (SQLite and PostgreSQL):
sign-in, the session cookie, live updates, and a reply reaching the customer's web chat."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import (
    ClientResponse,
    ClientSession,
    ClientWebSocketResponse,
    CookieJar,
    WSMsgType,
    WSServerHandshakeError,
    web,
)
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.bootstrap import add_webchat, build_runtime
from bot.nlu import OfflineUnderstanding
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from bot.wire_staff_console import add_staff_console
from channels.staff_console import StaffTokenError, StaffTokens
from channels.staff_console.auth import SessionSigner
from tests.bot.harness import Clock
from tests.conftest import DEMO_NOW

Client = TestClient[web.Request, web.Application]
TOKENS = "alice:alice-token-1234,bob:bob-token-5678"
SECRET = "console-test-secret"
ASK_FOR_PERSON = "I want to talk to a human agent please"


@dataclass
class Desk:
    """One app with the web chat and the console; ``colleague`` signs in on its own."""

    client: Client
    colleague: ClientSession

    async def login(self, token: str) -> ClientResponse:
        return await self.client.post("/staff/login", json={"token": token})

    async def act(self, handoff_id: int, action: str, text: str = "") -> tuple[int, Any]:
        resp = await self.client.post(
            f"/staff/api/handoffs/{handoff_id}/{action}", json={"text": text}
        )
        return resp.status, await resp.json()

    async def colleague_act(self, handoff_id: int, action: str, text: str = "") -> tuple[int, Any]:
        url = self.client.make_url(f"/staff/api/handoffs/{handoff_id}/{action}")
        async with self.colleague.post(url, json={"text": text}) as resp:
            return resp.status, await resp.json()


@pytest.fixture(scope="session")
def understanding() -> OfflineUnderstander:
    return OfflineUnderstander(OfflineUnderstanding.default())


@pytest.fixture
async def desk(demo_database_url: str, understanding: OfflineUnderstander) -> AsyncIterator[Desk]:
    settings = Settings(DATABASE_URL=demo_database_url, THREADLINE_SECRET=SECRET)
    runtime = build_runtime(
        settings, clock=Clock(DEMO_NOW), understander=understanding, worker_poll_interval=0.05
    )
    add_webchat(runtime)
    assert add_staff_console(runtime, tokens=TOKENS, poll_interval=0.05)
    async with (
        TestClient(TestServer(build_app(runtime), host="127.0.0.1")) as client,
        ClientSession(cookie_jar=CookieJar(unsafe=True)) as colleague,
    ):
        yield Desk(client, colleague)


async def frames_until(
    ws: ClientWebSocketResponse, want: Callable[[dict[str, Any]], bool], within: float = 10
) -> dict[str, Any]:
    """Read frames until one satisfies ``want``."""

    async def read() -> dict[str, Any]:
        while True:
            msg = await ws.receive()
            assert msg.type is WSMsgType.TEXT, f"socket ended: {msg.type} {msg.data}"
            frame: dict[str, Any] = json.loads(msg.data)
            if want(frame):
                return frame

    return await asyncio.wait_for(read(), within)


async def customer_socket(client: Client) -> ClientWebSocketResponse:
    resp = await client.post("/webchat/session")
    session = (await resp.json())["session"]
    ws = await client.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "session": session})
    assert (await frames_until(ws, lambda f: f["type"] == "history"))["messages"] == []
    return ws


async def say(ws: ClientWebSocketResponse, text: str) -> None:
    await ws.send_json({"type": "message", "text": text, "client_id": str(uuid.uuid4())})


async def escalate_from_webchat(desk: Desk) -> tuple[ClientWebSocketResponse, dict[str, Any]]:
    """A web-chat customer asks for a person; return their socket and the handoff card."""
    customer = await customer_socket(desk.client)
    await say(customer, ASK_FOR_PERSON)
    await frames_until(customer, lambda f: f["type"] == "message" and f["author"] == "bot")
    resp = await desk.client.get("/staff/api/handoffs")
    assert resp.status == 200
    (card,) = (await resp.json())["handoffs"]
    return customer, card


async def test_a_wrong_token_is_refused_and_repeated_failures_are_rate_limited(
    desk: Desk,
) -> None:
    for _ in range(5):
        resp = await desk.login("not-a-token")
        assert resp.status == 401
        assert (await resp.json())["error"] == "unknown staff token"
        assert "threadline_staff" not in resp.cookies
    blocked = await desk.login("alice-token-1234")  # even the right token waits now
    assert blocked.status == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert "too many failed sign-ins" in (await blocked.json())["error"]
    # The limit counts failures per address: bob's right token is refused too, for now.
    url = desk.client.make_url("/staff/login")
    async with desk.colleague.post(url, json={"token": "bob-token-5678"}) as resp:
        assert resp.status == 429


async def test_the_api_and_the_socket_need_a_signed_session_cookie(desk: Desk) -> None:
    assert (await desk.client.get("/staff/api/handoffs")).status == 401
    assert (await desk.client.post("/staff/api/handoffs/1/claim", json={})).status == 401
    forged = SessionSigner("some-other-secret").issue("alice")
    desk.client.session.cookie_jar.update_cookies({"threadline_staff": forged})
    assert (await desk.client.get("/staff/api/handoffs")).status == 401
    ws = await desk.client.ws_connect("/staff/ws")
    msg = await ws.receive(timeout=5)
    assert msg.type is WSMsgType.CLOSE and msg.data == 4401

    resp = await desk.login("alice-token-1234")
    assert resp.status == 200 and (await resp.json()) == {"staff": "alice"}
    with pytest.raises(WSServerHandshakeError) as refused:
        await desk.client.ws_connect("/staff/ws", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/staff" in cookie
    assert "alice-token-1234" not in cookie
    me = await desk.client.get("/staff/api/me")
    assert (await me.json()) == {"staff": "alice"}
    listed = await desk.client.get("/staff/api/handoffs")
    body = await listed.json()
    assert body["handoffs"] == [] and body["staff"] == "alice"
    assert body["outcomes"]["conversations"] == 0


async def test_actions_must_be_sent_as_json(desk: Desk) -> None:
    assert (await desk.login("alice-token-1234")).status == 200
    resp = await desk.client.post("/staff/api/handoffs/1/claim", data={"text": "x"})
    assert resp.status == 415


async def test_the_page_is_served_with_a_strict_content_policy(desk: Desk) -> None:
    resp = await desk.client.get("/staff")
    assert resp.status == 200
    assert "Content-Security-Policy" in resp.headers
    page = await resp.text()
    assert 'src="/staff/console.js"' in page and 'id="login-form"' in page
    script = await desk.client.get("/staff/console.js")
    assert script.status == 200 and "/staff/ws" in await script.text()


async def test_console_live_updates_claim_race_and_reply_reaching_the_web_chat(
    desk: Desk,
) -> None:
    assert (await desk.login("alice-token-1234")).status == 200
    staff_ws = await desk.client.ws_connect("/staff/ws")
    first = await frames_until(staff_ws, lambda f: f["type"] == "handoffs")
    assert first["handoffs"] == []

    customer = await customer_socket(desk.client)
    await say(customer, ASK_FOR_PERSON)
    waiting = await frames_until(staff_ws, lambda f: len(f["handoffs"]) == 1)
    (card,) = waiting["handoffs"]
    assert card["state"] == "waiting" and card["customer"]["channel"] == "webchat"
    assert card["rule_id"].startswith("asks-for-a-person")

    status, body = await desk.act(card["id"], "claim")
    assert status == 200 and body["ok"] is True
    claimed = await frames_until(staff_ws, lambda f: f["handoffs"][0]["state"] == "claimed")
    assert claimed["handoffs"][0]["claimed_by"] == "alice"

    url = desk.client.make_url("/staff/login")
    async with desk.colleague.post(url, json={"token": "bob-token-5678"}) as resp:
        assert resp.status == 200
    status, body = await desk.colleague_act(card["id"], "claim")
    assert status == 409 and body["error"] == f"handoff {card['id']} is already claimed by alice"

    await say(customer, "hello? is anyone there?")
    mirrored = await frames_until(
        staff_ws, lambda f: f["handoffs"][0]["turns"][-1]["text"] == "hello? is anyone there?"
    )
    assert mirrored["handoffs"][0]["turns"][-1]["author"] == "customer"

    status, body = await desk.act(card["id"], "reply", "Hi, this is Alice. I'm on it.")
    assert status == 200 and body["delivered_to"] == "webchat"
    reply = await frames_until(
        customer, lambda f: f["type"] == "message" and f["author"] == "staff"
    )
    assert reply["text"] == "Hi, this is Alice. I'm on it."

    status, _ = await desk.act(card["id"], "note", "Customer is polite; check order history")
    assert status == 200
    await frames_until(staff_ws, lambda f: f["handoffs"][0]["turns"][-1]["internal"] is True)

    status, _ = await desk.act(card["id"], "back-to-bot")
    assert status == 200
    back = await frames_until(customer, lambda f: f["type"] == "message")
    assert back["author"] == "bot" and "virtual assistant" in back["text"]
    await frames_until(staff_ws, lambda f: f["handoffs"] == [])
    assert (await desk.act(card["id"], "reply", "too late"))[0] == 409
    assert (await desk.act(999_999, "claim"))[0] == 404
    await staff_ws.close()
    await customer.close()


def test_staff_tokens_are_parsed_strictly_and_never_echoed() -> None:
    tokens = StaffTokens.parse(" alice:one-token , bob:two-token ")
    assert tokens.names == {"alice", "bob"}
    assert tokens.who("two-token") == "bob" and tokens.who("one-token ") is None
    for bad in ("alice", "alice:", ":tok", "alice:x,alice:y", "al ice:tok"):
        with pytest.raises(StaffTokenError) as caught:
            StaffTokens.parse(bad)
        assert "tok" not in str(caught.value).replace("token", "")


def test_a_session_cookie_expires_and_cannot_be_altered() -> None:
    signer = SessionSigner(SECRET, ttl_s=60)
    cookie = signer.issue("a.lice", now=1000)
    assert signer.verify(cookie, now=1059) == "a.lice"
    assert signer.verify(cookie, now=1060) is None
    assert signer.verify(cookie.replace("a.lice", "bob"), now=1000) is None
    assert signer.verify("garbage", now=1000) is None


async def test_an_agent_assigns_a_handoff_to_a_colleague_from_the_console(desk: Desk) -> None:
    assert (await desk.login("alice-token-1234")).status == 200
    staff_ws = await desk.client.ws_connect("/staff/ws")
    first = await frames_until(staff_ws, lambda f: f["type"] == "handoffs")
    assert first["colleagues"] == ["bob"], "the assign list names the others, not oneself"
    customer, card = await escalate_from_webchat(desk)

    assert (await desk.act(card["id"], "assign", ""))[0] == 400
    status, body = await desk.act(card["id"], "assign", "bob")
    assert status == 200 and body["ok"] is True
    assigned = await frames_until(
        staff_ws, lambda f: [h["claimed_by"] for h in f["handoffs"]] == ["bob"]
    )
    assert assigned["handoffs"][0]["state"] == "claimed"
    assert assigned["handoffs"][0]["turns"][-1]["text"] == "alice assigned the conversation to bob"
    status, body = await desk.act(card["id"], "reply", "Alice again")
    assert status == 409 and "claimed by bob" in body["error"]

    url = desk.client.make_url("/staff/login")
    async with desk.colleague.post(url, json={"token": "bob-token-5678"}) as resp:
        assert resp.status == 200
    status, _ = await desk.colleague_act(card["id"], "reply", "Bob here, happy to help.")
    assert status == 200
    reply = await frames_until(
        customer, lambda f: f["type"] == "message" and f["author"] == "staff"
    )
    assert reply["text"] == "Bob here, happy to help."
    await staff_ws.close()
    await customer.close()
