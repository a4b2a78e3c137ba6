"""Fixtures the channel tests share: the fake Slack Web API server, the staff Slack desk."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.ports import OfflineUnderstander
from tests.channels.fake_slack import FakeSlack
from tests.channels.test_staff_slack import Desk, close_desk, open_desk, staff_settings


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A fake Slack Web API on 127.0.0.1 (a module may name another fake ``fake``)."""
    slack = FakeSlack()
    await slack.start()
    yield slack
    await slack.stop()


@pytest.fixture
async def desk(
    demo_database_url: str, understander: OfflineUnderstander, fake: FakeSlack
) -> AsyncIterator[Desk]:
    """Customer Slack and staff Slack on one app, over the demo shop (a module may name
    another desk ``desk``)."""
    opened, _ = await open_desk(staff_settings(demo_database_url, fake), fake, understander)
    yield opened
    await close_desk(opened)
