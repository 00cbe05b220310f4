"""Hybrid retrieval: dense (Chroma via llama-index) and keyword (BM25), fused by reciprocal rank."""

from __future__ import annotations

from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.vector_stores.chroma import ChromaVectorStore

from qa.embeddings import SentenceEmbedder
from qa.keyword import KeywordIndex
from qa.store import Store


def dense_retriever(store: Store, embedder: SentenceEmbedder, top_k: int):
    """A plain llama-index vector retriever over the chunk collection."""
    vector_store = ChromaVectorStore(chroma_collection=store.chunks)
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embedder)
    return index.as_retriever(similarity_top_k=top_k)


class HybridRetriever:
    """Chunks for a query: dense and BM25 candidates fused with reciprocal-rank fusion.

    No LLM is involved: the fusion retriever generates no extra queries (num_queries=1) and is
    given a mock LLM so llama-index never reaches for its global default."""

    def __init__(self, store: Store, embedder: SentenceEmbedder, keyword: KeywordIndex | None,
                 top_k: int = 8):
        self.top_k = top_k
        self.dense = dense_retriever(store, embedder, top_k)
        retrievers = [self.dense] + ([keyword.retriever] if keyword is not None else [])
        self._fusion = QueryFusionRetriever(
            retrievers,
            llm=MockLLM(),
            mode=FUSION_MODES.RECIPROCAL_RANK,
            similarity_top_k=top_k,
            num_queries=1,
            use_async=False,
        )

    def retrieve(self, query: str, embedding: list[float]) -> list[NodeWithScore]:
        """Fused chunks, best first; `embedding` is the query's, computed once by the caller."""
        return self._fusion.retrieve(QueryBundle(query_str=query, embedding=embedding))
