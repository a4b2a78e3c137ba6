"""What every benchmark shares: fresh databases, server processes, wrk, tables.

Each benchmark creates its own databases (a SQLite file under a temporary folder,
a PostgreSQL database ``threadline_bench_<random>`` that is dropped at the end),
runs the server under test in its own process on 127.0.0.1 and the load in
another, and prints a markdown table. Nothing is written outside the temporary
folder and those databases.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from memory.db import create_engine
from memory.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
PYTHON = sys.executable
POSTGRES_ADMIN_URL = os.environ.get(
    "THREADLINE_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 30.0


# --- numbers and tables --------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def fmt(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:,.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join([line, rule, *body])


def machine_line() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def load_line() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews every number."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f}"


# --- databases -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Database:
    kind: str  # "sqlite" | "postgresql"
    url: str


async def _create_postgres(name: str) -> str:
    admin = create_async_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


async def _drop_postgres(name: str) -> None:
    admin = create_async_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@contextlib.asynccontextmanager
async def fresh_database(kind: str, workdir: Path) -> AsyncIterator[Database]:
    """A new, migrated, empty database of ``kind``; PostgreSQL ones are dropped afterwards."""
    if kind == "sqlite":
        path = workdir / f"threadline-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite+aiosqlite:///{path}"
        engine = create_engine(url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()
        yield Database(kind, url)
        return
    name = f"threadline_bench_{uuid.uuid4().hex[:12]}"
    url = await _create_postgres(name)
    try:
        engine = create_engine(url, pool_size=1)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()
        yield Database(kind, url)
    finally:
        await _drop_postgres(name)


async def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason it cannot be used."""
    admin = create_async_engine(POSTGRES_ADMIN_URL, poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"{exc.__class__.__name__}: {exc}"
    finally:
        await admin.dispose()
    return None


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"threadline-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- server processes ----------------------------------------------------------------


class ServerProcess:
    """A server script in its own process; it prints ``listening <port>`` when ready
    (or ``ready``, a line starting with it, for a process that serves no port) and one
    JSON line of statistics when it stops on SIGTERM."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: dict[str, str] | None,
        log_path: Path,
        ready: str = "listening ",
    ) -> None:
        self._args = [PYTHON, *args]
        self._env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
        self._log_path = log_path
        self._ready = ready
        self._proc: asyncio.subprocess.Process | None = None
        self.port = 0

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    async def start(self) -> int:
        log = self._log_path.open("ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._args,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=self._env,
                cwd=str(ROOT),
            )
        finally:
            log.close()
        assert self._proc.stdout is not None
        async with asyncio.timeout(SERVER_START_TIMEOUT_S):
            while True:
                line = (await self._proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"server exited before listening:\n{self.log_tail()}")
                if line.startswith("listening "):
                    self.port = int(line.split()[1])
                    return self.port
                if line.startswith(self._ready):
                    return 0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"

    async def stop(self) -> dict[str, Any]:
        """SIGTERM, wait, and return the statistics the server printed on its way out."""
        proc = self._proc
        if proc is None:
            return {}
        assert proc.stdout is not None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(SERVER_STOP_TIMEOUT_S):
                rest = (await proc.stdout.read()).decode()
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"server did not stop in time:\n{self.log_tail()}") from None
        self._proc = None
        for line in reversed(rest.splitlines()):
            if line.startswith("{"):
                stats: dict[str, Any] = json.loads(line)
                return stats
        return {}


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU time a running process has used, from ``/proc`` (Linux); None
    where there is no such file."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float | None:
    """CPU time every process on the machine has used so far, all cores together (busy
    time from ``/proc/stat``: everything but idle and I/O wait); None off Linux."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0]
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is
    # already counted in user and nice.
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in first.split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def running_server(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    log_path: Path,
    ready: str = "listening ",
) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(args, env=env, log_path=log_path, ready=ready)
    try:
        await server.start()
        yield server
    finally:
        if server._proc is not None and server._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                server._proc.kill()
            await server._proc.wait()


# --- wrk -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    ok: int  # 2xx/3xx responses
    non_2xx: int
    socket_errors: int
    timeouts: int
    duration_s: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        """Successful responses per second."""
        return self.ok / self.duration_s if self.duration_s else 0.0


def mean_result(a: WrkResult, b: WrkResult) -> WrkResult:
    """Two runs of the same load as one: counts added, latencies averaged."""
    return WrkResult(
        requests=a.requests + b.requests,
        ok=a.ok + b.ok,
        non_2xx=a.non_2xx + b.non_2xx,
        socket_errors=a.socket_errors + b.socket_errors,
        timeouts=a.timeouts + b.timeouts,
        duration_s=a.duration_s + b.duration_s,
        p50_ms=(a.p50_ms + b.p50_ms) / 2,
        p99_ms=(a.p99_ms + b.p99_ms) / 2,
    )


WRK_TIMEOUT = "10s"


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


async def run_wrk(
    url: str,
    *,
    connections: int,
    duration_s: float,
    script: Path,
    env: dict[str, str] | None = None,
    threads: int = 1,
) -> WrkResult:
    """Run wrk (its own process) with a Lua script whose ``done`` prints one JSON line."""
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={WRK_TIMEOUT}",
        "-s",
        str(script),
        url,
    ]
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    async with asyncio.timeout(duration_s + 60):
        out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode()}{out.decode()}")
    match = re.search(r"^BENCH (\{.*\})$", out.decode(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result line:\n{out.decode()}")
    data = json.loads(match.group(1))
    non_2xx = int(data["status_errors"])
    return WrkResult(
        requests=int(data["requests"]),
        ok=int(data["requests"]) - non_2xx,
        non_2xx=non_2xx,
        socket_errors=int(data["connect"]) + int(data["read"]) + int(data["write"]),
        timeouts=int(data["timeout"]),
        duration_s=float(data["duration_us"]) / 1e6,
        p50_ms=float(data["p50_us"]) / 1000,
        p99_ms=float(data["p99_us"]) / 1000,
    )


def script_path(name: str) -> Path:
    return BENCH_DIR / name


def ratio(part: float, whole: float) -> str:
    return "–" if not whole else f"{100 * part / whole:.1f}%"


def times(part: float, whole: float) -> str:
    return "–" if not whole else f"{part / whole:.1f}×"
