"""Benchmark (b): the web-chat reply path with the offline responder.

For SQLite and PostgreSQL, at 50 and 200 concurrent customers: a fresh database
gets the demo shop (``import_file(..., rebase_dates=True)``); the real web process
(``build_runtime`` + ``add_webchat`` + ``build_app``) runs in its own process, in one
of two layouts: ``embedded`` (the worker inside the web process, as ``make demo``
runs it) or ``split`` (the Procfile's: the web process, and ``threadline worker`` in
another). The customers run in a third process (``bench/chat_clients.py``), each
asking one question at a time and waiting for the bot's reply before the next. A
quarter of them are signed in as demo customers through the shop's HMAC hello.

Reported: replies per second, reply latency p50/p99 (message sent → bot reply
received), ack latency p50, the CPU time the web and the worker process used while the
clients ran, per reply received (from ``/proc``; "n/a" elsewhere), the same for the clients
and for the whole machine (every process, the database server's included), and the bare
aiohttp endpoint's requests/s measured by wrk at the same concurrency in the same run.

Below the table, each cell's CPU budget at the target: the replies/s that 5% of bare asks
for, and the two limits that rate sets. A process runs its Python on one core, so the
busiest server process (the worker, or in the one-process layout the web process doing
both) may spend at most one core's time divided by that rate per reply; and everything on
the machine together (server, database server, clients) at most all cores' time divided
by it.

    .venv/bin/python bench/reply_path.py [--quick] [--connections 50,200]
        [--databases sqlite,postgresql] [--layouts embedded,split]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PYTHON,
    ROOT,
    Database,
    WrkResult,
    cpu_seconds,
    fmt,
    fresh_database,
    load_line,
    machine_busy_seconds,
    machine_line,
    markdown_table,
    percentile,
    postgres_reachable,
    ratio,
    run_wrk,
    running_server,
    script_path,
    workdir,
    wrk_available,
)
from memory.db import create_engine, make_session_factory
from memory.demo import SHOP_FILE
from memory.importer import import_file
from memory.models import Customer, Message, Order

RATE_TARGET = 0.05
FLOOD_LIMIT_OFF = 1_000_000
CLIENTS_GRACE_S = 60.0


@dataclass(frozen=True, slots=True)
class AppRun:
    """What one product run measured."""

    result: dict[str, Any]  # the clients' report (bench/chat_clients.py)
    pending: int  # inbound events the web process left pending when it stopped
    bot_messages: int
    cpu_s: dict[str, float]  # process ("web", "worker") → CPU seconds while the clients ran
    machine_cpu_s: float | None  # every process on the machine, same span


@dataclass(frozen=True, slots=True)
class ReplyRun:
    database: str
    layout: str
    clients: int
    bare: WrkResult
    app: AppRun

    @property
    def result(self) -> dict[str, Any]:
        return self.app.result

    @property
    def cpu_s(self) -> dict[str, float]:
        return self.app.cpu_s

    @property
    def rate(self) -> float:
        window = float(self.result["window_s"])
        return self.result["replies_in_window"] / window if window else 0.0

    def latency(self, pct: float, key: str = "latencies_ms") -> float:
        return percentile(self.result[key], pct)

    def cpu_per_reply(self, process: str) -> str:
        """That process's CPU milliseconds per reply the clients received ("clients":
        the load generator; "machine": every process)."""
        if self.layout == "embedded" and process == "worker":
            return "in web"
        seconds = {
            **self.cpu_s,
            "clients": self.result.get("cpu_s"),
            "machine": self.app.machine_cpu_s,
        }.get(process)
        replies = int(self.result["replies"])
        return "n/a" if seconds is None or not replies else fmt(seconds / replies * 1000, 2)

    @property
    def needed_rate(self) -> float:
        """Replies/s at the target."""
        return RATE_TARGET * self.bare.rps

    def budget_ms(self, cores: int) -> float:
        """CPU milliseconds per reply that ``cores`` have at the target rate."""
        return cores * 1000 / self.needed_rate if self.needed_rate else 0.0

    @property
    def busiest_process(self) -> str:
        """The server process that used the most CPU (one process runs on one core)."""
        return max(self.cpu_s, key=lambda name: self.cpu_s[name], default="web")

    @property
    def busiest_cpu_ms(self) -> float | None:
        """The busiest server process's CPU milliseconds per reply."""
        replies = int(self.result["replies"])
        if not replies or not self.cpu_s:
            return None
        return self.cpu_s[self.busiest_process] / replies * 1000


