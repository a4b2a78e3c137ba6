"""Where the reply path's time goes: the pipeline alone, without the web server or clients.

For SQLite and PostgreSQL: a fresh database gets the demo shop; a batch of customer messages
(the same mix as ``bench/chat_clients.py``: a quarter signed in as demo customers, knowledge
and order questions) is stored through the real ingest; then the worker processes them all
(``Worker.drain``) with the offline responder, after a warm-up (each customer's first two
messages: their identities and conversations exist, the worker's statements are compiled).
Every SQL statement is counted and timed at the driver (``before/after_cursor_execute``).

Reported per message: wall time, this process's CPU time (not the PostgreSQL server's), SQL
statements, and the time statements spent in the driver: the worker's share of a reply in
benchmark (b), with full batches.

    .venv/bin/python bench/pipeline_cost.py [--messages 400] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chat_clients import questions_for
from bench.common import (
    fmt,
    fresh_database,
    load_line,
    machine_line,
    markdown_table,
    postgres_reachable,
    workdir,
)
from bench.reply_path import load_demo_shop
from bot.bootstrap import build_runtime
from bot.messages import InboundMessage
from bot.nlu import OfflineUnderstanding
from bot.ports import OfflineUnderstander
from bot.settings import Settings

CUSTOMERS = 50
WARM_UP = 2 * CUSTOMERS


@dataclass
class SqlTally:
    statements: int = 0
    seconds: float = 0.0
    _started: dict[int, float] = field(default_factory=dict)

    def before(self, conn: Any, cursor: Any, *_args: Any) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def after(self, conn: Any, cursor: Any, *_args: Any) -> None:
        started = self._started.pop(id(cursor), None)
        if started is not None:
            self.statements += 1
            self.seconds += time.perf_counter() - started


def messages(count: int, customers: list[str], now: datetime) -> list[InboundMessage]:
    """``count`` messages from ``CUSTOMERS`` people, one question each in turn."""
    out: list[InboundMessage] = []
    for n in range(count):
        person = n % CUSTOMERS
        signed_in = person % 4 == 0 and bool(customers)
        cycle = questions_for(person, signed_in)
        _kind, text = cycle[(n // CUSTOMERS) % len(cycle)]
        ref = customers[person % len(customers)] if signed_in else None
        out.append(
            InboundMessage(
                channel="webchat",
                external_event_id=f"bench-{n}",
                external_user_id=f"customer:{ref}" if ref else f"visitor-{person}",
                text=text,
                received_at=now,
                verified_customer_ref=ref,
            )
        )
    return out


async def measure(kind: str, count: int, understander: OfflineUnderstander) -> list[str]:
    with workdir("pipeline") as tmp:
        async with fresh_database(kind, tmp) as db:
            customers = await load_demo_shop(db.url)
            runtime = build_runtime(
                Settings(DATABASE_URL=db.url), embedded_worker=True, understander=understander
            )
            assert runtime.worker is not None
            await runtime.ingestor.start()
            try:
                batch = messages(WARM_UP + count, customers, datetime.now(UTC))
                # Warm-up, not measured: each customer's first two messages (new
                # identities and conversations; statements compiled, as in a running
                # worker).
                for msg in batch[:WARM_UP]:
                    await runtime.ingest(msg)
                await runtime.worker.drain()
                for msg in batch[WARM_UP:]:
                    await runtime.ingest(msg)
                tally = SqlTally()
                sync_engine = runtime.engine.sync_engine
                event.listen(sync_engine, "before_cursor_execute", tally.before)
                event.listen(sync_engine, "after_cursor_execute", tally.after)
                started, cpu_started = time.perf_counter(), time.process_time()
                await runtime.worker.drain()
                wall = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
            finally:
                await runtime.ingestor.stop()
                await runtime.engine.dispose()
    return [
        kind,
        str(count),
        fmt(count / wall),
        fmt(wall / count * 1000),
        fmt(cpu / count * 1000),
        fmt(tally.statements / count),
        fmt(tally.seconds / count * 1000),
    ]


async def main_async(args: argparse.Namespace) -> None:
    understander = OfflineUnderstander(OfflineUnderstanding.default())
    rows = []
    for kind in args.databases.split(","):
        if kind == "postgresql":
            reason = await postgres_reachable()
            if reason is not None:
                print(f"postgresql skipped: {reason}", file=sys.stderr)
                continue
        rows.append(await measure(kind, args.messages, understander))
    print(f"Pipeline cost per message, offline responder; {machine_line()}")
    print(load_line())
    print()
    print(
        markdown_table(
            [
                "database",
                "messages",
                "messages/s",
                "wall ms/message",
                "CPU ms/message",
                "SQL statements/message",
                "driver ms/message",
            ],
            rows,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--databases", default="sqlite,postgresql")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
