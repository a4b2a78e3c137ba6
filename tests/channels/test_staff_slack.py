"""Staff Slack end to end: a customer escalates, the card appears in the staff channel, staff
claim, reply in the thread, note, resolve and hand back; signed requests through the real bolt
app, the real pipeline and store, and a fake Slack Web API on 127.0.0.1 (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.bootstrap import Runtime, build_runtime
from bot.handoff import BACK_TO_BOT, RATING_QUESTION, HandoffDeps, claim, note, staff_reply
from bot.messages import InboundMessage
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from bot.staff_outbox import StaffPostSender
from bot.wire_slack import add_slack
from bot.wire_staff_slack import StaffSlackService, add_staff_slack
from channels.slack import SlackChannel
from channels.staff_slack.listeners import NO_FILES
from memory.models import Customer, Handoff, InboundEvent, Message
from tests.bot.harness import Clock, RecordingChannel
from tests.channels.fake_slack import (
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    FakeSlack,
    sign,
)
from tests.conftest import DEMO_NOW

Client = TestClient[web.Request, web.Application]
STAFF_CHANNEL = "C0STAFF001"
VIP_CHANNEL = "C0VIPDESK1"
ALICE, BOB, CAROL = "U0ALICE001", "U0BOB00001", "U0CAROL001"
STAFF_USERS = f"{ALICE}:alice,{BOB}:bob"
ASK_FOR_PERSON = "I want to talk to a human agent please"
POLICY = Path(__file__).resolve().parents[2] / "policies" / "default"


@dataclass
class Desk:
    """The app with customer Slack and staff Slack, a web-chat customer, a clock."""

    runtime: Runtime
    slack: SlackChannel
    sender: StaffPostSender
    client: Client
    fake: FakeSlack
    clock: Clock
    web: RecordingChannel
    _ids: count[int] = field(default_factory=lambda: count(1))

    # --- the customer ---------------------------------------------------------------

    async def customer_says(self, ref: str, text: str) -> None:
        msg = InboundMessage(
            channel="webchat",
            external_event_id=f"web-{next(self._ids)}",
            external_user_id=f"customer:{ref}",
            text=text,
            received_at=self.clock(),
            verified_customer_ref=ref,
        )
        assert await self.runtime.ingest(msg)
        await self.process()

    async def escalated(self, *, claimed_by: str | None = None) -> tuple[str, int]:
        """A demo customer asks for a person: their shop id and the handoff, claimed from
        its card by ``claimed_by`` when given."""
        customer = await demo_customer(self.runtime)
        assert customer.external_ref
        handoff_id = await self.escalate(customer.external_ref)
        if claimed_by is not None:
            await self.click(claimed_by, "claim", handoff_id)
        return customer.external_ref, handoff_id

    async def escalate(self, ref: str) -> int:
        await self.customer_says(ref, ASK_FOR_PERSON)
        async with self.runtime.session_factory() as session:
            handoff_id = await session.scalar(select(Handoff.id).order_by(Handoff.id.desc()))
        assert handoff_id is not None, "asking for a person opens a handoff"
        return handoff_id

    async def process(self) -> None:
        """The worker, the customer outbox and the staff post sender each do what is due."""
        assert self.runtime.worker is not None
        await self.runtime.worker.drain()
        while await self.runtime.outbox.run_once():
            pass
        while await self.sender.run_once():
            pass
        while await self.runtime.outbox.run_once():
            pass

    # --- Slack ----------------------------------------------------------------------

    async def thread(self, handoff_id: int) -> tuple[str, str]:
        async with self.runtime.session_factory() as session:
            row = (
                await session.execute(
                    select(Handoff.staff_channel, Handoff.staff_thread).where(
                        Handoff.id == handoff_id
                    )
                )
            ).one()
        assert row[0] and row[1], "the card was posted"
        return str(row[0]), str(row[1])

    async def card(self, handoff_id: int) -> dict[str, Any]:
        """The card as it stands in Slack now (posted, then edited)."""
        _, ts = await self.thread(handoff_id)
        return self.fake.messages[ts]

    async def post(self, body: str, content_type: str, **headers: str) -> ClientResponse:
        all_headers = {**sign(body), "Content-Type": content_type, **headers}
        return await self.client.post("/webhooks/slack", data=body.encode(), headers=all_headers)

    async def click(self, user: str, action: str, handoff_id: int) -> ClientResponse:
        channel, ts = await self.thread(handoff_id)
        body = {
            "type": "block_actions",
            "user": {"id": user, "team_id": TEAM_ID},
            "team": {"id": TEAM_ID},
            "api_app_id": "A0THREAD01",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "channel": {"id": channel},
            "trigger_id": f"trigger-{next(self._ids)}",
            "actions": [
                {
                    "action_id": f"threadline_staff_{action}",
                    "block_id": f"handoff_{handoff_id}",
                    "value": str(handoff_id),
                    "type": "button",
                    "action_ts": f"1764400300.{next(self._ids):06d}",
                }
            ],
        }
        response = await self.post(
            urlencode({"payload": json.dumps(body)}), "application/x-www-form-urlencoded"
        )
        await self.process()
        return response

    def event(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        return {
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "team_id": TEAM_ID,
            "api_app_id": "A0THREAD01",
            "type": "event_callback",
            "event_id": event_id or f"Ev0STAFF{next(self._ids):04d}",
            "event_time": 1764400300,
            "event": {"team": TEAM_ID, "channel_type": "channel", **event},
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }

    async def say_in_thread(
        self,
        user: str,
        text: str,
        handoff_id: int,
        *,
        event_id: str | None = None,
        files: list[dict[str, str]] | None = None,
        **headers: str,
    ) -> ClientResponse:
        channel, ts = await self.thread(handoff_id)
        message_ts = f"1764400400.{next(self._ids):06d}"
        message = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": message_ts,
            "thread_ts": ts,
            "channel": channel,
            "event_ts": message_ts,
        }
        if files:  # as Slack sends a message with files attached
            message |= {"subtype": "file_share", "files": files}
        body = self.event(message, event_id)
        response = await self.post(json.dumps(body), "application/json", **headers)
        await self.process()
        return response

    async def mention_in_thread(self, user: str, command: str, handoff_id: int) -> None:
        """``@Threadline <command>`` in the thread: Slack sends the mention and the message."""
        channel, ts = await self.thread(handoff_id)
        message_ts = f"1764400500.{next(self._ids):06d}"
        event = {
            "user": user,
            "text": f"<@{BOT_USER_ID}> {command}",
            "ts": message_ts,
            "thread_ts": ts,
            "channel": channel,
            "event_ts": message_ts,
        }
        for kind in ("app_mention", "message"):
            response = await self.post(
                json.dumps(self.event({"type": kind, **event})), "application/json"
            )
            assert response.status == 200
        await self.process()

    async def slash(self, user: str, text: str, channel: str = STAFF_CHANNEL) -> str:
        form = {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "team_id": TEAM_ID,
            "channel_id": channel,
            "user_id": user,
            "user_name": user.lower(),
            "command": "/threadline",
            "text": text,
            "api_app_id": "A0THREAD01",
            "response_url": "https://hooks.slack.com/commands/T0SHOP0001/1/x",
            "trigger_id": f"trigger-{next(self._ids)}",
        }
        response = await self.post(urlencode(form), "application/x-www-form-urlencoded")
        assert response.status == 200
        answer = await response.text()  # bolt answers ack(text=…) as plain text: ephemeral
        await self.process()
        return answer

    # --- the store ------------------------------------------------------------------

    async def handoff(self, handoff_id: int) -> Handoff:
        async with self.runtime.session_factory() as session:
            found = await session.get(Handoff, handoff_id)
            assert found is not None
            return found

    async def turns(self, handoff_id: int) -> list[Message]:
        handoff = await self.handoff(handoff_id)
        async with self.runtime.session_factory() as session:
            rows = await session.scalars(
                select(Message)
                .where(Message.conversation_id == handoff.conversation_id)
                .order_by(Message.id)
            )
            return list(rows)


async def demo_customer(runtime: Runtime) -> Customer:
    async with runtime.session_factory() as session:
        customer = await session.scalar(
            select(Customer)
            .where(Customer.external_ref.is_not(None), Customer.email.is_not(None))
            .order_by(Customer.id)
        )
    assert customer is not None and customer.external_ref
    return customer


def staff_settings(database_url: str, fake: FakeSlack, **extra: Any) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        SLACK_STAFF_CHANNEL=STAFF_CHANNEL,
        SLACK_STAFF_USERS=STAFF_USERS,
        SLACK_STAFF_MENTION="<!subteam^S0SUPPORT1>",
        **extra,
    )


async def open_desk(
    settings: Settings, fake: FakeSlack, understander: OfflineUnderstander
) -> tuple[Desk, Any]:
    clock = Clock(DEMO_NOW)
    runtime = build_runtime(settings, clock=clock, embedded_worker=True, understander=understander)
    assert add_slack(runtime)
    assert add_staff_slack(runtime)
    slack = runtime.channels["slack"]
    staff = runtime.services["staff_slack"]
    assert isinstance(slack, SlackChannel) and isinstance(staff, StaffSlackService)
    web_chat = RecordingChannel(name="webchat")
    runtime.outbox.add_sender(web_chat.name, web_chat)
    app = web.Application()
    app.add_routes(slack.routes())
    client: Client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    await runtime.ingestor.start()
    await slack.startup()
    return Desk(runtime, slack, staff.sender, client, fake, clock, web_chat), client


async def close_desk(desk: Desk) -> None:
    await desk.client.close()
    await desk.slack.shutdown()
    await desk.runtime.ingestor.stop()
    await desk.runtime.engine.dispose()


def texts(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks)


def buttons(card: dict[str, Any]) -> dict[str, str]:
    for block in card.get("blocks") or []:
        if block["type"] == "actions":
            return {e["action_id"]: e["value"] for e in block["elements"]}
    return {}


# --- the card -------------------------------------------------------------------------


async def test_an_escalation_posts_the_card_to_the_staff_channel(desk: Desk) -> None:
    customer = await demo_customer(desk.runtime)
    assert customer.external_ref
    handoff_id = await desk.escalate(customer.external_ref)

    [card] = [p for p in desk.fake.posted() if p["channel"] == STAFF_CHANNEL]
    assert "thread_ts" not in card
    assert card["text"].startswith(f"Handoff #{handoff_id}: {customer.name}")
    assert "on webchat" in card["text"] and card["text"].endswith("Waiting.")
    shown = texts(card["blocks"])
    for fact in (str(customer.name), str(customer.email), "webchat", "support", "Waiting"):
        assert fact in shown, fact
    assert ASK_FOR_PERSON in shown, "the last turns are on the card"
    assert buttons(card) == {
        "threadline_staff_claim": str(handoff_id),
        "threadline_staff_handback": str(handoff_id),
    }
    channel, ts = await desk.thread(handoff_id)
    assert (channel, ts) == (STAFF_CHANNEL, desk.fake.accepted("chat.postMessage")[0].answer["ts"])


async def test_a_queue_with_its_own_slack_channel_gets_its_cards_there(
    demo_database_url: str, understander: OfflineUnderstander, fake: FakeSlack, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICY, policies)
    policy = policies / "policy.yaml"
    text = policy.read_text()
    support = "support: {claim_within: 15m, "
    assert support in text
    policy.write_text(text.replace(support, f"support: {{slack_channel: {VIP_CHANNEL}, ", 1))
    settings = staff_settings(demo_database_url, fake, THREADLINE_POLICIES=str(policies))
    opened, _ = await open_desk(settings, fake, understander)
    try:
        customer = await demo_customer(opened.runtime)
        assert customer.external_ref
        handoff_id = await opened.escalate(customer.external_ref)
        assert [p["channel"] for p in fake.posted()] == [VIP_CHANNEL]
        assert (await opened.thread(handoff_id))[0] == VIP_CHANNEL
        # Clicks and thread replies in the queue's channel are staff's too.
        await opened.click(ALICE, "claim", handoff_id)
        assert (await opened.handoff(handoff_id)).claimed_by == "alice"
        await opened.say_in_thread(ALICE, "Hello from the VIP desk", handoff_id)
        assert opened.web.sent[-1].text == "Hello from the VIP desk"

        # The admin takes the queue's channel out of the policy: the open handoff's card
        # stays where it is, and its thread is still staff's.
        policy.write_text(text)
        assert opened.runtime.policy.holder.reload() == ()
        await opened.say_in_thread(ALICE, "Still here after the move", handoff_id)
        assert opened.web.sent[-1].text == "Still here after the move"
        staff_turns = [t.text for t in await opened.turns(handoff_id) if t.author == "staff"]
        assert staff_turns == ["Hello from the VIP desk", "Still here after the move"]
    finally:
        await close_desk(opened)


# --- claiming -------------------------------------------------------------------------


async def test_claim_from_the_card_updates_it_and_logs_who_claimed(desk: Desk) -> None:
    _, handoff_id = await desk.escalated()
    response = await desk.click(ALICE, "claim", handoff_id)
    assert response.status == 200

    handoff = await desk.handoff(handoff_id)
    assert (handoff.state, handoff.claimed_by) == ("claimed", "alice")
    card = await desk.card(handoff_id)
    assert card["text"].endswith("Claimed by alice.")
    assert buttons(card) == {
        "threadline_staff_resolve": str(handoff_id),
        "threadline_staff_handback": str(handoff_id),
    }
    _, ts = await desk.thread(handoff_id)
    assert [r["text"] for r in desk.fake.replies(ts)] == ["_alice claimed the conversation_"]


async def test_two_agents_claiming_at_once_one_wins_the_other_is_told(desk: Desk) -> None:
    _, handoff_id = await desk.escalated()
    first, second = await asyncio.gather(
        desk.click(ALICE, "claim", handoff_id), desk.click(BOB, "claim", handoff_id)
    )
    assert first.status == second.status == 200
    winner = (await desk.handoff(handoff_id)).claimed_by
    assert winner in ("alice", "bob")
    loser = BOB if winner == "alice" else ALICE
    winner_id = ALICE if winner == "alice" else BOB
    assert desk.fake.told(loser) == [f"Handoff {handoff_id} is already claimed by {winner}."]
    assert desk.fake.told(winner_id) == []
    [told] = desk.fake.accepted("chat.postEphemeral")
    assert told.params["channel"] == STAFF_CHANNEL


async def test_someone_not_on_the_staff_list_is_refused_politely(desk: Desk) -> None:
    _, handoff_id = await desk.escalated()
    await desk.click(CAROL, "claim", handoff_id)
    assert (await desk.handoff(handoff_id)).state == "waiting"
    [refusal] = desk.fake.told(CAROL)
    assert "not on this workspace's staff list" in refusal and f"{CAROL}:" in refusal
    answer = await desk.slash(CAROL, f"claim {handoff_id}")
    assert "SLACK_STAFF_USERS" in answer
    assert (await desk.handoff(handoff_id)).state == "waiting"


# --- the thread -----------------------------------------------------------------------


async def test_the_claimers_reply_reaches_the_customer_and_is_not_mirrored_back(
    desk: Desk,
) -> None:
    _, handoff_id = await desk.escalated(claimed_by=ALICE)
    replies_before = len(desk.fake.posted())
    sent_before = len(desk.web.sent)

    response = await desk.say_in_thread(ALICE, "Hi, I'm Alice &amp; I can help", handoff_id)
    assert response.status == 200
    assert [m.text for m in desk.web.sent[sent_before:]] == ["Hi, I'm Alice & I can help"]
    assert len(desk.fake.posted()) == replies_before, "nothing is posted back to the thread"
    [reply] = [t for t in await desk.turns(handoff_id) if t.author == "staff"]
    assert (reply.internal, reply.channel, reply.meta["origin"]) == (False, "webchat", "slack")


async def test_files_in_the_thread_are_not_dropped_silently(desk: Desk) -> None:
    """Files do not reach the customer: the text does, and the author is told about the files."""
    _, handoff_id = await desk.escalated(claimed_by=ALICE)
    sent_before = len(desk.web.sent)
    label = [{"id": "F07", "name": "return-label.pdf", "mimetype": "application/pdf"}]

    await desk.say_in_thread(ALICE, "Your return label is on its way", handoff_id, files=label)
    await desk.say_in_thread(ALICE, "", handoff_id, files=label)  # a file alone

    assert [m.text for m in desk.web.sent[sent_before:]] == ["Your return label is on its way"]
    assert desk.fake.told(ALICE) == [NO_FILES, NO_FILES]
    staff_turns = [t.text for t in await desk.turns(handoff_id) if t.author == "staff"]
    assert staff_turns == ["Your return label is on its way"]


async def test_notes_and_colleagues_stay_internal(desk: Desk) -> None:
    _, handoff_id = await desk.escalated()
    sent_before = len(desk.web.sent)

    await desk.say_in_thread(ALICE, "I'll take this one after lunch", handoff_id)
    [first] = desk.fake.told(ALICE)
    assert f"claim handoff {handoff_id} first" in first and "Kept as an internal note." in first
    await desk.click(ALICE, "claim", handoff_id)
    await desk.say_in_thread(ALICE, "// looks like a courier problem", handoff_id)
    await desk.say_in_thread(ALICE, "note: this one goes to the customer", handoff_id)
    await desk.say_in_thread(BOB, "Check the tracking page first", handoff_id)

    assert [m.text for m in desk.web.sent[sent_before:]] == ["note: this one goes to the customer"]
    staff_turns = [t for t in await desk.turns(handoff_id) if t.author == "staff"]
    assert [(t.text, t.internal, t.meta["staff"]) for t in staff_turns] == [
        ("I'll take this one after lunch", True, "alice"),
        ("looks like a courier problem", True, "alice"),
        ("note: this one goes to the customer", False, "alice"),
        ("Check the tracking page first", True, "bob"),
    ]
    assert desk.fake.told(BOB) == []


async def test_bot_posts_edits_and_joins_in_the_thread_are_ignored(desk: Desk) -> None:
    _, handoff_id = await desk.escalated(claimed_by=ALICE)
    channel, ts = await desk.thread(handoff_id)
    turns_before = len(await desk.turns(handoff_id))
    sent_before = len(desk.web.sent)
    own = desk.event(
        {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": BOT_ID,
            "text": "*Customer* (webchat): hello",
            "ts": "1764400600.000001",
            "thread_ts": ts,
            "channel": channel,
        }
    )
    edit = desk.event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": channel,
            "ts": "1764400600.000002",
            "message": {"user": ALICE, "text": "edited", "thread_ts": ts},
        }
    )
    join = desk.event(
        {"type": "message", "subtype": "channel_join", "user": BOB, "channel": channel}
    )
    for body in (own, edit, join):
        response = await desk.post(json.dumps(body), "application/json")
        assert response.status == 200
    await desk.process()
    assert len(await desk.turns(handoff_id)) == turns_before
    assert len(desk.web.sent) == sent_before


async def test_the_customers_new_message_is_mirrored_into_the_thread(desk: Desk) -> None:
    ref, handoff_id = await desk.escalated(claimed_by=ALICE)
    await desk.customer_says(ref, "Still there? <!channel> order 1042")
    _, ts = await desk.thread(handoff_id)
    assert desk.fake.replies(ts)[-1]["text"] == (
        "*Customer* (webchat): Still there? &lt;!channel&gt; order 1042"
    )


async def test_a_slack_retry_of_the_same_event_is_relayed_once(desk: Desk) -> None:
    _, handoff_id = await desk.escalated(claimed_by=ALICE)
    sent_before = len(desk.web.sent)
    await desk.say_in_thread(ALICE, "Your parcel left today", handoff_id, event_id="Ev0RETRY01")
    retry = await desk.say_in_thread(
        ALICE,
        "Your parcel left today",
        handoff_id,
        event_id="Ev0RETRY01",
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.status == 200
    assert [m.text for m in desk.web.sent[sent_before:]] == ["Your parcel left today"]
    staff = [t for t in await desk.turns(handoff_id) if t.author == "staff"]
    assert [t.text for t in staff] == ["Your parcel left today"]
    async with desk.runtime.session_factory() as session:
        stored = (
            await session.scalars(
                select(InboundEvent).where(InboundEvent.external_event_id == "Ev0RETRY01")
            )
        ).all()
    assert [(e.channel, e.state) for e in stored] == [("slack_staff", "done")]


# --- commands -------------------------------------------------------------------------


async def test_mention_resolve_in_the_thread_resolves_and_asks_for_a_rating(desk: Desk) -> None:
    _, handoff_id = await desk.escalated(claimed_by=ALICE)
    sent_before = len(desk.web.sent)

    await desk.mention_in_thread(ALICE, "resolve", handoff_id)
    assert (await desk.handoff(handoff_id)).state == "resolved"
    assert [m.text for m in desk.web.sent[sent_before:]] == [RATING_QUESTION]
    card = await desk.card(handoff_id)
    assert card["text"].endswith("Resolved by alice.") and buttons(card) == {}
    staff_turns = [t for t in await desk.turns(handoff_id) if t.author == "staff"]
    assert staff_turns == [], "the command itself is neither a reply nor a note"

    await desk.say_in_thread(ALICE, "One more thing", handoff_id)
    assert desk.fake.told(ALICE) == [f"Not stored: Handoff {handoff_id} is already resolved."]
    assert desk.web.sent[-1].text == RATING_QUESTION


async def test_slash_handback_hands_back_and_the_bot_answers_again(desk: Desk) -> None:
    ref, handoff_id = await desk.escalated()
    await desk.click(BOB, "claim", handoff_id)
    sent_before = len(desk.web.sent)

    answer = await desk.slash(BOB, f"handback {handoff_id}")
    assert answer == f"Handoff {handoff_id} is back with the bot; the customer was told."
    assert (await desk.handoff(handoff_id)).state == "returned"
    assert [m.text for m in desk.web.sent[sent_before:]] == [BACK_TO_BOT]
    assert (await desk.card(handoff_id))["text"].endswith("Back with the bot.")

    await desk.customer_says(ref, "What are your opening hours?")
    assert desk.web.sent[-1].author.value == "bot"
    assert len(desk.web.sent) == sent_before + 2, "the bot answers the next message"


async def test_slash_without_an_id_acts_on_your_only_claimed_handoff(desk: Desk) -> None:
    _, handoff_id = await desk.escalated()
    assert "Waiting: " + str(handoff_id) in await desk.slash(ALICE, "claim")
    assert await desk.slash(ALICE, f"claim {handoff_id}") == (
        f"You claimed handoff {handoff_id}. Reply in its thread to write to the customer; "
        "start a line with // to keep it as a note."
    )
    assert "You have claimed: none" in await desk.slash(BOB, "resolve")
    assert await desk.slash(ALICE, "resolve") == (
        f"Handoff {handoff_id} is resolved; the customer was asked for a rating."
    )
    assert "I don't know `dance`" in await desk.slash(ALICE, "dance")


async def test_assign_gives_the_handoff_to_a_colleague(desk: Desk) -> None:
    _, handoff_id = await desk.escalated(claimed_by=ALICE)

    await desk.mention_in_thread(ALICE, f"assign <@{BOB}>", handoff_id)
    assert (await desk.handoff(handoff_id)).claimed_by == "bob"
    assert (await desk.card(handoff_id))["text"].endswith("Claimed by bob.")
    _, ts = await desk.thread(handoff_id)
    assert desk.fake.replies(ts)[-1]["text"] == "_alice assigned the conversation to bob_"

    refused = await desk.slash(ALICE, f"assign @alice {handoff_id}")
    assert refused == f"Handoff {handoff_id} is claimed by bob; only they can assign it."
    assert await desk.slash(BOB, f"assign @alice {handoff_id}") == (
        f"Handoff {handoff_id} is now alice's."
    )
    assert (await desk.handoff(handoff_id)).claimed_by == "alice"
    sent_before = len(desk.web.sent)
    await desk.say_in_thread(ALICE, "Alice again, sorting it now", handoff_id)
    assert [m.text for m in desk.web.sent[sent_before:]] == ["Alice again, sorting it now"]


async def test_customers_keep_their_slash_command_outside_staff_channels(desk: Desk) -> None:
    answer = await desk.slash("U0CUST0002", "where is my order?", channel="C0PARTNERS1")
    assert answer == "Thanks! I'll answer in our direct messages."
    async with desk.runtime.session_factory() as session:
        events = (await session.scalars(select(InboundEvent))).all()
    assert [(e.channel, e.text) for e in events] == [("slack", "where is my order?")]


async def test_a_mention_in_a_staff_channel_is_a_command_not_a_customer_question(
    desk: Desk,
) -> None:
    body = desk.event(
        {
            "type": "app_mention",
            "user": ALICE,
            "text": f"<@{BOT_USER_ID}> where is order 1042?",
            "ts": "1764400700.000100",
            "channel": STAFF_CHANNEL,
        }
    )
    response = await desk.post(json.dumps(body), "application/json")
    assert response.status == 200
    await desk.process()
    async with desk.runtime.session_factory() as session:
        channels = (await session.scalars(select(InboundEvent.channel))).all()
    assert channels == [], "neither a customer message nor a staff action"
    [told] = desk.fake.told(ALICE)
    assert told.startswith("I don't know `where`.") and "@Threadline resolve" in told
    assert desk.web.sent == [] and desk.fake.posted() == []


async def test_what_staff_do_in_the_console_shows_in_the_thread(desk: Desk) -> None:
    console = HandoffDeps(
        desk.runtime.session_factory, desk.clock, desk.runtime.outbox.wake, staff_slack=True
    )
    _, handoff_id = await desk.escalated()
    await claim(console, handoff_id, "alice")
    await staff_reply(console, handoff_id, "alice", "Hello from the console")
    await note(console, handoff_id, "bob", "VIP customer, be quick")
    await desk.process()

    _, ts = await desk.thread(handoff_id)
    assert [r["text"] for r in desk.fake.replies(ts)] == [
        "_alice claimed the conversation_",
        "*alice → customer* (webchat): Hello from the console",
        "_note by bob (not sent)_: VIP customer, be quick",
    ]
    assert (await desk.card(handoff_id))["text"].endswith("Claimed by alice.")
    assert desk.web.sent[-1].text == "Hello from the console"
