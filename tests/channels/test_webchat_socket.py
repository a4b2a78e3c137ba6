"""The web chat end to end over real WebSockets, against an in-memory inbox."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from bot.messages import Author, InboundMessage, OutboundMessage, Turn
from channels.webchat import WebchatChannel, customer_hmac
from channels.webchat.sockets import RateWindow

SECRET = "webchat-test-secret"
MAX_CHARS = 200


@dataclass
class InMemoryInbox:
    """Stores messages once per ``(channel, external_event_id)``, like the real store."""

    stored: list[InboundMessage] = field(default_factory=list)
    turns: dict[str, list[Turn]] = field(default_factory=dict)
    fail_with: Exception | None = None
    history_gate: asyncio.Event | None = None
    history_started: asyncio.Event = field(default_factory=asyncio.Event)
    keys: set[tuple[str, str]] = field(default_factory=set)

    async def ingest(self, msg: InboundMessage) -> bool:
        if self.fail_with is not None:
            raise self.fail_with
        key = (msg.channel, msg.external_event_id)
        if key in self.keys:
            return False
        self.keys.add(key)
        self.stored.append(msg)
        self.add_turn(msg.external_user_id, Author.CUSTOMER, msg.text)
        return True

    async def history(self, external_user_id: str, limit: int) -> list[Turn]:
        self.history_started.set()
        if self.history_gate is not None:
            await self.history_gate.wait()
        return self.turns.get(external_user_id, [])[-limit:]

    def add_turn(self, user: str, author: Author, text: str) -> Turn:
        turn = Turn(
            message_id=sum(len(t) for t in self.turns.values()) + 1,
            author=author,
            channel="webchat",
            text=text,
            created_at=datetime.now(UTC),
        )
        self.turns.setdefault(user, []).append(turn)
        return turn


@dataclass
class Chat:
    client: TestClient[web.Request, web.Application]
    channel: WebchatChannel
    inbox: InMemoryInbox

    async def session(self) -> tuple[str, str]:
        resp = await self.client.post("/webchat/session")
        assert resp.status == 200
        body = await resp.json()
        return body["user"], body["session"]

    async def open(self, hello: dict[str, Any]) -> ClientWebSocketResponse:
        ws = await self.client.ws_connect("/webchat/ws")
        await ws.send_json(hello)
        return ws

    async def open_ready(self, hello: dict[str, Any]) -> tuple[ClientWebSocketResponse, list[Any]]:
        ws = await self.open(hello)
        ready = await next_json(ws)
        assert ready["type"] == "ready"
        history = await next_json(ws)
        assert history["type"] == "history"
        return ws, history["messages"]


async def next_json(ws: ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5)
    assert msg.type is WSMsgType.TEXT, f"expected a text frame, got {msg.type}: {msg.data}"
    frame: dict[str, Any] = json.loads(msg.data)
    return frame


async def closed_with(ws: ClientWebSocketResponse) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the server closes; return the close code and the frames seen before."""
    frames = []
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type is WSMsgType.TEXT:
            frames.append(json.loads(msg.data))
            continue
        assert msg.type is WSMsgType.CLOSE, msg
        return msg.data, frames


def customer_hello(customer_id: str, signature: str | None = None) -> dict[str, Any]:
    sig = signature if signature is not None else customer_hmac(SECRET, customer_id)
    return {"type": "hello", "customer": {"id": customer_id, "hmac": sig}}


def message(text: str, client_id: str | None = None) -> dict[str, Any]:
    return {"type": "message", "text": text, "client_id": client_id or str(uuid.uuid4())}


@pytest.fixture
async def chat(request: pytest.FixtureRequest) -> AsyncIterator[Chat]:
    """The channel over an in-memory inbox; ``indirect`` parameters override its options."""
    inbox = InMemoryInbox()
    channel = WebchatChannel(
        secret=SECRET,
        ingest=inbox.ingest,
        history=inbox.history,
        max_message_chars=MAX_CHARS,
        **getattr(request, "param", {}),
    )
    app = web.Application()
    app.add_routes(channel.routes())

    async def stop(_: web.Application) -> None:
        await channel.shutdown()

    app.on_shutdown.append(stop)
    await channel.startup()
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Chat(client=client, channel=channel, inbox=inbox)


