"""Offline understanding of customer messages: intents, entities and sentiment."""

from bot.nlu.classifier import Ranked
from bot.nlu.entities import extract_entities
from bot.nlu.intents_file import SHIPPED_INTENTS, IntentCatalog, IntentsFileError, load_intents
from bot.nlu.understanding import OfflineUnderstanding

__all__ = [
    "SHIPPED_INTENTS",
    "IntentCatalog",
    "IntentsFileError",
    "OfflineUnderstanding",
    "Ranked",
    "extract_entities",
    "load_intents",
]
