"""The demo shop, Trail & Lantern Outfitters: its data file and its knowledge base."""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
SHOP_FILE = DEMO_DIR / "shop.json"
KNOWLEDGE_DIR = DEMO_DIR / "knowledge"

__all__ = ["DEMO_DIR", "KNOWLEDGE_DIR", "SHOP_FILE"]
