"""How long listing the open handoff cards takes, as the staff console does.

The console lists every open handoff's card (customer, where they are, latest orders,
last turns) each time the store changes, which with customers chatting is every poll. A
fresh database per backend gets the demo shop and ``--handoffs`` open handoffs, each in
its own customer's conversation of 20 turns; ``open_handoff_cards`` is then timed
(median and p95 of ``--listings``) and its SQL statements counted.

    .venv/bin/python bench/staff_cards.py [--handoffs 1,10,100] [--listings 50]
        [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    fmt,
    fresh_database,
    load_line,
    machine_line,
    markdown_table,
    percentile,
    postgres_reachable,
    workdir,
)
from bench.reply_path import load_demo_shop
from memory.db import create_engine, make_read_session_factory, make_session_factory
from memory.handoffs import open_handoff_cards
from memory.models import Customer
from memory.orders import SqlOrderSource
from memory.unit_of_work import SqlUnitOfWork

TURNS = 20


async def seed(url: str, handoffs: int) -> None:
    """``handoffs`` open handoffs, one per customer (demo customers first, then new ones)."""
    await load_demo_shop(url)
    engine = create_engine(url)
    factory = make_session_factory(engine)
    start = datetime.now(UTC) - timedelta(hours=1)
    try:
        async with factory() as session:
            ids = list((await session.scalars(select(Customer.id).order_by(Customer.id))).all())
        async with SqlUnitOfWork(factory, SqlOrderSource(make_read_session_factory(engine))) as uow:
            while len(ids) < handoffs:
                ids.append((await uow.customers.create(now=start, name=f"C{len(ids)}")).id)
            for customer_id in ids[:handoffs]:
                conversation = await uow.conversations.start(customer_id, "webchat", start)
                for n in range(TURNS):
                    await uow.messages.add(
                        conversation_id=conversation.id,
                        customer_id=customer_id,
                        author="customer" if n % 2 == 0 else "bot",
                        channel="webchat",
                        text=f"turn {n} of customer {customer_id}",
                        now=start + timedelta(seconds=n),
                    )
                await uow.handoffs.open(
                    conversation_id=conversation.id,
                    decision_id=None,
                    queue="support",
                    priority="normal",
                    rule_id="asks-for-a-person",
                    reason="asked for a person",
                    now=start + timedelta(seconds=TURNS),
                )
            await uow.commit()
    finally:
        await engine.dispose()


async def measure(kind: str, handoffs: int, listings: int) -> list[str]:
    with workdir("cards") as tmp:
        async with fresh_database(kind, tmp) as db:
            await seed(db.url, handoffs)
            engine = create_engine(db.url)
            reads = make_read_session_factory(engine)
            statements = 0

            def count(*_args: object) -> None:
                nonlocal statements
                statements += 1

            try:
                cards = await open_handoff_cards(reads)  # warm: statements compiled
                assert len(cards) == handoffs, (len(cards), handoffs)
                event.listen(engine.sync_engine, "before_cursor_execute", count)
                took = []
                for _ in range(listings):
                    started = time.perf_counter()
                    await open_handoff_cards(reads)
                    took.append((time.perf_counter() - started) * 1000)
            finally:
                await engine.dispose()
    took.sort()
    return [
        kind,
        str(handoffs),
        fmt(statistics.median(took), 2),
        fmt(percentile(took, 95), 2),
        fmt(statements / listings),
    ]


async def main_async(args: argparse.Namespace) -> None:
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if "postgresql" in kinds and (reason := await postgres_reachable()):
        print(f"PostgreSQL skipped: {reason}")
        kinds.remove("postgresql")
    rows = [
        await measure(kind, int(n), args.listings)
        for kind in kinds
        for n in args.handoffs.split(",")
    ]
    print(f"Open handoff cards, {args.listings} listings each; {machine_line()}")
    print(load_line())
    print()
    headers = ["database", "open handoffs", "median ms", "p95 ms", "SQL statements"]
    print(markdown_table(headers, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--handoffs", default="1,10,100", help="open handoffs, comma-separated")
    parser.add_argument("--listings", type=int, default=50)
    parser.add_argument("--databases", default="sqlite,postgresql")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
