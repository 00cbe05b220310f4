"""Duplicate stories: syndicated copies and re-posts (another headline, other boilerplate)
share most of their sentences word for word. An article whose sentences are mostly found in an
earlier article joins that article's story; answers then cite the story once."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from index.chunking import Chunk
from index.loaders import Article
from qa.store import Store

SHARED_SHARE = 0.8  # of the shorter article's sentences, to count as the same story


def sentence_hash(text: str) -> str:
    """The same sentence whatever its spacing, case or quote marks."""
    norm = re.sub(r"[\W_]+", " ", text.lower()).strip()
    return hashlib.sha1(norm.encode("utf-8")).hexdigest()[:16]


def _hashes(chunks: list[Chunk]) -> list[str]:
    return list(dict.fromkeys(sentence_hash(s.text) for c in chunks for s in c.sentences))


def assign_stories(store: Store, articles: list[Article], chunks: dict[str, list[Chunk]],
                   known: dict[str, tuple[str, int]]) -> dict[str, str]:
    """story_id for each article (chunks: its chunks, by article id). `known` maps sentence
    hash -> (story_id, sentence count) of articles placed earlier in this run; it is updated.
    Stored articles are looked up in the sentence collection by hash."""
    own = {a.id: _hashes(chunks[a.id]) for a in articles}
    wanted = sorted({h for hs in own.values() for h in hs} - set(known))
    stored: dict[str, list[tuple[str, str, int]]] = {}
    for i in range(0, len(wanted), 500):
        got = store.sentences.get(where={"shash": {"$in": wanted[i:i + 500]}},
                                  include=["metadatas"])
        for m in got["metadatas"]:
            stored.setdefault(m["shash"], []).append(
                (m["article_id"], m.get("story_id", m["article_id"]), int(m.get("n_sentences", 0))))
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
            for other_article, story, size in stored.get(h, ()):
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
