"""Sentiment of a message from the VADER lexicon: a compound score from -1 (angry) to +1."""

from __future__ import annotations

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


class LexiconSentiment:
    """VADER's rule-based lexicon model; loading it reads one small file shipped with it."""

    def __init__(self) -> None:
        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, text: str) -> float:
        scores = self._analyzer.polarity_scores(text)
        return float(scores["compound"])
