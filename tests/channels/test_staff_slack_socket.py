"""Staff Slack over Socket Mode: the card's Claim button arrives over the app's WebSocket
(no public URL), is acknowledged, and claims the handoff (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from bot.bootstrap import build_runtime
from bot.messages import InboundMessage
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from bot.wire_slack import add_slack
from bot.wire_staff_slack import StaffSlackService, add_staff_slack
from channels.slack import SlackChannel
from memory.models import Handoff
from tests.bot.harness import Clock, RecordingChannel
from tests.channels.fake_slack import APP_TOKEN, BOT_TOKEN, TEAM_ID, FakeSlack
from tests.channels.test_staff_slack import ALICE, ASK_FOR_PERSON, STAFF_CHANNEL, STAFF_USERS
from tests.conftest import DEMO_NOW


def claim_click(handoff_id: int, card_ts: str) -> dict[str, object]:
    return {
        "envelope_id": str(uuid.uuid4()),
        "type": "interactive",
        "accepts_response_payload": False,
        "payload": {
            "type": "block_actions",
            "user": {"id": ALICE, "team_id": TEAM_ID},
            "team": {"id": TEAM_ID},
            "api_app_id": "A0THREAD01",
            "container": {"type": "message", "message_ts": card_ts, "channel_id": STAFF_CHANNEL},
            "channel": {"id": STAFF_CHANNEL},
            "trigger_id": "trigger-socket-1",
            "actions": [
                {
                    "action_id": "threadline_staff_claim",
                    "block_id": f"handoff_{handoff_id}",
                    "value": str(handoff_id),
                    "type": "button",
                    "action_ts": "1764400300.000001",
                }
            ],
        },
    }


async def test_a_claim_click_over_socket_mode_claims_the_handoff(
    demo_database_url: str, understander: OfflineUnderstander, fake: FakeSlack
) -> None:
    settings = Settings(
        DATABASE_URL=demo_database_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=fake.api_url,
        SLACK_STAFF_CHANNEL=STAFF_CHANNEL,
        SLACK_STAFF_USERS=STAFF_USERS,
    )
    runtime = build_runtime(
        settings, clock=Clock(DEMO_NOW), embedded_worker=True, understander=understander
    )
    assert add_slack(runtime) and add_staff_slack(runtime)
    slack, staff = runtime.channels["slack"], runtime.services["staff_slack"]
    assert isinstance(slack, SlackChannel) and isinstance(staff, StaffSlackService)
    assert slack.mode == "socket" and slack.routes() == []
    web_chat = RecordingChannel(name="webchat")
    runtime.outbox.add_sender(web_chat.name, web_chat)
    await runtime.ingestor.start()
    await slack.startup()
    try:
        visitor = InboundMessage(
            channel="webchat",
            external_event_id="web-socket-1",
            external_user_id="visitor-socket",
            text=ASK_FOR_PERSON,
            received_at=DEMO_NOW,
        )
        assert await runtime.ingest(visitor)
        assert runtime.worker is not None
        await runtime.worker.drain()
        while await staff.sender.run_once():
            pass
        [card] = fake.posted()
        async with runtime.session_factory() as session:
            handoff = await session.scalar(select(Handoff))
        assert handoff is not None and handoff.staff_thread is not None

        envelope = claim_click(handoff.id, handoff.staff_thread)
        async with asyncio.timeout(10):
            await fake.push(envelope)
            ack = await fake.wait_socket_ack(str(envelope["envelope_id"]))
        assert ack["envelope_id"] == envelope["envelope_id"]
        async with runtime.session_factory() as session:
            claimed = await session.get(Handoff, handoff.id, populate_existing=True)
        assert claimed is not None and (claimed.state, claimed.claimed_by) == ("claimed", "alice")
        while await staff.sender.run_once():
            pass
        assert "Claimed by alice" in str(fake.accepted("chat.update")[-1].params)
        assert card["channel"] == STAFF_CHANNEL
    finally:
        await slack.shutdown()
        await runtime.ingestor.stop()
        await runtime.engine.dispose()