async def test_anonymous_hello_gets_ready_and_its_history(chat: Chat) -> None:
    user, token = await chat.session()
    chat.inbox.add_turn(user, Author.CUSTOMER, "do you ship to Norway?")
    chat.inbox.add_turn(user, Author.BOT, "Yes, in 3 to 5 working days.")
    chat.inbox.add_turn("anon:someone-else", Author.CUSTOMER, "not mine")

    ws = await chat.open({"type": "hello", "session": token})
    assert await next_json(ws) == {
        "type": "ready",
        "user": user,
        "verified": False,
        "max_chars": MAX_CHARS,
    }
    history = await next_json(ws)
    assert history["type"] == "history"
    assert [(m["author"], m["text"]) for m in history["messages"]] == [
        ("customer", "do you ship to Norway?"),
        ("bot", "Yes, in 3 to 5 working days."),
    ]
    assert all(isinstance(m["id"], int) and m["created_at"] for m in history["messages"])


async def test_message_is_acked_after_it_is_stored_once(chat: Chat) -> None:
    user, token = await chat.session()
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    client_id = str(uuid.uuid4())

    await ws.send_json(message("  How long does shipping take?  ", client_id))
    assert await next_json(ws) == {"type": "ack", "client_id": client_id, "duplicate": False}

    [stored] = chat.inbox.stored
    assert stored.channel == "webchat"
    assert stored.external_user_id == user
    assert stored.text == "How long does shipping take?"
    assert stored.verified_customer_ref is None
    assert stored.external_event_id == f"{user}/{client_id}"


async def test_resend_after_reconnect_is_stored_once(chat: Chat) -> None:
    _, token = await chat.session()
    client_id = str(uuid.uuid4())
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    await ws.send_json(message("is my parcel lost?", client_id))
    assert (await next_json(ws))["duplicate"] is False
    await ws.close()

    ws2, history = await chat.open_ready({"type": "hello", "session": token})
    assert [m["text"] for m in history] == ["is my parcel lost?"]
    await ws2.send_json(message("is my parcel lost?", client_id))
    assert await next_json(ws2) == {"type": "ack", "client_id": client_id, "duplicate": True}
    assert len(chat.inbox.stored) == 1


async def test_verified_customer_speaks_as_the_shop_customer(chat: Chat) -> None:
    ws = await chat.open(customer_hello("cust-1001"))
    assert await next_json(ws) == {
        "type": "ready",
        "user": "customer:cust-1001",
        "verified": True,
        "max_chars": MAX_CHARS,
    }
    assert (await next_json(ws))["type"] == "history"
    await ws.send_json(message("where is my order?"))
    assert (await next_json(ws))["type"] == "ack"
    [stored] = chat.inbox.stored
    assert stored.external_user_id == "customer:cust-1001"
    assert stored.verified_customer_ref == "cust-1001"


async def test_wrong_customer_hmac_is_refused_with_4401(chat: Chat) -> None:
    ws = await chat.open(customer_hello("cust-1001", customer_hmac(SECRET, "cust-1002")))
    code, frames = await closed_with(ws)
    assert code == 4401
    assert frames == [{"type": "error", "reason": "customer hmac does not match the customer id"}]
    assert chat.inbox.stored == []


async def test_tampered_session_is_refused_with_4401(chat: Chat) -> None:
    _, token = await chat.session()
    session_id, _, signature = token.rpartition(".")
    ws = await chat.open({"type": "hello", "session": session_id + "x." + signature})
    code, frames = await closed_with(ws)
    assert code == 4401
    assert "signature does not match" in frames[0]["reason"]


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{oops", "not valid JSON"),
        ('{"type": "message", "text": "hi", "client_id": "%s", "extra": 1}', "unknown field"),
        ('{"type": "message", "client_id": "%s"}', "missing the field 'text'"),
        ('{"type": "subscribe", "topic": "all"}', "unknown frame type"),
        ('{"type": "hello", "session": "%s"}', "hello was already received"),
    ],
)
async def test_bad_frames_close_with_4400_and_store_nothing(
    chat: Chat, frame: str, reason: str
) -> None:
    _, token = await chat.session()
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    await ws.send_str(frame.replace("%s", str(uuid.uuid4())) if "%s" in frame else frame)
    code, frames = await closed_with(ws)
    assert code == 4400
    assert frames[-1]["type"] == "error"
    assert reason in frames[-1]["reason"]
    assert chat.inbox.stored == []


async def test_binary_frame_closes_with_4400(chat: Chat) -> None:
    _, token = await chat.session()
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    await ws.send_bytes(json.dumps(message("hi")).encode())
    code, frames = await closed_with(ws)
    assert code == 4400
    assert "binary frames are not accepted" in frames[-1]["reason"]
    assert chat.inbox.stored == []


async def test_message_before_hello_closes_with_4400(chat: Chat) -> None:
    ws = await chat.open(message("hello?"))
    code, frames = await closed_with(ws)
    assert code == 4400
    assert frames == [{"type": "error", "reason": "the first frame must be hello"}]
    assert chat.inbox.stored == []


