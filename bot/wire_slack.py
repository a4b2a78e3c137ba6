"""Wires the customer Slack channel into a runtime when its settings are present."""

from __future__ import annotations

import logging

from bot.bootstrap import Runtime

log = logging.getLogger(__name__)


def slack_missing(runtime: Runtime) -> list[str]:
    """The settings the Slack channel still needs (empty when it can run)."""
    settings = runtime.settings
    missing: list[str] = []
    if not settings.slack_bot_token:
        missing.append("SLACK_BOT_TOKEN")
    if not settings.slack_signing_secret and not settings.slack_app_token:
        missing.append("SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)")
    return missing


def add_slack(runtime: Runtime) -> bool:
    """Add the Slack channel to ``runtime``; False (and a log line) when it is off."""
    missing = slack_missing(runtime)
    if missing:
        if runtime.settings.slack_bot_token or runtime.settings.slack_signing_secret:
            log.warning("Slack is off: set %s", " and ".join(missing))
        else:
            log.info("Slack is off (no SLACK_BOT_TOKEN)")
        return False
    from channels.slack import SlackChannel

    settings = runtime.settings
    assert settings.slack_bot_token is not None
    channel = SlackChannel(
        bot_token=settings.slack_bot_token,
        signing_secret=settings.slack_signing_secret,
        app_token=settings.slack_app_token,
        api_url=settings.slack_api_url,
        ingest=runtime.ingest,
        clock=runtime.clock,
    )
    runtime.add_channel(channel)
    log.info(
        "Slack is on: %s",
        "Socket Mode" if channel.mode == "socket" else "Events API at POST /webhooks/slack",
    )
    return True
