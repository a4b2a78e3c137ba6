"""The Slack channel on its own: modes, wiring from settings, and what Slack sees on failure."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from bot.bootstrap import build_runtime
from bot.messages import InboundMessage
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from bot.wire_slack import add_slack
from channels.slack import SlackChannel
from tests.channels.fake_slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack, payload, sign

Client = TestClient[web.Request, web.Application]


class Store:
    """The ingest port: keeps messages by event id, can fail the next calls."""

    def __init__(self, on_ingest: Callable[[], None] | None = None) -> None:
        self.messages: dict[str, InboundMessage] = {}
        self.failures = 0
        self._on_ingest = on_ingest

    async def ingest(self, msg: InboundMessage) -> bool:
        if self._on_ingest is not None:
            self._on_ingest()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database unavailable")
        if msg.external_event_id in self.messages:
            return False
        self.messages[msg.external_event_id] = msg
        return True


@pytest.fixture
async def served(fake: FakeSlack) -> AsyncIterator[tuple[Client, Store]]:
    store = Store()
    channel = SlackChannel(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        api_url=fake.api_url,
        ingest=store.ingest,
    )
    app = web.Application()
    app.add_routes(channel.routes())
    await channel.startup()
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, store
    await channel.shutdown()


async def post(client: Client, body: str, content_type: str, **headers: str) -> ClientResponse:
    all_headers = {**sign(body), "Content-Type": content_type, **headers}
    return await client.post("/webhooks/slack", data=body.encode(), headers=all_headers)


async def test_a_failed_store_is_a_500_so_slack_retries_and_the_retry_is_stored(
    served: tuple[Client, Store],
) -> None:
    client, store = served
    store.failures = 1
    body = json.dumps(payload("message_im"))
    failed = await post(client, body, "application/json")
    assert failed.status == 500
    assert store.messages == {}
    retried = await post(client, body, "application/json", **{"X-Slack-Retry-Num": "1"})
    assert retried.status == 200
    assert list(store.messages) == ["Ev0DM0000001"]


async def test_a_command_mentioning_payload_still_reaches_the_store(
    served: tuple[Client, Store],
) -> None:
    client, store = served
    fields = {**payload("slash_command"), "text": "what is the payload size limit?"}
    response = await post(client, urlencode(fields), "application/x-www-form-urlencoded")
    assert response.status == 200
    [msg] = store.messages.values()
    assert msg.text == "what is the payload size limit?"


async def test_another_slash_command_is_answered_with_usage(
    served: tuple[Client, Store],
) -> None:
    client, store = served
    fields = {**payload("slash_command"), "command": "/orders"}
    response = await post(client, urlencode(fields), "application/x-www-form-urlencoded")
    assert response.status == 200
    assert "/threadline" in await response.text()
    assert store.messages == {}


async def test_socket_mode_stores_an_event_before_acknowledging_it(fake: FakeSlack) -> None:
    acks_when_stored: list[int] = []
    store = Store(on_ingest=lambda: acks_when_stored.append(len(fake.socket_acks)))
    channel = SlackChannel(
        bot_token=BOT_TOKEN, app_token=APP_TOKEN, api_url=fake.api_url, ingest=store.ingest
    )
    envelope = {
        "envelope_id": "3f1c9e52-5d21-4b55-9c39-0f7a3f5c2a11",
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": payload("message_im"),
    }
    await channel.startup()
    try:
        async with asyncio.timeout(10):
            await fake.push(envelope)
            ack = await fake.wait_socket_ack(envelope["envelope_id"])
    finally:
        await channel.shutdown()
    assert ack == {"envelope_id": envelope["envelope_id"]}
    assert list(store.messages) == ["Ev0DM0000001"]
    assert acks_when_stored == [0], "stored before the ack went back"
    assert [c.method for c in fake.calls][:2] == ["apps.connections.open", "auth.test"]


async def test_socket_mode_does_not_hold_up_start_up_when_slack_is_unreachable() -> None:
    async def ingest(msg: InboundMessage) -> bool:
        raise AssertionError("nothing arrives in this test")

    channel = SlackChannel(
        bot_token=BOT_TOKEN, app_token=APP_TOKEN, api_url="http://127.0.0.1:9/api/", ingest=ingest
    )
    async with asyncio.timeout(2):
        await channel.startup()
        await asyncio.sleep(0.2)  # the connection attempt fails meanwhile, in the background
        await channel.shutdown()


def test_an_app_token_chooses_socket_mode_with_no_webhook() -> None:
    async def ingest(msg: InboundMessage) -> bool:
        raise AssertionError("nothing arrives in this test")

    socket = SlackChannel(bot_token=BOT_TOKEN, app_token=APP_TOKEN, ingest=ingest)
    assert socket.mode == "socket"
    assert socket.routes() == []
    both = SlackChannel(
        bot_token=BOT_TOKEN, app_token=APP_TOKEN, signing_secret=SIGNING_SECRET, ingest=ingest
    )
    assert (both.mode, both.routes()) == ("socket", [])
    http = SlackChannel(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, ingest=ingest)
    assert http.mode == "http"
    [route] = http.routes()
    assert isinstance(route, web.RouteDef)
    assert (route.method, route.path) == ("POST", "/webhooks/slack")


def test_the_channel_refuses_to_run_without_its_secrets() -> None:
    async def ingest(msg: InboundMessage) -> bool:
        return True

    with pytest.raises(ValueError, match="bot token"):
        SlackChannel(bot_token="", signing_secret=SIGNING_SECRET, ingest=ingest)
    with pytest.raises(ValueError, match="signing secret"):
        SlackChannel(bot_token=BOT_TOKEN, ingest=ingest)


@pytest.mark.parametrize(
    ("env", "on", "logged"),
    [
        ({}, False, "Slack is off (no SLACK_BOT_TOKEN)"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN}, False, "Slack is off: set SLACK_SIGNING_SECRET"),
        (
            {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET},
            True,
            "Slack is on: Events API at POST /webhooks/slack",
        ),
        (
            {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-1-A0THREAD01-1"},
            True,
            "Slack is on: Socket Mode",
        ),
    ],
)
async def test_slack_is_on_only_with_its_settings(
    tmp_path: Path,
    understander: OfflineUnderstander,
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str],
    on: bool,
    logged: str,
) -> None:
    settings = Settings(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/t.db", **env)  # type: ignore[arg-type]
    runtime = build_runtime(settings, understander=understander)
    try:
        with caplog.at_level(logging.INFO, logger="bot.wire_slack"):
            assert add_slack(runtime) is on
        assert ("slack" in runtime.channels) is on
        assert logged in caplog.text
    finally:
        await runtime.engine.dispose()


def test_the_shipped_manifest_matches_what_the_channel_serves() -> None:
    from ruamel.yaml import YAML

    from channels.slack.channel import WEBHOOK_PATH
    from channels.slack.parse import COMMAND

    path = Path(__file__).resolve().parents[2] / "docs" / "channels" / "slack-app-manifest.yaml"
    manifest = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    settings = manifest["settings"]
    [command] = manifest["features"]["slash_commands"]
    urls = {
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    }
    assert command["command"] == COMMAND
    assert len(urls) == 1 and urls.pop().endswith(WEBHOOK_PATH)
    assert sorted(settings["event_subscriptions"]["bot_events"]) == [
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
    ]
    assert settings["interactivity"]["is_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # chat.postMessage, conversations.open for a DM, the two events, the command.
    assert {"chat:write", "im:write", "im:history", "app_mentions:read", "commands"} <= scopes
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