async def test_oversized_frame_closes_with_1009(chat: Chat) -> None:
    _, token = await chat.session()
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    await ws.send_str(json.dumps(message("x" * (MAX_CHARS * 100))))
    code, _ = await closed_with(ws)
    assert code == 1009
    assert chat.inbox.stored == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("   ", "text is empty"),
        ("y" * (MAX_CHARS + 1), f"text is longer than {MAX_CHARS} characters"),
    ],
)
async def test_unstorable_text_gets_an_error_and_the_chat_goes_on(
    chat: Chat, text: str, reason: str
) -> None:
    _, token = await chat.session()
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    bad_id = str(uuid.uuid4())
    await ws.send_json(message(text, bad_id))
    assert await next_json(ws) == {"type": "error", "reason": reason, "client_id": bad_id}
    assert chat.inbox.stored == []

    good_id = str(uuid.uuid4())
    await ws.send_json(message("y" * MAX_CHARS, good_id))
    assert (await next_json(ws))["client_id"] == good_id
    assert len(chat.inbox.stored) == 1


async def test_ingest_refusal_is_reported_and_not_acked(chat: Chat) -> None:
    _, token = await chat.session()
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    chat.inbox.fail_with = ValueError("text mentions a blocked word")
    client_id = str(uuid.uuid4())
    await ws.send_json(message("hi", client_id))
    assert await next_json(ws) == {
        "type": "error",
        "reason": "message rejected: text mentions a blocked word",
        "client_id": client_id,
    }
    chat.inbox.fail_with = None
    await ws.send_json(message("hi again"))
    assert (await next_json(ws))["type"] == "ack"


async def test_store_outage_closes_1011_and_the_resend_lands_once(chat: Chat) -> None:
    _, token = await chat.session()
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    chat.inbox.fail_with = ConnectionError("database is down")
    client_id = str(uuid.uuid4())
    await ws.send_json(message("refund please", client_id))
    code, frames = await closed_with(ws)
    assert code == 1011
    # Not refused (no client_id): the widget keeps it and resends after reconnecting.
    assert frames == [{"type": "error", "reason": "message could not be stored; resending"}]

    chat.inbox.fail_with = None
    ws2, _ = await chat.open_ready({"type": "hello", "session": token})
    await ws2.send_json(message("refund please", client_id))
    assert await next_json(ws2) == {"type": "ack", "client_id": client_id, "duplicate": False}
    assert [m.text for m in chat.inbox.stored] == ["refund please"]


def reply(user: str, text: str, message_id: int, **kw: Any) -> OutboundMessage:
    return OutboundMessage(
        channel="webchat",
        external_user_id=user,
        text=text,
        conversation_id=1,
        message_id=message_id,
        **kw,
    )


async def test_send_reaches_every_tab_of_the_user_and_no_one_else(chat: Chat) -> None:
    tab1, _ = await chat.open_ready(customer_hello("cust-7"))
    tab2, _ = await chat.open_ready(customer_hello("cust-7"))
    other, _ = await chat.open_ready(customer_hello("cust-8"))

    delivery = await chat.channel.send(
        reply("customer:cust-7", "Order 1042 is shipped.", 99, quick_replies=("Track it",))
    )
    assert delivery is not None
    for tab in (tab1, tab2):
        frame = await next_json(tab)
        assert frame["type"] == "message"
        assert (frame["id"], frame["author"], frame["text"]) == (
            99,
            "bot",
            "Order 1042 is shipped.",
        )
        assert frame["quick_replies"] == ["Track it"]
        assert datetime.fromisoformat(frame["created_at"]).tzinfo is not None

    staff = reply("customer:cust-7", "Hi, Sam here.", 100, author=Author.STAFF)
    assert await chat.channel.send(staff) is not None
    assert (await next_json(tab1))["author"] == "staff"
    with pytest.raises(TimeoutError):
        await other.receive(timeout=0.2)


async def test_send_to_a_user_without_open_socket_returns_none(chat: Chat) -> None:
    assert await chat.channel.send(reply("customer:nobody", "hello", 5)) is None


async def test_quick_replies_may_come_in_metadata(chat: Chat) -> None:
    tab, _ = await chat.open_ready(customer_hello("cust-9"))
    await chat.channel.send(
        reply("customer:cust-9", "Anything else?", 3, metadata={"quick_replies": ["Yes", "No"]})
    )
    assert (await next_json(tab))["quick_replies"] == ["Yes", "No"]


