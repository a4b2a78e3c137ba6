"""The pure parts of staff Slack: the card, the thread lines, commands, the staff list, request
routing, and when the wiring switches it on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import build_app
from bot.bootstrap import add_web_channels, build_runtime
from bot.messages import InboundMessage
from bot.settings import Settings
from bot.wire_slack import add_slack
from bot.wire_staff_slack import add_staff_slack
from channels.slack.parse import request_channel
from channels.slack_common import SlackWebApi
from channels.staff_slack import (
    HandoffSummary,
    SlackStaffPoster,
    StaffBackend,
    StaffSlackListeners,
    StaffUsers,
    StaffUsersError,
    card_blocks,
    card_text,
)
from channels.staff_slack.commands import (
    SLASH_USAGE,
    CommandError,
    StaffCommand,
    parse_staff_command,
)
from channels.staff_slack.thread_lines import repost_line, turn_line, waited_text
from tests.channels.fake_slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM_ID,
    FakeSlack,
    payload,
    sign,
)


def a_card(state: str = "waiting", claimed_by: str | None = None, **extra: Any) -> dict[str, Any]:
    card: dict[str, Any] = {
        "id": 7,
        "state": state,
        "queue": "orders",
        "priority": "high",
        "rule_id": "angry_customer",
        "reason": "sentiment -0.8 < -0.5",
        "claimed_by": claimed_by,
        "created_at": "2026-11-20T10:00:00+00:00",
        "sla_due_at": "2026-11-20T11:00:00+00:00",
        "sla_reposts": 0,
        "customer": {
            "id": 3,
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "channel": "telegram",
        },
        "orders": [
            {"id": f"10{n}", "status": "shipped", "total": "59.90", "currency": "EUR"}
            for n in range(5)
        ],
        "turns": [
            {"author": "customer", "channel": "webchat", "text": "first", "internal": False},
            {"author": "system", "channel": "staff", "text": "log line", "internal": True},
            {"author": "bot", "channel": "webchat", "text": "second", "internal": False},
            {"author": "customer", "channel": "telegram", "text": "third", "internal": False},
            {"author": "staff", "channel": "telegram", "text": "fourth", "staff": "bob"},
            {"author": "customer", "channel": "telegram", "text": "fifth <@U1>", "internal": False},
        ],
    }
    card.update(extra)
    return card


def actions(card: dict[str, Any]) -> list[str]:
    found = [b for b in card_blocks(card) if b["type"] == "actions"]
    return [e["action_id"] for e in found[0]["elements"]] if found else []


@pytest.mark.parametrize(
    ("state", "claimed_by", "line", "buttons"),
    [
        ("waiting", None, "Waiting", ["threadline_staff_claim", "threadline_staff_handback"]),
        (
            "claimed",
            "alice",
            "Claimed by alice",
            ["threadline_staff_resolve", "threadline_staff_handback"],
        ),
        ("resolved", "alice", "Resolved by alice", []),
        ("returned", "alice", "Back with the bot", []),
    ],
)
def test_the_card_shows_the_state_and_only_the_buttons_that_can_work(
    state: str, claimed_by: str | None, line: str, buttons: list[str]
) -> None:
    card = a_card(state, claimed_by)
    assert card_text(card).endswith(f"{line}.")
    assert actions(card) == buttons
    assert card_blocks(card)[-1]["elements"][0]["text"] == f"*{line}*"


def test_the_card_says_who_where_why_with_three_orders_and_the_last_turns() -> None:
    card = a_card()
    text = card_text(card)
    assert text == (
        "Handoff #7: Ada Lovelace <ada@example.com> on telegram, rule angry_customer "
        "(orders, high priority). Waiting."
    )
    shown = json.dumps(card_blocks(card), ensure_ascii=False)
    assert "`angry_customer` — sentiment -0.8 &lt; -0.5" in shown
    assert "<!date^1795172400^{date_short_pretty} {time}|2026-11-20 11:00 UTC>" in shown
    assert [o for o in ("100", "101", "102", "103") if f"• {o} ·" in shown] == [
        "100",
        "101",
        "102",
    ]
    assert "first" not in shown and "log line" not in shown
    for turn in ("second", "third", "*bob* (telegram): fourth", "fifth &lt;@U1&gt;"):
        assert turn in shown


def test_thread_lines_read_like_the_conversation() -> None:
    assert turn_line({"author": "customer", "channel": "telegram", "text": "hi <!here>"}) == (
        "*Customer* (telegram): hi &lt;!here&gt;"
    )
    assert turn_line({"author": "staff", "channel": "webchat", "text": "ok", "staff": "alice"}) == (
        "*alice → customer* (webchat): ok"
    )
    assert turn_line(
        {"author": "staff", "text": "check it", "staff": "alice", "internal": True, "note": True}
    ) == ("_note by alice (not sent)_: check it")
    assert turn_line({"author": "system", "text": "bob claimed the conversation"}) == (
        "_bob claimed the conversation_"
    )
    assert waited_text(timedelta(minutes=75)) == "1 h 15 min"
    assert waited_text(timedelta(seconds=40)) == "40 s"
    assert repost_line(a_card(sla_reposts=2), mention="<!here>", waited=timedelta(hours=2)) == (
        "<!here> Handoff #7 has waited 2 h unclaimed (reminder 2); priority raised to *high*. "
        "Claim it from the card above."
    )


def read(text: str) -> StaffCommand:
    return parse_staff_command(text, usage=SLASH_USAGE)


def test_commands_are_read_with_ids_and_mentions() -> None:
    assert read("resolve 12") == StaffCommand("resolve", 12)
    assert read("Handback #3") == StaffCommand("handback", 3)
    assert read("claim") == StaffCommand("claim")
    assert read("assign <@U02DEF|bob> 4") == StaffCommand("assign", 4, "U02DEF")
    assert read("assign @bob") == StaffCommand("assign", None, None, "bob")
    for wrong, says in [
        ("", "/threadline claim <id>"),
        ("dance", "I don't know `dance`"),
        ("assign", "Say who to assign it to"),
        ("resolve 12 13", "I can't read `13`"),
    ]:
        with pytest.raises(CommandError, match=says):
            read(wrong)


def test_the_staff_list_maps_slack_users_to_staff_names() -> None:
    users = StaffUsers.parse(" U01ABC:alice , U02DEF:bob ")
    assert users.restricted
    assert users.name_for("U01ABC") == "alice"
    assert users.name_for("U09XYZ") is None
    assert users.user_for("Bob") == "U02DEF"
    anyone = StaffUsers.parse(None)
    assert not anyone.restricted and anyone.name_for("U09XYZ") == "slack:U09XYZ"
    with pytest.raises(StaffUsersError, match="entry 2 is not"):
        StaffUsers.parse("U01ABC:alice,bob")
    with pytest.raises(StaffUsersError, match="U01ABC is listed twice"):
        StaffUsers.parse("U01ABC:alice,U01ABC:bob")


def test_every_kind_of_request_names_its_channel() -> None:
    assert request_channel(payload("app_mention")) == "C0PARTNERS1"
    assert request_channel(payload("slash_command")) == "C0PARTNERS1"
    assert request_channel(payload("block_actions")) == "D0CUST0001"
    assert request_channel(payload("url_verification")) is None


async def test_staff_slack_is_on_only_with_a_staff_channel_and_the_slack_app(
    database_url: str,
) -> None:
    base = Settings(
        DATABASE_URL=database_url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET
    )
    runtime = build_runtime(base, embedded_worker=False)
    try:
        assert add_slack(runtime)
        assert add_staff_slack(runtime) is False
        assert "staff_slack" not in runtime.services
    finally:
        await runtime.engine.dispose()
    settings = base.model_copy(
        update={"slack_staff_channel": "C0STAFF001", "slack_staff_users": "alice"}
    )
    runtime = build_runtime(settings, embedded_worker=False)
    try:
        assert add_slack(runtime)
        with pytest.raises(StaffUsersError, match="entry 1 is not <Slack user id>:<staff name>"):
            add_staff_slack(runtime)
    finally:
        await runtime.engine.dispose()


def test_the_shipped_manifest_asks_for_what_staff_slack_uses() -> None:
    from ruamel.yaml import YAML

    path = Path(__file__).resolve().parents[2] / "docs" / "channels" / "slack-app-manifest.yaml"
    manifest = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.channels", "message.groups"} <= events
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "channels:history", "groups:history", "app_mentions:read"} <= scopes
    assert {"commands"} <= scopes and manifest["settings"]["interactivity"]["is_enabled"]
    [command] = manifest["features"]["slash_commands"]
    assert command["should_escape"] is True, "assign @bob needs Bob's user id"


async def test_in_the_running_app_a_handoff_reaches_the_staff_channel_by_itself(
    database_url: str,
) -> None:
    fake = FakeSlack()
    await fake.start()
    settings = Settings(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        SLACK_STAFF_CHANNEL="C0STAFF001",
    )
    runtime = build_runtime(settings, embedded_worker=True, worker_poll_interval=0.05)
    add_web_channels(runtime)
    assert "staff_slack" in runtime.services and "staff_slack" not in runtime.channels
    try:
        async with TestClient(TestServer(build_app(runtime), host="127.0.0.1")) as client:
            ready = await (await client.get("/readyz")).json()
            assert ready["staff"] == ["staff_slack"] and "staff_slack" not in ready["channels"]
            message = InboundMessage(
                channel="webchat",
                external_event_id="web-1",
                external_user_id="visitor-1",
                text="I want to talk to a human agent please",
                received_at=runtime.clock(),
            )
            assert await runtime.ingest(message)
            [card] = await asyncio.wait_for(fake.wait_accepted("chat.postMessage"), 10)
            assert card.params["channel"] == "C0STAFF001"
            assert card.params["text"].endswith("Waiting.")
    finally:
        await fake.stop()


async def test_a_request_whose_handling_failed_is_taken_again_on_slacks_retry() -> None:
    """The store is briefly unavailable: bolt answers 500, the event key is forgotten, and
    Slack's retry acts, once."""
    fake = FakeSlack()
    await fake.start()
    seen: set[str] = set()
    acted: list[tuple[str, int, str, str]] = []
    outages = [RuntimeError("the database is restarting")]

    async def act(verb: str, handoff_id: int, staff: str, text: str) -> None:
        if outages:
            raise outages.pop()
        acted.append((verb, handoff_id, staff, text))

    async def remember(key: str, _user: str) -> bool:
        new = key not in seen
        seen.add(key)
        return new

    async def forget(key: str) -> None:
        seen.discard(key)

    async def thread_handoff(_channel: str, _ts: str) -> int | None:
        return 3

    async def summary(handoff_id: int) -> HandoffSummary | None:
        return HandoffSummary(handoff_id, "claimed", "alice")

    async def open_handoffs() -> list[HandoffSummary]:
        return []

    web_api = SlackWebApi(base_url=fake.api_url)
    client = web_api.client(BOT_TOKEN)
    await web_api.open()
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET, process_before_response=True)
    StaffSlackListeners(
        backend=StaffBackend(act, thread_handoff, summary, open_handoffs, remember, forget),
        users=StaffUsers.parse("U0ALICE001:alice"),
        staff_channels=lambda: {"C0STAFF001"},
        teller=SlackStaffPoster(client),
    ).register(app)
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": TEAM_ID,
            "event_id": "Ev0FAIL0001",
            "event": {
                "type": "message",
                "user": "U0ALICE001",
                "text": "Your refund is on its way",
                "ts": "1764400800.000200",
                "thread_ts": "1764400001.000100",
                "channel": "C0STAFF001",
            },
        }
    )

    async def deliver(retry: int) -> int:
        headers: dict[str, str | Sequence[str]] = {**sign(body), "Content-Type": "application/json"}
        if retry:
            headers["X-Slack-Retry-Num"] = str(retry)
        response = await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
        return response.status

    try:
        assert await deliver(0) == 500
        assert acted == [] and seen == set()
        assert await deliver(1) == 200
        assert await deliver(2) == 200
        assert acted == [("reply", 3, "alice", "Your refund is on its way")]
    finally:
        await web_api.close()
        await fake.stop()
