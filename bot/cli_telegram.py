"""`threadline telegram …`: register the webhook, or long-poll for development."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import click

from bot.messages import SendError
from bot.settings import Settings

log = logging.getLogger("threadline")


def telegram_settings() -> Settings:
    from bot.cli import load_settings

    settings = load_settings()
    if not settings.telegram_bot_token:
        raise click.ClickException(
            "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and export its token"
        )
    return settings


@click.group()
def telegram() -> None:
    """Connect the Telegram bot: register its webhook, or long-poll in development."""


@telegram.command("set-webhook")
@click.argument("url")
@click.option(
    "--drop-pending-updates", is_flag=True, help="Discard updates Telegram is still holding."
)
def set_webhook(url: str, drop_pending_updates: bool) -> None:
    """Make Telegram post updates to URL (https://…/webhooks/telegram) with the secret token."""
    from channels.telegram import (
        WebhookSetupError,
        check_secret,
        check_webhook_url,
        register_webhook,
    )

    settings = telegram_settings()
    secret = settings.telegram_webhook_secret
    if not secret:
        raise click.ClickException(
            "TELEGRAM_WEBHOOK_SECRET is not set: choose 1-256 characters of A-Z, a-z, 0-9, _ "
            "and - (e.g. `openssl rand -hex 32`)"
        )
    try:
        check_secret(secret)
        check_webhook_url(url)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    assert settings.telegram_bot_token is not None
    try:
        username = asyncio.run(
            register_webhook(
                token=settings.telegram_bot_token,
                api_url=settings.telegram_api_url,
                url=url,
                secret=secret,
                drop_pending_updates=drop_pending_updates,
            )
        )
    except WebhookSetupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Webhook set: Telegram now posts @{username}'s updates to {url}")


@telegram.command()
def poll() -> None:
    """Fetch updates by long polling and answer them (no public URL needed).

    This removes a registered webhook; run `threadline telegram set-webhook` again after.
    """
    from bot.cli import require_schema

    settings = telegram_settings()
    asyncio.run(require_schema(settings))
    asyncio.run(_poll(settings))


async def _poll(settings: Settings) -> None:
    from bot.bootstrap import build_runtime
    from bot.warm_start import warm_start
    from bot.wire_telegram import add_telegram
    from channels.telegram import Poller, PollingError, TelegramChannel

    runtime = build_runtime(settings, embedded_worker=True)
    add_telegram(runtime)
    channel = runtime.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await runtime.start()
    await warm_start(runtime)
    click.echo("Polling Telegram for updates (Ctrl+C to stop)")
    try:
        await Poller(channel).run(stop)
    except (PollingError, SendError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        await runtime.stop()
    click.echo("Stopped polling")
