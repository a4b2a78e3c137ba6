"""Web-chat customers for the reply-path benchmark, in their own process.

Each client opens the chat WebSocket, says hello (a signed-in demo customer with
the shop's HMAC, or an anonymous session from ``POST /webchat/session``), then asks
questions one at a time: it sends a message, waits for the ack and for the bot's
reply, and only then asks the next. Signed-in customers mix order questions with
knowledge questions; anonymous ones ask knowledge questions and now and then about
an order (the bot then asks them to verify who they are).

Bounded in time (``--duration``) and count (``--max-per-client``). Prints one JSON
line: replies, latencies (ms), errors, unanswered questions and the CPU time the
clients used while they asked.

    python bench/chat_clients.py --port P --clients 50 --duration 10 \
        --secret S --customers C1001,C1002
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels.webchat.identity import customer_hmac

REPLY_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 30.0

KNOWLEDGE_QUESTIONS = (
    "How long does shipping take?",
    "What is your return policy?",
    "Which payment methods do you accept?",
    "Do you ship internationally?",
    "How long does delivery take to Germany?",
    "Hi there!",
    "Thanks, that helps.",
)
ORDER_QUESTIONS = (
    "Where is my order?",
    "Can I get the tracking number for my order?",
    "Has my order shipped yet?",
)


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unanswered: int = 0
    replies_by_kind: dict[str, int] = field(default_factory=lambda: {"order": 0, "knowledge": 0})
    sample_replies: dict[str, str] = field(default_factory=dict)
    first_send: float = float("inf")
    reply_times: list[float] = field(default_factory=list)


def questions_for(index: int, signed_in: bool) -> list[tuple[str, str]]:
    """The client's question cycle: (kind, text), shifted so clients differ."""
    cycle: list[tuple[str, str]] = []
    for n, text in enumerate(KNOWLEDGE_QUESTIONS):
        cycle.append(("knowledge", text))
        if signed_in or n % 3 == 2:
            cycle.append(("order", ORDER_QUESTIONS[n % len(ORDER_QUESTIONS)]))
    shift = index % len(cycle)
    return cycle[shift:] + cycle[:shift]


async def hello_frame(
    http: aiohttp.ClientSession, base: str, secret: str, customer: str | None
) -> dict[str, Any]:
    if customer is not None:
        return {
            "type": "hello",
            "customer": {"id": customer, "hmac": customer_hmac(secret, customer)},
        }
    async with http.post(f"{base}/webchat/session") as resp:
        resp.raise_for_status()
        session = (await resp.json())["session"]
    return {"type": "hello", "session": session}


async def next_frame(ws: aiohttp.ClientWebSocketResponse, deadline: float) -> dict[str, Any]:
    msg = await ws.receive(timeout=max(0.001, deadline - time.perf_counter()))
    if msg.type is not aiohttp.WSMsgType.TEXT:
        raise ConnectionError(f"socket closed: {msg.type.name} {msg.data!r} {msg.extra!r}")
    frame: dict[str, Any] = json.loads(msg.data)
    return frame


async def ask(ws: aiohttp.ClientWebSocketResponse, kind: str, text: str, tally: Tally) -> bool:
    """Send one question and wait for its ack and the bot's reply; False if none came."""
    client_id = str(uuid.uuid4())
    started = time.perf_counter()
    deadline = started + REPLY_TIMEOUT_S
    tally.first_send = min(tally.first_send, started)
    await ws.send_json({"type": "message", "text": text, "client_id": client_id})
    acked = False
    replied = False
    while not (acked and replied):
        try:
            frame = await next_frame(ws, deadline)
        except TimeoutError:
            tally.unanswered += 1
            return False
        kind_of = frame.get("type")
        if kind_of == "ack" and frame.get("client_id") == client_id:
            acked = True
            tally.ack_ms.append((time.perf_counter() - started) * 1000)
        elif kind_of == "message" and frame.get("author") not in ("customer", None):
            replied = True
            now = time.perf_counter()
            tally.latencies_ms.append((now - started) * 1000)
            tally.reply_times.append(now)
            tally.replies_by_kind[kind] += 1
            tally.sample_replies.setdefault(text, str(frame.get("text", ""))[:160])
        elif kind_of == "error":
            tally.errors.append(str(frame.get("reason")))
            return False
    return True


async def run_client(
    index: int,
    http: aiohttp.ClientSession,
    base: str,
    secret: str,
    customer: str | None,
    stop_at: float,
    max_messages: int,
    tally: Tally,
) -> None:
    questions = questions_for(index, customer is not None)
    try:
        hello = await hello_frame(http, base, secret, customer)
        async with http.ws_connect(
            f"{base}/webchat/ws", timeout=aiohttp.ClientWSTimeout(ws_close=5.0)
        ) as ws:
            await ws.send_json(hello)
            deadline = time.perf_counter() + CONNECT_TIMEOUT_S
            while (await next_frame(ws, deadline)).get("type") != "history":
                pass
            sent = 0
            while sent < max_messages and time.perf_counter() < stop_at:
                kind, text = questions[sent % len(questions)]
                sent += 1
                if not await ask(ws, kind, text, tally):
                    return
    except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
        tally.errors.append(f"{exc.__class__.__name__}: {exc}")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    base = f"http://127.0.0.1:{args.port}"
    customers = [c for c in args.customers.split(",") if c]
    signed_in = min(len(customers), args.clients // 4)
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=0)
    cpu_started = time.process_time()
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        stop_at = started + args.duration
        await asyncio.gather(
            *(
                run_client(
                    i,
                    http,
                    base,
                    args.secret,
                    customers[i] if i < signed_in else None,
                    stop_at,
                    args.max_per_client,
                    tally,
                )
                for i in range(args.clients)
            )
        )
        elapsed = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    # Throughput counts the replies that arrived between the first question and the end of
    # the load; questions still open then are waited for (latency) but not counted here.
    window = max(0.0, stop_at - tally.first_send)
    in_window = sum(1 for t in tally.reply_times if t <= stop_at)
    return {
        "clients": args.clients,
        "signed_in": signed_in,
        "elapsed_s": elapsed,
        "cpu_s": cpu_s,
        "window_s": window,
        "replies_in_window": in_window,
        "replies": len(tally.latencies_ms),
        "latencies_ms": tally.latencies_ms,
        "ack_ms": tally.ack_ms,
        "unanswered": tally.unanswered,
        "errors": tally.errors[:20],
        "error_count": len(tally.errors),
        "replies_by_kind": tally.replies_by_kind,
        "sample_replies": tally.sample_replies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--max-per-client", type=int, default=1000)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--customers", default="", help="demo customer ids to sign in as")
    result = asyncio.run(main_async(parser.parse_args()))
    print("BENCH " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
