"""Benchmark: Threadline's own time per reply when a model answers instantly.

For SQLite and PostgreSQL: a fresh database gets the demo shop; the real pipeline (store,
context, policy, responder, outbox row) answers customer messages one at a time, first with
the offline responder, then with the LLM responder and understander (litellm's Router) talking
to a fake OpenAI-compatible model in its own process that answers at once. Each order question
costs three model calls (understanding, a ``tracking`` tool call, the final text); each policy
question three too (understanding, ``search_knowledge``, the text).

Reported per reply: total time (message stored → reply and decision committed) p50/p99, the
part spent inside model calls (litellm plus the loopback HTTP to a model that does nothing),
and Threadline's own time (the rest): our overhead, apart from any real model's latency.

    .venv/bin/python bench/reply.py [--messages 200] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

for _key, _value in {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
}.items():
    os.environ.setdefault(_key, _value)
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from aiohttp import web  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench.common import (  # noqa: E402
    Database,
    fmt,
    fresh_database,
    load_line,
    machine_line,
    markdown_table,
    percentile,
    postgres_reachable,
    running_server,
    script_path,
    workdir,
)
from bot.bootstrap import build_runtime  # noqa: E402
from bot.llm import LlmClient, LlmResponder, LlmUnderstander, ModelSpec, Prompts  # noqa: E402
from bot.llm.client import Completion  # noqa: E402
from bot.messages import InboundMessage, OutboundMessage  # noqa: E402
from bot.nlu import OfflineUnderstanding  # noqa: E402
from bot.ports import OfflineUnderstander  # noqa: E402
from bot.responder import OfflineResponder, Templates  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.worker import Worker  # noqa: E402
from memory.db import create_engine, make_session_factory  # noqa: E402
from memory.demo import KNOWLEDGE_DIR, SHOP_FILE  # noqa: E402
from memory.importer import import_file  # noqa: E402
from memory.knowledge import RECOMMENDED_THRESHOLD, KnowledgeBase  # noqa: E402
from memory.models import Customer, Decision  # noqa: E402

QUESTIONS = ("where is my order?", "what is your return policy?")
WARMUP = 10
ORDER_LINE = re.compile(r"^\s+- ([A-Z]+-\d+): ", re.MULTILINE)
# Far enough apart that each round of messages starts new conversations (72 h window).
ROUND_GAP = timedelta(hours=80)


# --- the fake model (its own process) --------------------------------------------------


async def _fake_model(request: web.Request) -> web.Response:
    body = await request.json()
    messages = body["messages"]
    content: str | None = None
    calls: list[dict[str, Any]] = []
    if str(messages[0]["content"]).startswith("You classify"):
        text = str(messages[-1]["content"]).lower()
        intent = "returns_policy" if "return policy" in text else "order_status"
        content = json.dumps({"intent": intent, "confidence": 0.95, "sentiment": 0.0})
    elif body.get("tools") and messages[-1]["role"] != "tool":
        names = [t["function"]["name"] for t in body["tools"]]
        if "tracking" in names:
            args = {"order_id": _first_order(str(messages[0]["content"]))}
            calls.append(_call("tracking", args))
        else:
            calls.append(_call("search_knowledge", {"query": "return policy"}))
    else:
        content = "Here is what I found: " + str(messages[-1]["content"])[:200]
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return web.json_response(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_800_000_000,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 500, "completion_tokens": 40, "total_tokens": 540},
        }
    )


def _first_order(system: str) -> str:
    """The newest order the system prompt lists ("  - TL-10215: shipped, …")."""
    found = ORDER_LINE.search(system)
    return found.group(1) if found else "TL-00000"


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"call_{name}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }


async def serve_fake_model() -> None:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _fake_model)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"listening {runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    print("{}", flush=True)


# --- the measured side -----------------------------------------------------------------


class TimedClient(LlmClient):
    """The real client, also adding up the time spent inside model calls."""

    spent: float = 0.0

    async def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> Completion:
        started = time.perf_counter()
        try:
            return await super().complete(messages, tools)
        finally:
            self.spent += time.perf_counter() - started


@dataclass
class NullChannel:
    name: str = "bench"
    sent: int = 0

    async def send(self, msg: OutboundMessage) -> str | None:
        self.sent += 1
        return None

    def routes(self) -> list[object]:
        return []

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


@dataclass
class Result:
    database: str
    responder: str
    totals: list[float] = field(default_factory=list)
    in_model: list[float] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)


async def measure(
    db: Database, mode: str, messages: int, model_base: str | None, now: datetime
) -> Result:
    clock_now = [now]
    runtime = build_runtime(
        Settings(DATABASE_URL=db.url), clock=lambda: clock_now[0], embedded_worker=True
    )
    channel = NullChannel()
    runtime.outbox.add_sender(channel.name, channel)
    client: TimedClient | None = None
    if mode == "llm":
        assert model_base is not None
        client = TimedClient([ModelSpec("openai/bench-model", model_base, "bench")], timeout=10)
        understanding = OfflineUnderstanding.default()
        knowledge = KnowledgeBase.load(KNOWLEDGE_DIR)
        offline = OfflineResponder(
            knowledge,
            Templates.default(),
            min_confidence=RECOMMENDED_THRESHOLD,
            clock=runtime.clock,
        )
        prompts = Prompts.load()
        responder = LlmResponder(
            client,
            offline=offline,
            knowledge=knowledge,
            orders=runtime.pipeline.orders,
            prompts=prompts,
            clock=runtime.clock,
            knowledge_threshold=RECOMMENDED_THRESHOLD,
            shop_contacts=[entry.answer for entry in knowledge.entries],
        )
        understander = LlmUnderstander(
            client,
            offline=OfflineUnderstander(understanding),
            intents=[(s.name, s.description) for s in understanding.catalog.intents],
            prompts=prompts,
        )
        runtime.pipeline = replace(runtime.pipeline, responder=responder, understander=understander)
        runtime.worker = Worker(runtime.session_factory, runtime.pipeline, clock=runtime.clock)
    assert runtime.worker is not None
    async with runtime.session_factory() as session:
        refs = [
            r
            for r in (
                await session.scalars(select(Customer.external_ref).order_by(Customer.id))
            ).all()
            if r
        ]
    result = Result(db.kind, "offline" if mode == "offline" else "LLM (instant fake model)")
    await runtime.ingestor.start()
    try:
        for i in range(WARMUP + messages):
            ref = refs[i % len(refs)]
            clock_now[0] = now + ROUND_GAP * (i // len(refs))
            msg = InboundMessage(
                channel="bench",
                external_event_id=f"{mode}-{i}",
                external_user_id=f"user-{ref}",
                text=QUESTIONS[i % len(QUESTIONS)],
                received_at=clock_now[0],
                verified_customer_ref=ref,
            )
            spent_before = client.spent if client else 0.0
            started = time.perf_counter()
            await runtime.ingest(msg)
            await runtime.worker.drain()
            elapsed = time.perf_counter() - started
            while await runtime.outbox.run_once():
                pass
            if i >= WARMUP:
                result.totals.append(elapsed)
                result.in_model.append((client.spent - spent_before) if client else 0.0)
        async with runtime.session_factory() as session:
            for outcome in (await session.scalars(select(Decision.outcome))).all():
                kind = str(outcome.get("kind", "?"))
                result.kinds[kind] = result.kinds.get(kind, 0) + 1
    finally:
        await runtime.ingestor.stop()
        await runtime.engine.dispose()
    return result


async def load_demo(db: Database) -> datetime:
    engine = create_engine(db.url, pool_size=1)
    try:
        now = datetime.now(UTC)
        report = await import_file(make_session_factory(engine), SHOP_FILE, rebase_dates=True)
        assert not report.errors, report.errors
    finally:
        await engine.dispose()
    return now


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--serve-fake-model", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake_model:
        await serve_fake_model()
        return
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if "postgresql" in kinds and (reason := await postgres_reachable()) is not None:
        print(f"skipping PostgreSQL: {reason}", file=sys.stderr)
        kinds.remove("postgresql")
    results: list[Result] = []
    with workdir("reply") as folder:
        async with running_server(
            [str(script_path("reply.py")), "--serve-fake-model"], log_path=folder / "model.log"
        ) as model:
            base = f"http://127.0.0.1:{model.port}/v1"
            for kind in kinds:
                for mode in ("offline", "llm"):
                    async with fresh_database(kind, folder) as db:
                        now = await load_demo(db)
                        results.append(await measure(db, mode, args.messages, base, now))
    rows = []
    for r in results:
        own = [t - m for t, m in zip(r.totals, r.in_model, strict=True)]
        rows.append(
            [
                r.database,
                r.responder,
                str(len(r.totals)),
                fmt(percentile(r.totals, 50) * 1000),
                fmt(percentile(r.totals, 99) * 1000),
                fmt(percentile(r.in_model, 50) * 1000),
                fmt(percentile(own, 50) * 1000),
                fmt(percentile(own, 99) * 1000),
                ", ".join(f"{k} {v}" for k, v in sorted(r.kinds.items())),
            ]
        )
    headers = [
        "database",
        "responder",
        "replies",
        "total p50 ms",
        "total p99 ms",
        "in model calls p50 ms",
        "Threadline p50 ms",
        "Threadline p99 ms",
        "answers by kind",
    ]
    print(markdown_table(headers, rows))
    print(f"\n{machine_line()}; {load_line()}")


if __name__ == "__main__":
    asyncio.run(main())
