"""The real app with the demo shop, served on a free port of 127.0.0.1 for the browser."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from bot.app import build_app
from bot.bootstrap import Runtime, add_webchat, build_runtime
from bot.settings import Settings
from memory.db import create_engine, make_session_factory
from memory.demo import SHOP_FILE
from memory.importer import import_file
from memory.migrate import migrate


@asynccontextmanager
async def demo_app(
    folder: Path, configure: Callable[[Runtime], None] | None = None
) -> AsyncIterator[str]:
    """Migrate a fresh SQLite file, load the demo shop, serve it; yields the base URL."""
    url = f"sqlite+aiosqlite:///{folder / 'demo.db'}"
    engine = create_engine(url)
    try:
        await migrate(engine)
        report = await import_file(make_session_factory(engine), SHOP_FILE, rebase_dates=True)
    finally:
        await engine.dispose()
    assert not report.errors, report.errors

    settings = Settings(
        DATABASE_URL=url, THREADLINE_DEMO=True, THREADLINE_SECRET="browser-test-secret"
    )
    runtime = build_runtime(settings)
    add_webchat(runtime)
    if configure is not None:
        configure(runtime)
    runner = web.AppRunner(build_app(runtime), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
