"""Content terms of a text: lower-cased, stop words dropped, stemmed (as the keyword index does)."""

from __future__ import annotations

import re
from functools import lru_cache

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# Words a question is made of that say nothing about its subject.
_QUESTION_WORDS = {
    "what", "where", "when", "who", "whom", "whose", "which", "why", "how", "many", "much",
    "does", "did", "do", "is", "are", "was", "were", "will", "would", "could", "should", "can",
    "say", "says", "said", "tell", "according", "article", "articles", "mention", "mentioned",
    "describe", "described", "give", "kind", "type", "anything", "something", "about", "there",
    "please", "it", "its", "they", "them", "their", "this", "that", "these", "those", "he",
    "she", "his", "her", "we", "us", "our", "you", "your", "me", "i",
}


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | _QUESTION_WORDS


@lru_cache(maxsize=1)
def stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def content_terms(text: str) -> list[str]:
    """Stemmed content terms, in order, duplicates kept."""
    stop = _stopwords()
    kept = [w for w in words(text) if w not in stop]
    return stemmer().stemWords(kept) if kept else []
