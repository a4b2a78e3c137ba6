"""The servers under test for the webhook benchmark, one per process.

``bare``: an aiohttp endpoint that answers 200 and does nothing else.
``ingest``: a durable webhook: parse the platform's JSON body, validate it, build an
:class:`InboundMessage` and await :meth:`GroupCommitIngestor.ingest`, so the 2xx
goes out only after the row is committed. The ingestor is configured as
``bot.bootstrap.build_runtime`` configures it (one writer on SQLite, two on
PostgreSQL).

Usage: ``python bench/webhook_server.py bare`` or
``python bench/webhook_server.py ingest --database-url URL``. The server prints
``listening <port>`` when it accepts connections and, after SIGTERM, one JSON line
with what it answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.messages import InboundMessage
from memory.db import create_engine, is_sqlite
from memory.ingest import GroupCommitIngestor

CHANNEL = "webhook"
MAX_BODY_BYTES = 64 * 1024
MAX_TEXT_CHARS = 4000
FIELDS = {"event_id", "user_id", "text"}


class BadWebhook(ValueError):
    pass


def parse_webhook(body: bytes, received_at: datetime) -> InboundMessage:
    """A platform webhook body → InboundMessage; :class:`BadWebhook` says what is wrong."""
    try:
        payload: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadWebhook(f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadWebhook("body must be a JSON object")
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise BadWebhook(f"unknown field(s): {', '.join(unknown)}")
    values: dict[str, str] = {}
    for name in sorted(FIELDS):
        value = payload.get(name)
        if not isinstance(value, str) or not value.strip():
            raise BadWebhook(f"field {name!r} must be a non-empty string")
        values[name] = value
    if len(values["event_id"]) > 200 or len(values["user_id"]) > 200:
        raise BadWebhook("event_id and user_id are at most 200 characters")
    if len(values["text"]) > MAX_TEXT_CHARS:
        raise BadWebhook(f"text is longer than {MAX_TEXT_CHARS} characters")
    return InboundMessage(
        channel=CHANNEL,
        external_event_id=values["event_id"],
        external_user_id=values["user_id"],
        text=values["text"],
        received_at=received_at,
    )


def bare_app(stats: Counter[str]) -> web.Application:
    async def webhook(_request: web.Request) -> web.Response:
        stats["ok"] += 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/webhook", webhook)
    return app


def ingest_app(database_url: str, stats: Counter[str]) -> web.Application:
    engine = create_engine(database_url)
    ingestor = GroupCommitIngestor(engine, writers=1 if is_sqlite(database_url) else 2)

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        if len(body) > MAX_BODY_BYTES:
            stats["rejected"] += 1
            return web.json_response({"error": "body too large"}, status=413)
        try:
            msg = parse_webhook(body, datetime.now(UTC))
        except BadWebhook as exc:
            stats["rejected"] += 1
            return web.json_response({"error": str(exc)}, status=400)
        is_new = await ingestor.ingest(msg)
        stats["ok" if is_new else "duplicate"] += 1
        return web.json_response({"event_id": msg.external_event_id, "duplicate": not is_new})

    async def on_startup(_app: web.Application) -> None:
        await ingestor.start()

    async def on_cleanup(_app: web.Application) -> None:
        await ingestor.stop()
        await engine.dispose()

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/webhook", webhook)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


async def serve(app: web.Application, stats: Counter[str]) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print(f"listening {port}", flush=True)
    await stop.wait()
    await runner.cleanup()
    print(json.dumps(dict(stats)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["bare", "ingest"])
    parser.add_argument("--database-url")
    args = parser.parse_args()
    stats: Counter[str] = Counter()
    if args.mode == "bare":
        app = bare_app(stats)
    else:
        if not args.database_url:
            parser.error("ingest needs --database-url")
        app = ingest_app(args.database_url, stats)
    asyncio.run(serve(app, stats))


if __name__ == "__main__":
    main()