async def load_demo_shop(url: str) -> list[str]:
    """Import the demo shop; return the shop ids of customers who have orders."""
    engine = create_engine(url)
    try:
        factory = make_session_factory(engine)
        report = await import_file(factory, SHOP_FILE, rebase_dates=True)
        if report.errors:
            raise RuntimeError(f"demo shop import reported errors: {report.errors[:3]}")
        async with factory() as session:
            refs = await session.scalars(
                select(Customer.external_ref)
                .where(
                    Customer.external_ref.is_not(None),
                    exists().where(Order.customer_id == Customer.id),
                )
                .order_by(Customer.external_ref)
            )
            return [r for r in refs if r]
    finally:
        await engine.dispose()


async def count_bot_messages(url: str) -> int:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            total = await conn.scalar(
                select(func.count()).select_from(Message).where(Message.author != "customer")
            )
            return int(total or 0)
    finally:
        await engine.dispose()


async def measure_bare(tmp: Path, connections: int, duration: float) -> WrkResult:
    async with running_server(["bench/webhook_server.py", "bare"], log_path=tmp / "bare.log") as s:
        result = await run_wrk(
            f"http://127.0.0.1:{s.port}/webhook",
            connections=connections,
            duration_s=duration,
            script=script_path("webhook.lua"),
            env={"BENCH_RUN": uuid.uuid4().hex[:8]},
        )
        await s.stop()
    return result


async def run_clients(
    port: int, clients: int, duration: float, secret: str, customers: list[str]
) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "bench/chat_clients.py",
        "--port",
        str(port),
        "--clients",
        str(clients),
        "--duration",
        str(duration),
        "--secret",
        secret,
        "--customers",
        ",".join(customers),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
    )
    async with asyncio.timeout(duration + CLIENTS_GRACE_S):
        out, err = await proc.communicate()
    match = re.search(r"^BENCH (\{.*\})$", out.decode(), re.MULTILINE)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"chat clients failed ({proc.returncode}): {err.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(match.group(1))
    return result


async def measure_app(
    tmp: Path, db: Database, layout: str, clients: int, duration: float
) -> AppRun:
    customers = await load_demo_shop(db.url)
    secret = secrets.token_hex(16)
    env = {
        "DATABASE_URL": db.url,
        "THREADLINE_SECRET": secret,
        "THREADLINE_LOG_LEVEL": "WARNING",
        "THREADLINE_EMBEDDED_WORKER": "true" if layout == "embedded" else "false",
        "THREADLINE_DEMO": "false",
        # The clients ask as fast as they are answered, far above a person's pace:
        # the per-window flood limit (20 messages / 10 s) would cut them off.
        "THREADLINE_WEBCHAT_RATE_LIMIT": str(FLOOD_LIMIT_OFF),
    }
    name = f"{db.kind}-{layout}-{clients}"
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(
            running_server(["bench/app_server.py"], env=env, log_path=tmp / f"app-{name}.log")
        )
        worker = None
        if layout == "split":  # the Procfile's worker process, as deployed
            worker = await stack.enter_async_context(
                running_server(
                    ["-m", "bot", "worker"],
                    env=env,
                    log_path=tmp / f"worker-{name}.log",
                    ready="worker running",
                )
            )
        processes = {"web": server} if worker is None else {"web": server, "worker": worker}
        before = {name: cpu_seconds(p.pid) for name, p in processes.items()}
        machine_before = machine_busy_seconds()
        result = await run_clients(server.port, clients, duration, secret, customers)
        machine_after = machine_busy_seconds()
        after = {name: cpu_seconds(p.pid) for name, p in processes.items()}
        if worker is not None:
            await worker.stop()
        stats = await server.stop()
    cpu = {
        name: end - start
        for name, start in before.items()
        if start is not None and (end := after[name]) is not None
    }
    machine = (
        None if machine_before is None or machine_after is None else machine_after - machine_before
    )
    return AppRun(
        result,
        int(stats.get("pending_events", -1)),
        await count_bot_messages(db.url),
        cpu,
        machine,
    )


async def run(
    kinds: list[str], layouts: list[str], clients: list[int], duration: float
) -> list[ReplyRun]:
    runs: list[ReplyRun] = []
    with workdir("bench-reply") as tmp:
        for kind in kinds:
            for layout in layouts:
                for n in clients:
                    runs.append(await measure_one(tmp, kind, layout, n, duration))
    return runs


