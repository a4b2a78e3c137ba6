"""Benchmark (c): context-build time against the size of a customer's history.

One fresh database per backend holds three customers with 10, 1,000 and 100,000
past messages (spread over many conversations and two years of dates, some
escalated, with a few orders each) plus other customers around them, written with
Core bulk inserts. ``SqlContextReader.build`` is then timed for each customer on a
fresh session per build, as the pipeline does for every message.

The target: building for 100,000 messages takes at most 1.5× as long as for 10. The
median time of every SQL statement is printed too, so a query that grows with the
history shows up by name.

    .venv/bin/python bench/context.py [--quick] [--builds 200] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    fmt,
    fresh_database,
    load_line,
    machine_line,
    markdown_table,
    percentile,
    postgres_reachable,
    times,
    workdir,
)
from memory.contact_marks import remark
from memory.context import SqlContextReader
from memory.db import create_engine, make_read_session_factory, make_session_factory
from memory.models import Conversation, Customer, Handoff, Message, Order
from memory.orders import SqlOrderSource
from memory.records import ConversationRecord

SIZES = (10, 1_000, 100_000)
MESSAGES_PER_CONVERSATION = 20
HISTORY_SPAN = timedelta(days=730)
OTHER_CUSTOMERS = 500
OTHER_MESSAGES_EACH = 40
CHUNK = 5_000
RATIO_TARGET = 1.5
CHANNELS = ("webchat", "telegram", "slack")
QUESTIONS = (
    "Where is my order {ref}?",
    "Can I return the boots from {ref}?",
    "How long does shipping to Belgium take?",
    "The tracking for {ref} has not moved in days",
    "Do you have the tent in green?",
)
ANSWERS = (
    "Your order {ref} shipped yesterday with PostNL.",
    "You can return it within 30 days of delivery.",
    "Delivery to Belgium takes 2 to 3 working days.",
)


@dataclass(frozen=True, slots=True)
class Subject:
    size: int
    customer_id: int
    conversation: ConversationRecord


def chunks(rows: list[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def insert_rows(engine: AsyncEngine, table: Any, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        for part in chunks(rows):
            await conn.execute(insert(table), part)


async def next_id(engine: AsyncEngine, column: Any) -> int:
    async with engine.connect() as conn:
        current = await conn.scalar(select(column).order_by(column.desc()).limit(1))
    return int(current or 0) + 1


async def seed_customer(
    engine: AsyncEngine, rng: random.Random, *, messages: int, label: str, now: datetime
) -> Subject:
    """One customer with ``messages`` past messages; the newest conversation is open."""
    customer_id = await next_id(engine, Customer.id)
    await insert_rows(
        engine,
        Customer,
        [
            {
                "id": customer_id,
                "external_ref": f"BENCH-{label}",
                "email": f"{label}@bench.example",
                "name": f"Customer {label}",
                "tags": [],
                "created_at": now - HISTORY_SPAN - timedelta(days=1),
            }
        ],
    )
    order_refs = [f"BENCH-{label}-{n}" for n in range(6)]
    await insert_rows(
        engine,
        Order,
        [
            {
                "id": ref,
                "customer_id": customer_id,
                "email": f"{label}@bench.example",
                "status": rng.choice(["shipped", "delivered", "pending"]),
                "currency": "EUR",
                "total": Decimal(rng.randrange(1500, 40000)) / 100,
                "items": [],
                "created_at": now - timedelta(days=5 + 30 * n),
                "source": "json",
            }
            for n, ref in enumerate(order_refs)
        ],
    )

    conversations = max(1, messages // MESSAGES_PER_CONVERSATION)
    first_conv = await next_id(engine, Conversation.id)
    # Conversation start times, oldest first; the last one started an hour ago.
    starts = sorted(now - HISTORY_SPAN * rng.random() for _ in range(conversations - 1))
    starts.append(now - timedelta(hours=1))
    conv_rows: list[dict[str, Any]] = []
    msg_rows: list[dict[str, Any]] = []
    handoff_rows: list[dict[str, Any]] = []
    per_conv = [messages // conversations] * conversations
    for extra in range(messages - sum(per_conv)):
        per_conv[extra] += 1
    for n, started in enumerate(starts):
        conv_id = first_conv + n
        channel = CHANNELS[n % len(CHANNELS)]
        at = started
        for k in range(per_conv[n]):
            ref = rng.choice(order_refs) if k % 2 == 0 and rng.random() < 0.5 else None
            template = QUESTIONS[k % len(QUESTIONS)] if k % 2 == 0 else ANSWERS[k % len(ANSWERS)]
            msg_rows.append(
                {
                    "conversation_id": conv_id,
                    "customer_id": customer_id,
                    "author": "customer" if k % 2 == 0 else "bot",
                    "channel": channel,
                    "text": template.format(ref=ref or order_refs[0]),
                    "attachments": [],
                    "order_ref": ref,
                    "internal": False,
                    "meta": {},
                    "created_at": at,
                }
            )
            at += timedelta(seconds=rng.randrange(20, 180))
        is_open = n == len(starts) - 1
        conv_rows.append(
            {
                "id": conv_id,
                "customer_id": customer_id,
                "state": "bot",
                "channel": channel,
                "started_at": started,
                "last_message_at": at,
                "closed_at": None if is_open else at + timedelta(hours=1),
                "summary": None if is_open else f"Customer asked about {order_refs[n % 6]}",
                "consecutive_clarify": 0,
                "bot_failures": 0,
            }
        )
        if not is_open and n % 10 == 3:
            handoff_rows.append(
                {
                    "conversation_id": conv_id,
                    "state": "resolved",
                    "queue": "support",
                    "priority": "normal",
                    "rule_id": "asks-for-a-person",
                    "reason": "",
                    "created_at": started + timedelta(minutes=5),
                }
            )
    await insert_rows(engine, Conversation, conv_rows)
    await insert_rows(engine, Message, msg_rows)
    if handoff_rows:
        await insert_rows(engine, Handoff, handoff_rows)
    last = conv_rows[-1]
    record = ConversationRecord(
        id=int(last["id"]),
        customer_id=customer_id,
        state="bot",
        channel=str(last["channel"]),
        started_at=starts[-1],
        last_message_at=last["last_message_at"],
    )
    return Subject(messages, customer_id, record)


async def seed(engine: AsyncEngine, now: datetime) -> list[Subject]:
    rng = random.Random(20260101)
    for n in range(OTHER_CUSTOMERS // 50):  # neighbours, so no customer is alone in a table
        for k in range(50):
            await seed_customer(
                engine, rng, messages=OTHER_MESSAGES_EACH, label=f"other-{n}-{k}", now=now
            )
    subjects = [
        await seed_customer(engine, rng, messages=size, label=f"h{size}", now=now) for size in SIZES
    ]
    async with make_session_factory(engine)() as session, session.begin():
        # Bulk inserts bypass the store, which marks each message as it is written.
        await remark(session, list(await session.scalars(select(Customer.id))))
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:  # fresh statistics, as autovacuum would keep them
            await conn.exec_driver_sql("ANALYZE")
    return subjects


class StatementTimer:
    """Median time of each SQL statement, per customer size, to name what grows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.label = ""
        self.times: dict[tuple[str, str], list[float]] = defaultdict(list)
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        started = conn.info.pop("bench_started", None)
        if self.label and started is not None:
            key = " ".join(statement.split())[:90]
            self.times[(self.label, key)].append(time.perf_counter() - started)


