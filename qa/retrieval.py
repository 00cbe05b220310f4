"""Hybrid retrieval: chunks ranked by their best sentence (dense, in Chroma) and keyword (BM25)
chunks, fused by reciprocal rank.

A chunk is as relevant as its best sentence. Chroma's HNSW holds one vector per chunk (the mean
of its sentences'); the nearest CANDIDATES x top_k chunks are ranked by the nearest of their own
sentence vectors, which their records carry. Ranking by the chunk vectors alone lowered hit@1
on seed.jsonl from 98.0 to 93.9 %; over 2,000 bench articles plus the seeds (29,035 int8 vectors,
the 300 planted and 49 answerable seed questions), the best chunk by exact search over every
sentence was also this ranking's best for 98.3 % of questions with 192 candidates, 97.1 % with
96, and dense-only hit@1 the same as exact search (83.3 %) with 192.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle

from core.embeddings import SentenceEmbedder
from core.keyword import KeywordIndex, chunk_node
from core.records import sentence_vectors
from core.store import Store

CANDIDATES = 16  # chunks ranked by their sentences, per chunk returned


def vector_index(store: Store, embedder: SentenceEmbedder) -> VectorStoreIndex:
    """A plain llama-index vector index over the chunk collection (embed model passed in,
    never the global Settings)."""
    return VectorStoreIndex.from_vector_store(store.vector_store(), embed_model=embedder)


def date_where(since: int | None, until: int | None) -> dict | None:
    """A Chroma `where` on the day number of publication; undated records never match."""
    parts = []
    if since is not None:
        parts.append({"published_ts": {"$gte": since}})
    if until is not None:
        parts.append({"published_ts": {"$lte": until}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def spread_by_story(nodes: list[NodeWithScore]) -> list[NodeWithScore]:
    """Each story's best chunk first, in rank order; further chunks of a story after them, so
    copies of one story do not fill the candidates."""
    first, rest, seen = [], [], set()
    for n in nodes:
        story = n.node.metadata.get("story_id") or n.node.metadata.get("article_id")
        (rest if story in seen else first).append(n)
        seen.add(story)
    return first + rest


class SentenceHitRetriever(BaseRetriever):
    """Chunks scored by the sentence of theirs nearest the query. Sentence vectors carry their
    section's context, so this finds the one answering sentence even when many chunks look
    alike."""

    def __init__(self, store: Store, top_k: int, where: dict | None = None,
                 allows: Callable[[dict], bool] | None = None):
        super().__init__()
        self._store = store
        self._allows = allows
        self._top_k = top_k
        self._where = where

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if not query_bundle.embedding:
            return []
        query = np.asarray(query_bundle.embedding, dtype=np.float32)
        nodes = []
        for cid, doc, meta in self._store.nearest(query_bundle.embedding,
                                                  self._top_k * CANDIDATES, self._where):
            if not meta:  # deleted by another process since this one's vector index loaded
                continue
            if self._allows is not None and not self._allows(meta):
                continue  # not the current version of its article in this snapshot
            nodes.append(NodeWithScore(node=chunk_node(cid, doc, meta),
                                       score=float((sentence_vectors(meta) @ query).max())))
        nodes.sort(key=lambda n: n.score or 0.0, reverse=True)
        return nodes[: self._top_k]


class HybridRetriever:
    """Chunks for a query: sentence-hit and BM25 candidates, reciprocal-rank fused.

    No LLM is involved: the fusion retriever generates no extra queries (num_queries=1) and is
    given a mock LLM so llama-index never reaches for its global default."""

    def __init__(self, store: Store, keyword: KeywordIndex | None, top_k: int = 8):
        self.top_k = top_k
        self._store = store
        self._keyword = keyword
        self._fusion = self._fused(None, None)

    def _fused(self, since: int | None, until: int | None) -> QueryFusionRetriever:
        where = date_where(since, until)
        allows = self._keyword.allows if self._keyword is not None else None
        retrievers: list[BaseRetriever] = [
            SentenceHitRetriever(self._store, self.top_k, where, allows)]
        if self._keyword is not None:
            retrievers.append(self._keyword.retriever if where is None
                              else self._keyword.dated(since, until))
        return QueryFusionRetriever(
            retrievers,
            llm=MockLLM(),
            mode=FUSION_MODES.RECIPROCAL_RANK,
            similarity_top_k=self.top_k,
            num_queries=1,
            use_async=False,
        )

    def retrieve(self, query: str, embedding: list[float], since: int | None = None,
                 until: int | None = None) -> list[NodeWithScore]:
        """Fused chunks, best first; `embedding` is the query's, computed once by the caller.
        `since`/`until` (day numbers) filter inside each index's own query."""
        fusion = self._fusion if since is None and until is None else self._fused(since, until)
        return spread_by_story(fusion.retrieve(QueryBundle(query_str=query, embedding=embedding)))