async def test_customer_message_is_echoed_to_other_tabs_only(chat: Chat) -> None:
    tab1, _ = await chat.open_ready(customer_hello("cust-5"))
    tab2, _ = await chat.open_ready(customer_hello("cust-5"))
    client_id = str(uuid.uuid4())
    await tab1.send_json(message("from tab one", client_id))
    assert (await next_json(tab1))["type"] == "ack"
    echo = await next_json(tab2)
    assert echo["type"] == "message"
    assert (echo["author"], echo["text"], echo["client_id"]) == (
        "customer",
        "from tab one",
        client_id,
    )
    with pytest.raises(TimeoutError):
        await tab1.receive(timeout=0.2)

    # A new tab (or a reload) sees it in the history.
    _, history = await chat.open_ready(customer_hello("cust-5"))
    assert [m["text"] for m in history] == ["from tab one"]


async def test_reply_during_history_load_arrives_after_the_history(chat: Chat) -> None:
    chat.inbox.history_gate = asyncio.Event()
    ws = await chat.open(customer_hello("cust-3"))
    await asyncio.wait_for(chat.inbox.history_started.wait(), 5)
    assert await chat.channel.send(reply("customer:cust-3", "late reply", 77)) is not None
    chat.inbox.history_gate.set()
    assert [(await next_json(ws))["type"] for _ in range(3)] == ["ready", "history", "message"]


async def test_history_failure_closes_1011(chat: Chat) -> None:
    async def broken(user: str, limit: int) -> list[Turn]:
        raise ConnectionError("database is down")

    chat.channel._history = broken
    ws = await chat.open(customer_hello("cust-3"))
    code, frames = await closed_with(ws)
    assert code == 1011
    assert frames == [{"type": "error", "reason": "history is unavailable; retry"}]


async def test_shutdown_closes_every_socket_with_1001(chat: Chat) -> None:
    ready, _ = await chat.open_ready(customer_hello("cust-1"))
    waiting = await chat.client.ws_connect("/webchat/ws")  # no hello yet
    await asyncio.sleep(0.05)
    await chat.channel.shutdown()
    assert (await closed_with(ready))[0] == 1001
    assert (await closed_with(waiting))[0] == 1001
    late = await chat.client.ws_connect("/webchat/ws")
    assert (await closed_with(late))[0] == 1001


async def test_text_frame_with_invalid_utf8_closes_with_1007(chat: Chat) -> None:
    _, token = await chat.session()
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    await ws.send_frame(b'{"type": "message", "text": "\xff\xfe"}', WSMsgType.TEXT)
    code, _ = await closed_with(ws)
    assert code == 1007
    assert chat.inbox.stored == []


async def test_silent_client_is_closed_with_4400(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("channels.webchat.channel.HELLO_TIMEOUT_S", 0.1)
    ws = await chat.client.ws_connect("/webchat/ws")
    code, frames = await closed_with(ws)
    assert code == 4400
    assert frames == [{"type": "error", "reason": "expected a hello frame within 0.1 s"}]


async def test_history_on_connect_is_the_newest_50_turns_oldest_first(chat: Chat) -> None:
    for n in range(60):
        chat.inbox.add_turn("customer:cust-2", Author.BOT, f"turn {n}")
    _, history = await chat.open_ready(customer_hello("cust-2"))
    assert [m["text"] for m in history] == [f"turn {n}" for n in range(10, 60)]


async def test_a_flood_of_messages_is_cut_off_and_not_stored(chat: Chat) -> None:
    _, token = await chat.session()
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    ids = [str(uuid.uuid4()) for _ in range(21)]
    for n, client_id in enumerate(ids):
        await ws.send_json(message(f"spam {n}", client_id))
    frames = [await next_json(ws) for _ in ids]
    assert [f["type"] for f in frames] == ["ack"] * 20 + ["error"]
    assert frames[-1]["client_id"] == ids[-1]
    assert "too many messages" in frames[-1]["reason"]
    assert len(chat.inbox.stored) == 20


@pytest.mark.parametrize("chat", [{"rate_limit": 3}], indirect=True)
async def test_the_operators_flood_limit_is_the_one_applied(chat: Chat) -> None:
    _, token = await chat.session()
    ws, _ = await chat.open_ready({"type": "hello", "session": token})
    for n in range(4):
        await ws.send_json(message(f"question {n}"))
    frames = [await next_json(ws) for _ in range(4)]
    assert [f["type"] for f in frames] == ["ack"] * 3 + ["error"]
    assert [m.text for m in chat.inbox.stored] == ["question 0", "question 1", "question 2"]


def test_rate_window_frees_up_as_time_passes() -> None:
    window = RateWindow(limit=2, seconds=10)
    assert window.allow(now=0.0) and window.allow(now=1.0)
    assert not window.allow(now=9.9)
    assert window.allow(now=10.0)  # the first one left the window
    assert not window.allow(now=10.5)
