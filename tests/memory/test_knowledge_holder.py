"""The knowledge base reloads when its folder changes; a broken edit keeps the last good one."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from memory.demo import KNOWLEDGE_DIR
from memory.knowledge_holder import KnowledgeHolder

ENGRAVING = """---
id: engraving
title: Do you engrave lanterns?
questions:
  - do you sell engraved lanterns
  - can you engrave my lantern
---
Yes: engraving costs 5 euros per lantern.
"""
QUESTION = "Do you sell engraved lanterns?"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copytree(KNOWLEDGE_DIR, tmp_path / "knowledge")
    return tmp_path / "knowledge"


def best(holder: KnowledgeHolder, question: str) -> str | None:
    hits = holder.search(question, k=1)
    return hits[0].entry.id if hits else None


def test_reload_answers_from_a_new_entry(folder: Path) -> None:
    holder = KnowledgeHolder(folder)
    before = len(holder)
    assert best(holder, QUESTION) != "engraving"
    (folder / "engraving.md").write_text(ENGRAVING)
    assert holder.reload() is None
    assert len(holder) == before + 1
    assert best(holder, QUESTION) == "engraving"
    (folder / "engraving.md").unlink()
    assert holder.reload() is None
    assert holder.get("engraving") is None


def test_a_broken_edit_keeps_the_last_good_knowledge(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = KnowledgeHolder(folder)
    count = len(holder)
    (folder / "broken.md").write_text("---\nid: Not A Slug\ntitle: x\n---\nAn answer.\n")
    error = holder.reload()
    assert error is not None and error.path == folder / "broken.md" and error.line >= 1
    assert holder.last_error is error
    assert len(holder) == count, "the last good entries keep answering"
    assert f"{folder / 'broken.md'}:" in caplog.text
    (folder / "broken.md").unlink()
    assert holder.reload() is None and holder.last_error is None


async def _wait_for(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - polling what the watcher task changes
            await asyncio.sleep(0.05)


async def test_watch_reloads_when_an_entry_file_is_written(folder: Path) -> None:
    holder = KnowledgeHolder(folder)
    stop = asyncio.Event()
    task = asyncio.create_task(holder.watch(stop_event=stop))
    try:
        await asyncio.sleep(0.3)  # let the watcher start
        (folder / "engraving.md").write_text(ENGRAVING)
        await _wait_for(lambda: best(holder, QUESTION) == "engraving")
        (folder / "engraving.md").write_text(ENGRAVING.replace("id: engraving", "id: Bad Id"))
        await _wait_for(lambda: holder.last_error is not None)
        assert best(holder, QUESTION) == "engraving", "still answering from the last good one"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
