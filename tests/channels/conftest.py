"""Fixtures the channel tests share: the fake Slack Web API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.channels.fake_slack import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A fake Slack Web API on 127.0.0.1 (a module may name another fake ``fake``)."""
    slack = FakeSlack()
    await slack.start()
    yield slack
    await slack.stop()