async def measure_one(tmp: Path, kind: str, layout: str, n: int, duration: float) -> ReplyRun:
    bare = await measure_bare(tmp, n, duration)
    async with fresh_database(kind, tmp) as db:
        app = await measure_app(tmp, db, layout, n, duration)
    result = app.result
    r = ReplyRun(kind, layout, n, bare, app)
    print(
        f"  {kind} {layout} clients={n}: {r.rate:,.1f} replies/s, "
        f"p50 {r.latency(50):,.0f} ms, unanswered {result['unanswered']}, "
        f"errors {result['error_count']}, bare {bare.rps:,.0f} req/s",
        file=sys.stderr,
    )
    for error in result["errors"][:3]:
        print(f"    error: {error}", file=sys.stderr)
    return r


def table(runs: list[ReplyRun]) -> str:
    headers = [
        "database",
        "processes",
        "clients",
        "signed in",
        "replies",
        "replies/s",
        "reply p50 ms",
        "reply p99 ms",
        "ack p50 ms",
        "web CPU ms/reply",
        "worker CPU ms/reply",
        "clients CPU ms/reply",
        "all CPU ms/reply",
        "unanswered",
        "bare req/s",
        "replies/s vs bare",
        "target",
    ]
    rows = []
    for r in runs:
        rows.append(
            [
                r.database,
                "web + worker" if r.layout == "embedded" else "web, worker",
                str(r.clients),
                str(r.result["signed_in"]),
                f"{r.result['replies']:,}",
                fmt(r.rate),
                fmt(r.latency(50), 0),
                fmt(r.latency(99), 0),
                fmt(r.latency(50, "ack_ms")),
                r.cpu_per_reply("web"),
                r.cpu_per_reply("worker"),
                r.cpu_per_reply("clients"),
                r.cpu_per_reply("machine"),
                str(r.result["unanswered"] + r.result["error_count"]),
                fmt(r.bare.rps, 0),
                ratio(r.rate, r.bare.rps),
                "ok" if r.rate >= RATE_TARGET * r.bare.rps else "MISSED",
            ]
        )
    return markdown_table(headers, rows)


def budget_table(runs: list[ReplyRun], cores: int) -> str:
    """Each cell's CPU per reply against what the target leaves (see the module docstring)."""
    headers = [
        "database",
        "processes",
        "clients",
        "replies/s at 5%",
        "busiest process CPU ms/reply",
        "at 5%: one core allows",
        "all CPU ms/reply",
        f"at 5%: {cores} cores allow",
    ]
    rows = []
    for r in runs:
        busiest = r.busiest_cpu_ms
        rows.append(
            [
                r.database,
                "web + worker" if r.layout == "embedded" else "web, worker",
                str(r.clients),
                fmt(r.needed_rate, 0),
                "n/a" if busiest is None else f"{fmt(busiest, 2)} ({r.busiest_process})",
                fmt(r.budget_ms(1), 2),
                r.cpu_per_reply("machine"),
                fmt(r.budget_ms(cores), 2),
            ]
        )
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 s per measurement, not 20 s")
    parser.add_argument("--connections", default="50,200", help="concurrent customers")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--layouts",
        default="embedded,split",
        help="embedded: the worker in the web process; split: a worker process beside it",
    )
    parser.add_argument("--show-replies", action="store_true", help="print one reply per question")
    args = parser.parse_args()
    if not wrk_available():
        sys.exit("wrk is needed for the bare baseline: apt-get install -y wrk")
    duration = 5.0 if args.quick else 20.0
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if "postgresql" in kinds:
        reason = asyncio.run(postgres_reachable())
        if reason is not None:
            print(f"PostgreSQL skipped: {reason}", file=sys.stderr)
            kinds.remove("postgresql")
    clients = [int(c) for c in args.connections.split(",")]
    load_before = load_line()
    layouts = [x.strip() for x in args.layouts.split(",") if x.strip()]
    if unknown := set(layouts) - {"embedded", "split"}:
        sys.exit(f"unknown layout(s): {', '.join(sorted(unknown))}")
    runs = asyncio.run(run(kinds, layouts, clients, duration))
    print(f"\nWeb-chat reply path, offline responder, {duration:.0f} s per run; {machine_line()}")
    print(f"{load_before} before, {load_line()} after\n")
    print(table(runs))
    print(f"\nCPU budget at the target ({RATE_TARGET:.0%} of bare):\n")
    print(budget_table(runs, os.cpu_count() or 1))
    if args.show_replies and runs:
        print()
        for question, reply in sorted(runs[0].result["sample_replies"].items()):
            print(f"- {question} → {reply}")
    bad = [r for r in runs if r.result["error_count"] or r.result["unanswered"]]
    for r in bad:
        print(
            f"\n{r.database} clients={r.clients}: {r.result['unanswered']} unanswered, "
            f"{r.result['error_count']} errors: {r.result['errors'][:5]}"
        )
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