async def time_builds(
    engine: AsyncEngine, subjects: list[Subject], builds: int, now: datetime, timer: StatementTimer
) -> dict[int, list[float]]:
    """Build context ``builds`` times per subject, taking turns between the subjects so that
    whatever else the machine does weighs on every size alike."""
    factory = make_session_factory(engine)
    orders = SqlOrderSource(make_read_session_factory(engine))
    samples: dict[int, list[float]] = {s.size: [] for s in subjects}
    warmup = max(1, builds // 10)
    for n in range(warmup + builds):
        for subject in subjects:
            timer.label = str(subject.size) if n >= warmup else ""
            started = time.perf_counter()
            async with factory() as session:
                context = await SqlContextReader(session, orders).build(
                    customer_id=subject.customer_id,
                    conversation=subject.conversation,
                    channel=subject.conversation.channel,
                    verified=True,
                    verified_via="bench",
                    now=now,
                )
            elapsed = time.perf_counter() - started
            if not context.recent_turns:
                raise RuntimeError(f"context for {subject.size} messages has no turns")
            if n >= warmup:
                samples[subject.size].append(elapsed)
    timer.label = ""
    return samples


async def run_backend(kind: str, tmp: Path, builds: int) -> tuple[dict[int, list[float]], str]:
    now = datetime.now(UTC).replace(microsecond=0)
    async with fresh_database(kind, tmp) as db:
        engine = create_engine(db.url, pool_size=4)
        try:
            started = time.perf_counter()
            subjects = await seed(engine, now)
            seeded = time.perf_counter() - started
            print(f"  {kind}: seeded in {seeded:.1f} s", file=sys.stderr)
            timer = StatementTimer(engine)
            results = await time_builds(engine, subjects, builds, now, timer)
        finally:
            await engine.dispose()
    return results, statement_table(timer)


def statement_table(timer: StatementTimer) -> str:
    statements = sorted({key for _, key in timer.times})
    rows = []
    for key in statements:
        medians = [timer.times.get((str(s), key)) for s in SIZES]
        cells = [fmt(statistics.median(m) * 1000, 3) if m else "–" for m in medians]
        rows.append([key, *cells])
    headers = ["statement", *(f"{s:,} msgs: ms" for s in SIZES)]
    return markdown_table(headers, rows)


def summary_table(results: dict[str, dict[int, list[float]]]) -> str:
    rows = []
    for kind, by_size in results.items():
        base = statistics.median(by_size[SIZES[0]])
        for size in SIZES:
            samples = by_size[size]
            median = statistics.median(samples)
            rows.append(
                [
                    kind,
                    f"{size:,}",
                    str(len(samples)),
                    fmt(median * 1000, 2),
                    fmt(percentile(samples, 95) * 1000, 2),
                    times(median, base),
                    ("ok" if median <= RATIO_TARGET * base else "MISSED")
                    if size == SIZES[-1]
                    else "",
                ]
            )
    headers = ["database", "past messages", "builds", "median ms", "p95 ms", "vs 10", "target"]
    return markdown_table(headers, rows)


async def run(kinds: list[str], builds: int) -> None:
    results: dict[str, dict[int, list[float]]] = {}
    statements: dict[str, str] = {}
    load_before = load_line()
    with workdir("bench-context") as tmp:
        for kind in kinds:
            results[kind], statements[kind] = await run_backend(kind, tmp, builds)
    print(f"\nContext build (SqlContextReader.build), {builds} builds each; {machine_line()}")
    print(f"{load_before} before, {load_line()} after\n")
    print(summary_table(results))
    for kind, table in statements.items():
        print(f"\nMedian time per statement, {kind}:\n")
        print(table)
    missed = [
        k
        for k, r in results.items()
        if statistics.median(r[SIZES[-1]]) > RATIO_TARGET * statistics.median(r[SIZES[0]])
    ]
    if missed:
        print(f"\nTarget missed on: {', '.join(missed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 builds per size, not 200")
    parser.add_argument("--builds", type=int, default=None)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    builds = args.builds or (50 if args.quick else 200)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if "postgresql" in kinds:
        reason = asyncio.run(postgres_reachable())
        if reason is not None:
            print(f"PostgreSQL skipped: {reason}", file=sys.stderr)
            kinds.remove("postgresql")
    asyncio.run(run(kinds, builds))


if __name__ == "__main__":
    main()
