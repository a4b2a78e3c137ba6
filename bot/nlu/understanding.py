"""Offline understanding: intent, entities and sentiment with no model download and no network.

The intent comes from, in order:

1. the intents file's ``patterns`` (regular expressions an admin trusts more than a guess, such
   as an explicit request for a person), unless a negation stands just before the match
   ("I do **not** need an agent"): then the negated part is cut out and the rest classified;
2. the classifier fitted on the file's examples, whose probability is the confidence;
3. an out-of-scope guard: a message of which almost no word appears in any example is about
   something the shop does not handle, whatever the classifier's best guess.

``needs_person`` is set when the customer asks for a person: a pattern of ``human_agent``
matched, or the classifier is fairly sure of ``human_agent``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from bot.nlu.classifier import IntentClassifier, Ranked
from bot.nlu.entities import extract_entities
from bot.nlu.intents_file import SHIPPED_INTENTS, IntentCatalog, IntentsFileError, load_intents
from bot.nlu.sentiment import LexiconSentiment
from policies.model import Signals

HUMAN_AGENT = "human_agent"
OUT_OF_SCOPE = "out_of_scope"
PATTERN_CONFIDENCE = 0.99
NEEDS_PERSON_CONFIDENCE = 0.6
MIN_KNOWN_WORD_SHARE = 0.2
MAX_CHARS = 1000
NEGATION_BEFORE = re.compile(
    r"\b(?:not|dont|don't|do not|no need (?:for|of|to)|never|without|no)\s+(?:\w+\s+){0,2}$",
    re.IGNORECASE,
)


class OfflineUnderstanding:
    """Fitted at construction from an intents file; ``understand`` is then pure and fast."""

    def __init__(self, catalog: IntentCatalog, *, phone_region: str | None = "US") -> None:
        missing = [n for n in (HUMAN_AGENT, OUT_OF_SCOPE) if n not in catalog.names]
        if missing:
            source = catalog.sources[-1] if catalog.sources else Path("<intents>")
            raise IntentsFileError(
                source,
                None,
                f"the intents must include {' and '.join(missing)}: requests for a person and "
                "messages the shop does not handle are recognized by them",
            )
        self.catalog = catalog
        self._phone_region = phone_region
        self._classifier = IntentClassifier(catalog)
        self._sentiment = LexiconSentiment()
        self._patterns = tuple(
            (spec.name, pattern) for spec in catalog.intents for pattern in spec.patterns
        )

    @classmethod
    def from_file(cls, path: Path, *, phone_region: str | None = "US") -> OfflineUnderstanding:
        """Load, validate and fit; raises ``IntentsFileError`` naming the file and line."""
        return cls(load_intents(path), phone_region=phone_region)

    @classmethod
    def default(cls) -> OfflineUnderstanding:
        """The shipped intents (``policies/default/intents.yaml``)."""
        return cls.from_file(SHIPPED_INTENTS)

    @property
    def intents(self) -> tuple[str, ...]:
        return self.catalog.names

    def understand(self, text: str, channel: str) -> Signals:
        return self.understand_many([(text, channel)])[0]

    def understand_many(self, messages: Sequence[tuple[str, str]]) -> list[Signals]:
        """``understand`` for each ``(text, channel)``; the classifier runs once for all."""
        clipped = [text[:MAX_CHARS] for text, _ in messages]
        before = [self._before_classifier(text) for text in clipped]
        rests = [rest for rest in before if isinstance(rest, str)]
        classified = iter(self._classifier.best_many(rests))
        signals: list[Signals] = []
        for (text, channel), short, found in zip(messages, clipped, before, strict=True):
            intent, confidence = _judged(*next(classified)) if isinstance(found, str) else found
            signals.append(
                Signals(
                    text=text,
                    channel=channel,
                    intent=intent,
                    intent_confidence=round(confidence, 4),
                    entities=extract_entities(short, self._phone_region),
                    sentiment=self._sentiment.score(short) if short.strip() else 0.0,
                    needs_person=intent == HUMAN_AGENT and confidence >= NEEDS_PERSON_CONFIDENCE,
                    source="offline",
                )
            )
        return signals

    def rank(self, text: str, top: int = 3) -> tuple[Ranked, ...]:
        """The classifier's ``top`` intents for ``text`` with their probabilities, best first
        (patterns and the out-of-scope guard aside): what ``policies explain`` can show."""
        return self._classifier.rank(text[:MAX_CHARS], top=top)

    def _before_classifier(self, text: str) -> tuple[str, float] | str:
        """The intent and confidence if no classifier is needed, else the text to classify."""
        if not text.strip():
            return OUT_OF_SCOPE, 0.0
        by_pattern, rest = self._pattern_intent(text)
        if by_pattern is not None:
            return by_pattern, PATTERN_CONFIDENCE
        if not rest.strip():
            return OUT_OF_SCOPE, 0.0
        return rest

    def _pattern_intent(self, text: str) -> tuple[str | None, str]:
        """The intent a pattern decides, else ``None`` and the text without negated matches.

        "No need for an agent, just tell me the return window" must be classified on what the
        customer does want, so a negated match and its negation are cut out of the text.
        """
        rest = text
        for name, pattern in self._patterns:
            for match in pattern.finditer(text):
                negation = NEGATION_BEFORE.search(text[: match.start()])
                if negation is None:
                    return name, text
                rest = rest.replace(text[negation.start() : match.end()], " ")
        return None, rest


def _judged(best: Ranked, known: float) -> tuple[str, float]:
    """The classifier's best intent, unless too few of the words are known at all."""
    if best.intent != OUT_OF_SCOPE and known < MIN_KNOWN_WORD_SHARE:
        return OUT_OF_SCOPE, max(1.0 - known, best.confidence)
    return best.intent, best.confidence
