"""A running bot answers from a knowledge entry written while it runs: no restart."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

from bot.bootstrap import build_runtime
from bot.messages import InboundMessage
from bot.ports import OfflineUnderstander
from bot.settings import Settings
from memory.demo import KNOWLEDGE_DIR
from tests.bot.harness import WatchedChannel
from tests.memory.test_knowledge_holder import ENGRAVING, QUESTION


async def test_an_entry_written_while_the_bot_runs_is_answered(
    database_url: str, tmp_path: Path, understander: OfflineUnderstander
) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, folder)
    settings = Settings(DATABASE_URL=database_url, THREADLINE_KNOWLEDGE=str(folder))  # type: ignore[call-arg]
    runtime = build_runtime(settings, embedded_worker=True, understander=understander)
    channel = WatchedChannel()
    runtime.add_channel(channel)
    await runtime.start()
    try:
        knowledge = runtime.knowledge
        assert knowledge is not None and knowledge.get("engraving") is None
        await asyncio.sleep(0.3)  # let the watcher start
        (folder / "engraving.md").write_text(ENGRAVING)
        async with asyncio.timeout(10):
            while knowledge.get("engraving") is None:  # noqa: ASYNC110 - the watcher's task
                await asyncio.sleep(0.05)
        await runtime.ingest(
            InboundMessage(
                channel=channel.name,
                external_event_id="engrave-1",
                external_user_id="visitor-1",
                text=QUESTION,
                received_at=datetime.now(UTC),
            )
        )
        await channel.wait_for(1)
        assert "engraving costs 5 euros per lantern" in channel.sent[0].text
    finally:
        await runtime.stop()
