"""Benchmark (a): durable webhook ingest beside a bare aiohttp endpoint.

For SQLite and PostgreSQL, at 50 and 200 concurrent connections, wrk (its own
process) posts platform-like JSON webhooks, each with a unique event id, for a fixed
time: to a server whose handler stores and commits the event through
``GroupCommitIngestor`` before it answers, and to a bare aiohttp endpoint that answers
200 (just before and just after; the two bare runs are averaged). Each server runs in
its own process; each ingest run gets a fresh database.

Afterwards every event id that wrk saw acknowledged is looked up in the database:
nothing may be acknowledged that was not stored. The stored row count must equal
the acknowledgements the server sent (wrk may miss the last few in flight when its
time is up).

    .venv/bin/python bench/ingest.py [--quick] [--connections 50,200]
        [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Database,
    WrkResult,
    fmt,
    fresh_database,
    load_line,
    machine_line,
    markdown_table,
    mean_result,
    postgres_reachable,
    ratio,
    run_wrk,
    running_server,
    script_path,
    times,
    workdir,
    wrk_available,
)
from bench.webhook_server import CHANNEL
from memory.db import create_engine
from memory.models import InboundEvent

SERVER = "bench/webhook_server.py"
RPS_TARGET = 0.25
P99_TARGET = 10.0


@dataclass(frozen=True, slots=True)
class IngestRun:
    database: str
    connections: int
    bare: WrkResult
    ingest: WrkResult
    rows: int
    server_acks: int
    acked_missing: int

    @property
    def verified(self) -> bool:
        return (
            self.acked_missing == 0
            and self.rows == self.server_acks
            and self.ingest.ok <= self.rows
            and self.ingest.non_2xx == 0
        )


async def stored_ids(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(InboundEvent.external_event_id).where(InboundEvent.channel == CHANNEL)
            )
            return {r[0] for r in rows}
    finally:
        await engine.dispose()


async def row_count(url: str) -> int:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(InboundEvent)) or 0)
    finally:
        await engine.dispose()


async def measure_bare(tmp: Path, connections: int, duration: float) -> WrkResult:
    async with running_server([SERVER, "bare"], log_path=tmp / "bare.log") as server:
        result = await run_wrk(
            f"http://127.0.0.1:{server.port}/webhook",
            connections=connections,
            duration_s=duration,
            script=script_path("webhook.lua"),
            env={"BENCH_RUN": uuid.uuid4().hex[:8]},
        )
        await server.stop()
    return result


async def measure_ingest(
    tmp: Path, db: Database, connections: int, duration: float
) -> tuple[WrkResult, int, int, int]:
    acks = tmp / f"acks-{db.kind}-{connections}.txt"
    args = [SERVER, "ingest", "--database-url", db.url]
    async with running_server(args, log_path=tmp / f"ingest-{db.kind}.log") as server:
        result = await run_wrk(
            f"http://127.0.0.1:{server.port}/webhook",
            connections=connections,
            duration_s=duration,
            script=script_path("webhook.lua"),
            env={"BENCH_RUN": uuid.uuid4().hex[:8], "BENCH_ACK_FILE": str(acks)},
        )
        stats = await server.stop()
    acked = [line for line in acks.read_text().splitlines() if line]
    stored = await stored_ids(db.url)
    missing = sum(1 for event_id in acked if event_id not in stored)
    return result, await row_count(db.url), int(stats.get("ok", 0)), missing


async def run(kinds: list[str], connections: list[int], duration: float) -> list[IngestRun]:
    runs: list[IngestRun] = []
    with workdir("bench-ingest") as tmp:
        for kind in kinds:
            for conns in connections:
                # The bare endpoint is measured just before and just after, and averaged, so
                # that a change in the machine's load during the run weighs on both sides.
                bare_before = await measure_bare(tmp, conns, duration)
                async with fresh_database(kind, tmp) as db:
                    ingest, rows, acks, missing = await measure_ingest(tmp, db, conns, duration)
                bare = mean_result(bare_before, await measure_bare(tmp, conns, duration))
                run_ = IngestRun(kind, conns, bare, ingest, rows, acks, missing)
                runs.append(run_)
                print(
                    f"  {kind} c={conns}: bare {bare.rps:,.0f} req/s, "
                    f"ingest {ingest.rps:,.0f} req/s, rows {rows}",
                    file=sys.stderr,
                )
    return runs


def table(runs: list[IngestRun]) -> str:
    headers = [
        "database",
        "conns",
        "bare req/s",
        "bare p99 ms",
        "ingest req/s",
        "ingest p50 ms",
        "ingest p99 ms",
        "req/s vs bare",
        "p99 vs bare",
        "rows stored",
        "2xx seen",
        "acked not stored",
        "targets",
    ]
    rows = []
    for r in runs:
        rps_ok = r.ingest.rps >= RPS_TARGET * r.bare.rps
        p99_ok = r.ingest.p99_ms <= P99_TARGET * r.bare.p99_ms
        rows.append(
            [
                r.database,
                str(r.connections),
                fmt(r.bare.rps, 0),
                fmt(r.bare.p99_ms),
                fmt(r.ingest.rps, 0),
                fmt(r.ingest.p50_ms),
                fmt(r.ingest.p99_ms),
                ratio(r.ingest.rps, r.bare.rps),
                times(r.ingest.p99_ms, r.bare.p99_ms),
                f"{r.rows:,}",
                f"{r.ingest.ok:,}",
                str(r.acked_missing),
                ("req/s ok" if rps_ok else "req/s MISSED")
                + ", "
                + ("p99 ok" if p99_ok else "p99 MISSED"),
            ]
        )
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per measurement, not 10 s")
    parser.add_argument("--connections", default="50,200")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    if not wrk_available():
        sys.exit("wrk is needed: apt-get install -y wrk")
    duration = 3.0 if args.quick else 10.0
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if "postgresql" in kinds:
        reason = asyncio.run(postgres_reachable())
        if reason is not None:
            print(f"PostgreSQL skipped: {reason}", file=sys.stderr)
            kinds.remove("postgresql")
    conns = [int(c) for c in args.connections.split(",")]
    load_before = load_line()
    runs = asyncio.run(run(kinds, conns, duration))
    print(f"\nDurable webhook ingest, {duration:.0f} s per run, wrk -t1; {machine_line()}")
    print(f"{load_before} before, {load_line()} after\n")
    print(table(runs))
    failed = [r for r in runs if not r.verified]
    if failed:
        for r in failed:
            print(
                f"\nVERIFICATION FAILED {r.database} c={r.connections}: rows {r.rows}, "
                f"server acks {r.server_acks}, wrk 2xx {r.ingest.ok}, "
                f"non-2xx {r.ingest.non_2xx}, acked but not stored {r.acked_missing}"
            )
        sys.exit(1)
    print("\nEvery acknowledged event id was found in the database; rows = acks sent.")


if __name__ == "__main__":
    main()
