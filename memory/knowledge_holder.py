"""The knowledge base the bot answers from now, reloaded when its folder changes.

An entry written, edited or removed (by hand, or by ``threadline knowledge suggestions
accept``) is answered from within a second, in every running process. An edit that does
not load is refused: the error is logged with file and line, and the last good knowledge
base keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from watchfiles import Change, awatch

from memory.knowledge import KnowledgeBase, KnowledgeHit
from memory.knowledge_files import SUFFIXES, KnowledgeEntry, KnowledgeError

log = logging.getLogger(__name__)


class KnowledgeHolder:
    """Holds the current :class:`KnowledgeBase`; the first load must succeed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._base = KnowledgeBase.load(folder)
        self.last_error: KnowledgeError | None = None

    @property
    def base(self) -> KnowledgeBase:
        return self._base

    @property
    def entries(self) -> tuple[KnowledgeEntry, ...]:
        return self._base.entries

    def __len__(self) -> int:
        return len(self._base)

    def get(self, entry_id: str) -> KnowledgeEntry | None:
        return self._base.get(entry_id)

    def search(self, query: str, k: int = 3) -> Sequence[KnowledgeHit]:
        return self._base.search(query, k)

    def reload(self) -> KnowledgeError | None:
        """Load the folder again; on error keep the last good base and return the error."""
        try:
            base = KnowledgeBase.load(self.folder)
        except KnowledgeError as exc:
            self.last_error = exc
            log.error(
                "knowledge change refused, still answering from %d entries: %s", len(self), exc
            )
            return exc
        self.last_error = None
        log.info("knowledge reloaded: %d → %d entries", len(self._base), len(base))
        self._base = base
        return None

    @staticmethod
    def _relevant(change: tuple[Change, str]) -> bool:
        return Path(change[1]).suffix.lower() in SUFFIXES

    async def watch(self, stop_event: asyncio.Event | None = None) -> None:
        """Reload whenever an entry file changes, until ``stop_event`` is set or cancelled."""
        log.info("watching %s for knowledge changes", self.folder)
        async for changes in awatch(self.folder, stop_event=stop_event):
            if any(self._relevant(change) for change in changes):
                self.reload()
