"""Duplicate stories: syndicated copies and re-posts (another headline, other boilerplate)
share most of their sentences word for word. An article whose sentences are mostly found in an
earlier article joins that article's story; answers then cite the story once."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict

from index.chunking import Chunk
from index.loaders import Article

SHARED_SHARE = 0.8  # of the shorter article's sentences, to count as the same story


def sentence_hash(text: str) -> str:
    """The same sentence whatever its spacing, case or quote marks."""
    norm = re.sub(r"[\W_]+", " ", text.lower()).strip()
    return hashlib.sha1(norm.encode("utf-8")).hexdigest()[:16]


def _hashes(chunks: list[Chunk]) -> list[str]:
    return list(dict.fromkeys(sentence_hash(s.text) for c in chunks for s in c.sentences))


class StoredSentences:
    """The stored articles' sentences by hash: (article, story, the article's sentence count)
    for each, gathered from chunk metadata in the pass ingest makes over the store anyway."""

    def __init__(self) -> None:
        self._by_hash: defaultdict[str, set[tuple[str, str, int]]] = defaultdict(set)

    def add(self, chunk_meta: dict) -> None:
        article = chunk_meta["article_id"]
        entry = (article, chunk_meta.get("story_id", article),
                 int(chunk_meta.get("n_sentences", 0)))
        for h in str(chunk_meta.get("sent_hashes", "")).split(","):
            if h:
                self._by_hash[h].add(entry)

    def get(self, sentence_hash: str) -> set[tuple[str, str, int]]:
        return self._by_hash.get(sentence_hash, set())


def assign_stories(articles: list[Article], chunks: dict[str, list[Chunk]],
                   known: dict[str, tuple[str, int]], stored: StoredSentences) -> dict[str, str]:
    """story_id for each article (chunks: its chunks, by article id). `known` maps sentence
    hash -> (story_id, sentence count) of articles placed earlier in this run; it is updated.
    `stored` holds the sentences of the articles stored before the run."""
    own = {a.id: _hashes(chunks[a.id]) for a in articles}
    stories: dict[str, str] = {}
    for article in articles:
        hashes = own[article.id]
        votes: Counter[str] = Counter()
        sizes: dict[str, int] = {}
        for h in hashes:
            seen_stories = set()
            if h in known:
                story, size = known[h]
                seen_stories.add(story)
                sizes[story] = size
            for other_article, story, size in stored.get(h):
                if other_article != article.id:
                    seen_stories.add(story)
                    sizes[story] = size
            votes.update(seen_stories)
        story_id = article.id
        for story, count in votes.most_common(1):
            shorter = min(len(hashes), sizes.get(story) or len(hashes))
            if shorter and count >= SHARED_SHARE * shorter:
                story_id = story
        stories[article.id] = story_id
        for h in hashes:
            known.setdefault(h, (story_id, len(hashes)))
    return stories
