"""The shop's knowledge base: Markdown or YAML entries, searched with BM25 (``bm25s``).

An entry is one answer with the ways customers ask for it::

    ---
    id: returns-window
    title: How long do I have to return something?
    questions:
      - can I still return my order
      - what is your return policy
    tags: [returns]
    ---
    You can return anything within 30 days of delivery…

``search()`` ranks entries by BM25 over title, questions, tags and answer, and gives
each hit a ``confidence`` in 0..1: the share of the query's information (its terms
weighted by IDF) that the entry covers. Callers treat a hit below
:data:`RECOMMENDED_THRESHOLD` as "nothing fits" (see ``docs/knowledge.md``).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN_PLUS

from memory.knowledge_files import KnowledgeEntry, KnowledgeError, load_entries

# bm25s sets its own logger to DEBUG on import; index building is not news.
logging.getLogger("bm25s").setLevel(logging.WARNING)

__all__ = [
    "RECOMMENDED_THRESHOLD",
    "KnowledgeBase",
    "KnowledgeEntry",
    "KnowledgeError",
    "KnowledgeHit",
    "tokenize",
]

# A hit at or above this confidence answers the question; below it, nothing fits well enough.
RECOMMENDED_THRESHOLD = 0.6
KEY_FIELD_BOOST = 2  # title, questions and tags count this many times in BM25
ANSWER_ONLY_CREDIT = 0.5  # a query term found only in the answer covers this much
# A word the knowledge base never uses weighs this share of the rarest known word.
UNKNOWN_TERM_WEIGHT = 0.75
MIN_TYPO_LENGTH = 5  # shorter unknown words are not corrected (too many near neighbours)

# Words that carry no topic in a customer's message, beyond the usual English stopwords.
_FILLER = """
hi hello hey dear thanks thank please pls plz ok okay yes yeah sorry hallo good morning
afternoon evening question questions ask asking know tell want wanted would like need
could can may might help get got also just really still anyone someone somebody guys
team you your yours im ive id me my mine we our us many much cant dont didnt doesnt
wont isnt arent wasnt havent hasnt ur u assistance assist check see show list find look
looking wanna gonna try trying information info details damn bloody what whats which who
whom whose where wheres when why how hows possible possibly allowed allow usually situation
situations circumstances case cases ya yo fuck fucking goddamn shit crap hell
"""
CHAT_FILLER = frozenset(_FILLER.split())
STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | CHAT_FILLER
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _stemmer() -> Any:
    """English Snowball stemmer from PyStemmer when installed, else no stemming."""
    try:
        import Stemmer
    except ImportError:  # pragma: no cover - depends on the installation
        return None
    return Stemmer.Stemmer("english")


_STEMMER = _stemmer()
_FILLER_STEMS = frozenset(_STEMMER.stemWords(sorted(CHAT_FILLER))) if _STEMMER else frozenset()


def tokenize(text: str) -> list[str]:
    """Lower-cased word stems of ``text`` without stopwords (apostrophes dropped)."""
    words = [w for w in _WORD.findall(text.lower().replace("'", "").replace("’", "")) if w]
    words = [w for w in words if w not in STOPWORDS]
    if _STEMMER is not None:
        # Inflected filler ("checking", "helps") is dropped once stemmed.
        return [w for w in _STEMMER.stemWords(words) if w not in _FILLER_STEMS]
    return words


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    entry: KnowledgeEntry
    score: float  # raw BM25 score (only comparable within one query)
    confidence: float  # 0..1, comparable across queries: see RECOMMENDED_THRESHOLD


class KnowledgeBase:
    """Entries indexed for search; build with :meth:`load` or :meth:`from_entries`."""

    def __init__(self, entries: Iterable[KnowledgeEntry]) -> None:
        self.entries: tuple[KnowledgeEntry, ...] = tuple(entries)
        self._by_id = {e.id: e for e in self.entries}
        keys = [tokenize(_key_text(e)) for e in self.entries]
        answers = [tokenize(e.answer) for e in self.entries]
        # The ways customers ask weigh more than words that happen to be in the answer.
        docs = [k * KEY_FIELD_BOOST + a for k, a in zip(keys, answers, strict=True)]
        self._key_terms = [frozenset(k) for k in keys]
        self._doc_terms = [frozenset(d) for d in docs]
        self._index: bm25s.BM25 | None = None
        self._idf: dict[str, float] = {}
        self._unknown_idf = 0.0
        if any(docs):
            self._index = bm25s.BM25()
            self._index.index(docs, show_progress=False)
            self._idf = _idf_table(self._doc_terms)
            self._unknown_idf = _idf(len(docs), 1)
        self._deletions = _deletion_index(self._idf)

    @classmethod
    def load(cls, folder: Path) -> KnowledgeBase:
        """Load every ``*.md``, ``*.yaml`` and ``*.yml`` under ``folder``.

        Raises :class:`KnowledgeError` (with file and line) for a malformed entry.
        """
        return cls(load_entries(folder))

    @classmethod
    def from_entries(cls, entries: Iterable[KnowledgeEntry]) -> KnowledgeBase:
        return cls(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, entry_id: str) -> KnowledgeEntry | None:
        return self._by_id.get(entry_id)

    def search(self, query: str, k: int = 3) -> list[KnowledgeHit]:
        """The ``k`` best entries for ``query``, best first; empty when no term matches."""
        terms = list(dict.fromkeys(self._correct(t) for t in tokenize(query)))
        if self._index is None or not terms or k <= 0:
            return []
        known = [t for t in terms if t in self._idf]
        if not known:
            return []
        scores = np.asarray(self._index.get_scores(known), dtype=np.float64)
        unknown = self._unknown_idf * UNKNOWN_TERM_WEIGHT
        weights = {t: self._idf.get(t, unknown) for t in terms if not t.isdigit()}
        # A query made of one common word carries little information: normalize by at
        # least the weight of one rare word, so "order" alone cannot reach full confidence.
        query_weight = max(sum(weights.values()), self._unknown_idf)
        count = min(k, len(self.entries))
        best = np.argsort(-scores, kind="stable")[:count]
        hits = []
        for i in best:
            score = float(scores[i])
            if score <= 0.0:
                break
            covered = sum(
                w if t in self._key_terms[i] else w * ANSWER_ONLY_CREDIT
                for t, w in weights.items()
                if t in self._doc_terms[i]
            )
            hits.append(KnowledgeHit(self.entries[i], score, round(covered / query_weight, 4)))
        hits.sort(key=lambda h: (-h.confidence, -h.score))
        return hits

    def _correct(self, term: str) -> str:
        """A known term one typo away from an unknown ``term`` ("pament" → "payment")."""
        if term in self._idf or len(term) < MIN_TYPO_LENGTH:
            return term
        if term in self._deletions:  # a letter missing
            return self._deletions[term]
        for variant in _deletions(term):
            if variant in self._idf:  # a letter too many
                return variant
            if variant in self._deletions:  # a letter wrong or two letters swapped
                return self._deletions[variant]
        return term


def _deletions(term: str) -> list[str]:
    return [term[:i] + term[i + 1 :] for i in range(len(term))]


def _deletion_index(vocabulary: Iterable[str]) -> dict[str, str]:
    """Each known term with one letter deleted → the term (alphabetically first wins)."""
    index: dict[str, str] = {}
    for term in sorted(vocabulary):
        if len(term) >= MIN_TYPO_LENGTH:
            for variant in _deletions(term):
                index.setdefault(variant, term)
    return index


def _key_text(entry: KnowledgeEntry) -> str:
    return "\n".join((entry.title, *entry.questions, " ".join(entry.tags)))


def _idf(documents: int, frequency: int) -> float:
    """BM25's (Lucene) inverse document frequency."""
    return math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))


def _idf_table(doc_terms: list[frozenset[str]]) -> dict[str, float]:
    frequency: dict[str, int] = {}
    for terms in doc_terms:
        for term in terms:
            frequency[term] = frequency.get(term, 0) + 1
    return {t: _idf(len(doc_terms), f) for t, f in frequency.items()}
