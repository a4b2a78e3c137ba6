"""The `threadline` command line (also `python -m bot`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from aiohttp import web

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.bootstrap import Runtime

log = logging.getLogger("threadline")


def load_settings() -> Settings:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs one line per Bot API call (long polling makes one every 30 s).
    for noisy in ("alembic", "bm25s", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return settings


async def require_schema(settings: Settings) -> None:
    from memory.db import create_null_pool_engine
    from memory.migrate import current_revision, head_revision

    engine = create_null_pool_engine(settings.database_url)
    try:
        current = await current_revision(engine)
    finally:
        await engine.dispose()
    if current != head_revision():
        raise click.ClickException(
            f"the database at {settings.database_url} is at schema {current or 'none'}; "
            "run `threadline migrate` first"
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="threadline")
def main() -> None:
    """Threadline: a self-hosted customer-support bot for online shops."""


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema (idempotent)."""
    settings = load_settings()
    asyncio.run(_migrate(settings.database_url))


async def _migrate(url: str) -> None:
    from memory.db import create_null_pool_engine
    from memory.migrate import current_revision, migrate

    engine = create_null_pool_engine(url)
    try:
        await migrate(engine)
        click.echo(f"database schema at {await current_revision(engine)} ({_safe_url(url)})")
    finally:
        await engine.dispose()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rebase-dates", is_flag=True, help="Shift dates so the newest order is recent.")
def import_(file: Path, rebase_dates: bool) -> None:
    """Import customers, products and orders from FILE (.json or Shopify .csv)."""
    settings = load_settings()
    errors = asyncio.run(_import(settings, file, rebase_dates))
    if errors:
        sys.exit(1)


async def _import(settings: Settings, file: Path, rebase_dates: bool) -> int:
    from memory.db import create_null_pool_engine, make_session_factory
    from memory.importer import ImportFileError, import_file

    await require_schema(settings)
    engine = create_null_pool_engine(settings.database_url)
    try:
        report = await import_file(make_session_factory(engine), file, rebase_dates=rebase_dates)
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        await engine.dispose()
    click.echo(report.summary())
    for error in report.errors:
        click.echo(f"{file}:{error.line}: {error.message}", err=True)
    return len(report.errors)


@main.command()
@click.option("--host", default=None, help="Default: THREADLINE_HOST (127.0.0.1).")
@click.option("--port", type=int, default=None, help="Default: THREADLINE_PORT (8080).")
def serve(host: str | None, port: int | None) -> None:
    """Serve webhooks, the web chat and the health endpoints."""
    settings = load_settings()
    asyncio.run(require_schema(settings))
    _serve(settings, host or settings.host, port or settings.port)


def _serve(settings: Settings, host: str, port: int) -> None:
    from bot.app import build_app
    from bot.bootstrap import add_web_channels, build_runtime

    runtime = build_runtime(settings)
    try:
        add_web_channels(runtime)
    except ValueError as exc:  # a malformed token or secret, said plainly
        raise click.ClickException(str(exc)) from exc
    app = build_app(runtime)
    app.on_startup.append(_warm_start(runtime))  # after the runtime's own start
    click.echo(f"Threadline on http://{host}:{port}  (Ctrl+C to stop)")
    web.run_app(app, host=host, port=port, print=None, access_log=None)


def _warm_start(runtime: Runtime) -> Callable[[web.Application], Awaitable[None]]:
    async def on_startup(_app: web.Application) -> None:
        from bot.warm_start import warm_start

        await warm_start(runtime)

    return on_startup


@main.command()
def worker() -> None:
    """Process stored messages (run beside `serve` with THREADLINE_EMBEDDED_WORKER=false)."""
    settings = load_settings()
    asyncio.run(require_schema(settings))
    asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    from bot.bootstrap import build_runtime
    from bot.warm_start import warm_start

    runtime = build_runtime(settings, embedded_worker=True, other_process=True)
    await runtime.start()
    await warm_start(runtime)
    click.echo("worker running (Ctrl+C to stop)")
    try:
        await asyncio.Event().wait()
    finally:
        await runtime.stop()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
def demo(host: str, port: int) -> None:
    """Migrate, load the demo shop and serve it with the web chat and staff console."""
    os.environ["THREADLINE_DEMO"] = "true"
    settings = load_settings()
    asyncio.run(_load_demo(settings))
    _serve(settings, host, port)


async def _load_demo(settings: Settings) -> None:
    from memory.demo import SHOP_FILE

    await _migrate(settings.database_url)
    errors = await _import(settings, SHOP_FILE, rebase_dates=True)
    if errors:
        raise click.ClickException("the demo shop did not import cleanly")


@main.command()
@click.option("--as", "external_id", required=True, help="Your id on the terminal channel.")
@click.option("--verified-email", default=None, help="Speak as the customer with this email.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per bot turn.")
def chat(external_id: str, verified_email: str | None, as_json: bool) -> None:
    """Chat with Threadline in the terminal: one customer line per stdin line."""
    settings = load_settings()
    asyncio.run(require_schema(settings))
    asyncio.run(_chat(settings, external_id, verified_email, as_json))


async def _chat(
    settings: Settings, external_id: str, verified_email: str | None, as_json: bool
) -> None:
    from bot.bootstrap import build_runtime, describe
    from bot.messages import OutboundMessage
    from channels.terminal import TerminalChannel

    def show(msg: OutboundMessage) -> None:
        if as_json:
            click.echo(json.dumps(describe(msg), ensure_ascii=False))
        else:
            click.echo(f"threadline> {msg.text}")

    runtime = build_runtime(settings, embedded_worker=True)
    terminal = TerminalChannel(show)
    runtime.outbox.add_sender(terminal.name, terminal)
    await runtime.ingestor.start()
    assert runtime.worker is not None
    interactive = sys.stdin.isatty() and not as_json
    try:
        while True:
            if interactive:
                click.echo("you> ", nl=False)
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            if not line.strip():
                continue
            try:
                await runtime.ingest(
                    terminal.parse(
                        line, external_user_id=external_id, verified_email=verified_email
                    )
                )
            except ValueError as exc:
                click.echo(f"error: {exc}", err=True)
                continue
            await runtime.worker.drain()
            while await runtime.outbox.run_once():
                pass
    finally:
        await runtime.ingestor.stop()
        await runtime.engine.dispose()


def _register_admin_commands() -> None:
    """Admin command groups that live in their own modules."""
    from bot.cli_customers import customers
    from bot.cli_eval import eval_command
    from bot.cli_knowledge import knowledge
    from bot.cli_outcomes import outcomes
    from bot.cli_policies import policies
    from bot.cli_telegram import telegram

    main.add_command(policies)
    main.add_command(eval_command)
    main.add_command(telegram)
    main.add_command(customers)
    main.add_command(knowledge)
    main.add_command(outcomes)


_register_admin_commands()
