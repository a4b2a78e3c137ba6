"""Where the reply path's time goes: the pipeline alone, without the web server or clients.

For SQLite and PostgreSQL: a fresh database gets the demo shop; ``--senders`` people (the
same mix as ``bench/chat_clients.py``: a quarter signed in as demo customers, knowledge and
order questions) write in rounds, as the clients of benchmark (b) do: a round's messages are
stored through the real ingest, then the worker answers them (``Worker.drain``, timed) with
the offline responder, and the next round follows. Before the timed rounds: the worker's warm
start and two rounds not timed (identities and conversations exist). Every SQL statement of
the timed part is counted and timed at the driver (``before/after_cursor_execute``).

Reported per message: wall time, this process's CPU time (not the PostgreSQL server's), SQL
statements, and the time statements spent in the driver: the worker's share of a reply in
benchmark (b). ``--senders`` is the worker's batch size (50 at most; benchmark (b) sees
about 20–25 with 50 clients).

    .venv/bin/python bench/pipeline_cost.py [--messages 400] [--senders 50]
        [--databases sqlite,postgresql]
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
from bot.bootstrap import Runtime, build_runtime
from bot.messages import InboundMessage
from bot.nlu import OfflineUnderstanding
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from bot.warm_start import warm_start

SENDERS = 50  # the worker's batch size, as with 50 or more clients waiting


@dataclass
class SqlTally:
    statements: int = 0
    seconds: float = 0.0
    paused: bool = False  # statements not counted (storing the next round)
    _started: dict[int, float] = field(default_factory=dict)

    def before(self, conn: Any, cursor: Any, *_args: Any) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def after(self, conn: Any, cursor: Any, *_args: Any) -> None:
        started = self._started.pop(id(cursor), None)
        if started is not None and not self.paused:
            self.statements += 1
            self.seconds += time.perf_counter() - started


async def ingest_all(runtime: Runtime, batch: list[InboundMessage]) -> None:
    await asyncio.gather(*(runtime.ingest(msg) for msg in batch))


def messages(count: int, senders: int, customers: list[str], now: datetime) -> list[InboundMessage]:
    """``count`` messages from ``senders`` people, one question each in turn."""
    out: list[InboundMessage] = []
    for n in range(count):
        person = n % senders
        signed_in = person % 4 == 0 and bool(customers)
        cycle = questions_for(person, signed_in)
        _kind, text = cycle[(n // senders) % len(cycle)]
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


async def measure(
    kind: str, count: int, senders: int, understander: OfflineUnderstander
) -> list[str]:
    with workdir("pipeline") as tmp:
        async with fresh_database(kind, tmp) as db:
            customers = await load_demo_shop(db.url)
            runtime = build_runtime(
                Settings(DATABASE_URL=db.url), embedded_worker=True, understander=understander
            )
            assert runtime.worker is not None
            questions = messages(2 * senders + count, senders, customers, datetime.now(UTC))
            await runtime.ingestor.start()
            await warm_start(runtime)  # as `threadline worker` does before it serves
            try:
                rounds = [
                    batch
                    for start in range(0, 2 * senders + count, senders)
                    if (batch := questions[start : start + senders])
                ]
                # Warm-up, not measured: each sender's first two messages (new identities
                # and conversations).
                for batch in rounds[:2]:
                    await ingest_all(runtime, batch)
                    await runtime.worker.drain()
                tally = SqlTally()
                sync_engine = runtime.engine.sync_engine
                event.listen(sync_engine, "before_cursor_execute", tally.before)
                event.listen(sync_engine, "after_cursor_execute", tally.after)
                wall = cpu = 0.0
                for batch in rounds[2:]:
                    # As in benchmark (b): each sender writes again once answered, so the
                    # worker finds one message per sender waiting, not a backlog.
                    tally.paused = True
                    await ingest_all(runtime, batch)
                    tally.paused = False
                    started, cpu_started = time.perf_counter(), time.process_time()
                    await runtime.worker.drain()
                    wall += time.perf_counter() - started
                    cpu += time.process_time() - cpu_started
            finally:
                await runtime.ingestor.stop()
                await runtime.engine.dispose()
    return [
        kind,
        str(senders),
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
        rows.append(await measure(kind, args.messages, args.senders, understander))
    print(f"Pipeline cost per message, offline responder; {machine_line()}")
    print(load_line())
    print()
    print(
        markdown_table(
            [
                "database",
                "senders",
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
    parser.add_argument(
        "--senders", type=int, default=SENDERS, help="people writing at once: the batch size"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
