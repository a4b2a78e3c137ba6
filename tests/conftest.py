"""Shared fixtures: a fresh, migrated database per test on SQLite and PostgreSQL.

SQLite: the schema is migrated once per run into a template file, copied per test.
PostgreSQL: each run creates and migrates its own database (``threadline_t_<random>``),
tables are truncated between tests and the database is dropped at the end. PostgreSQL comes
from ``THREADLINE_TEST_POSTGRES_URL`` (default: the local server); when it is not
reachable the PostgreSQL variants are skipped with the reason, except under
``CI=true`` where that is an error.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from bot.nlu import OfflineUnderstanding
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from memory.db import create_engine, make_session_factory
from memory.migrate import migrate
from memory.models import Base
from tests.bot.harness import Harness

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
# python-telegram-bot's timedelta API (the one it moves to): no deprecation warnings.
os.environ.setdefault("PTB_TIMEDELTA", "true")

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PG_BASE_URL = os.environ.get("THREADLINE_TEST_POSTGRES_URL", DEFAULT_PG)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# The moment the demo shop is loaded at: its newest order is a day older.
DEMO_NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def pg_url(database: str) -> str:
    return make_url(PG_BASE_URL).set(database=database).render_as_string(hide_password=False)


async def _pg_setup(database: str) -> str | None:
    """Create and migrate this run's database; return the reason when PostgreSQL is unusable."""
    admin = create_async_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{database}"'))
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_BASE_URL}: {exc.__class__.__name__}: {exc}"
    finally:
        await admin.dispose()
    engine = create_engine(pg_url(database), pool_size=1)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    return None


async def _pg_drop(database: str) -> None:
    admin = create_async_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"

    async def _make() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await migrate(engine)
        await engine.dispose()

    asyncio.run(_make())
    return path


async def _load_demo(url: str) -> None:
    from memory.demo import SHOP_FILE
    from memory.importer import import_file

    engine = create_engine(url, pool_size=1)
    try:
        report = await import_file(
            make_session_factory(engine), SHOP_FILE, rebase_dates=True, now=DEMO_NOW
        )
        assert not report.errors, report.errors
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_demo_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copy(sqlite_template, path)
    asyncio.run(_load_demo(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_demo_template(postgres_database: str) -> Iterator[str]:
    """A database with the demo shop loaded, copied per test with CREATE DATABASE … TEMPLATE."""
    template = f"{postgres_database}_demo"

    async def _make() -> None:
        await _admin(f'CREATE DATABASE "{template}" TEMPLATE "{postgres_database}"')
        # The run's database may hold an earlier test's rows: start the template empty.
        await _truncate_all(pg_url(template))
        await _load_demo(pg_url(template))

    asyncio.run(_make())
    yield template
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    admin = create_async_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def demo_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_demo_template: Path
) -> Iterator[str]:
    """A fresh database with the demo shop loaded at ``DEMO_NOW`` (one per test)."""
    if request.param == "sqlite":
        path = tmp_path / "threadline.db"
        shutil.copy(sqlite_demo_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_demo_template")
    database = f"{template}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{database}" TEMPLATE "{template}"'))
    yield pg_url(database)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    database = f"threadline_t_{uuid.uuid4().hex[:12]}"
    reason = asyncio.run(_pg_setup(database))
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI needs PostgreSQL: {reason}")
        # Only off CI (CI fails above): a laptop without PostgreSQL reports its tests as
        # skipped, with the reason, never as passed.
        pytest.skip(reason)
    yield database
    asyncio.run(_pg_drop(database))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """The URL of a fresh, migrated, empty database (one per test)."""
    if request.param == "sqlite":
        path = tmp_path / "threadline.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    database = request.getfixturevalue("postgres_database")
    url = pg_url(database)
    asyncio.run(_truncate_all(url))
    return url


async def _truncate_all(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url, pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_factory(engine)


@pytest.fixture(scope="session")
def understander() -> OfflineUnderstander:
    """Fitting the classifier takes a moment: one per test run (it is pure)."""
    return OfflineUnderstander(OfflineUnderstanding.default())


@pytest.fixture
async def h(demo_database_url: str, understander: OfflineUnderstander) -> AsyncIterator[Harness]:
    """A real runtime (store, pipeline, policy, understanding, responder) on the demo shop."""
    harness = await Harness.open(Settings(DATABASE_URL=demo_database_url), understander, DEMO_NOW)
    yield harness
    await harness.close()


# --- Real-browser tests: Debian's Chromium driven by Playwright (never a downloaded browser).

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# .ci/run installs Chromium and sets this: there a missing browser is a failure, not a skip.
REQUIRE_BROWSER = os.environ.get("THREADLINE_REQUIRE_BROWSER", "") not in ("", "0")


@pytest.fixture
def chromium() -> Path:
    reason = None
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install playwright)"
    if reason is not None:
        if REQUIRE_BROWSER or IN_CI:
            pytest.fail(f"browser tests must run here: {reason}")
        # Only off CI (CI fails above): a laptop without Chromium reports the browser tests
        # as skipped, with the reason, never as passed.
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
