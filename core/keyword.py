"""The keyword (BM25) side of the index, built from the same chunks Chroma holds.

Chroma is the one source of truth: the BM25 index is derived from its chunk records and cached
on disk under the store's revision, so every process (and every machine on a Chroma server)
that reads the same collection gets the same keyword index.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import math
import os
import shutil
from pathlib import Path

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from core.config import Settings
from core.memory import release_freed_memory
from core.records import node_metadata
from core.store import PENDING, Store, commit_step

log = logging.getLogger(__name__)
STAMP = "newsqa_revision.json"


class _MaskedBM25(BaseRetriever):
    """A BM25 query that only scores the chunks the mask allows."""

    def __init__(self, retriever, mask: list[int]):
        super().__init__()
        self._inner = copy.copy(retriever)
        self._inner.corpus_weight_mask = mask
        self._any = any(mask)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if not self._any:
            return []
        return [n for n in self._inner.retrieve(query_bundle) if (n.score or 0) > 0]


def cache_dir_for(settings: Settings) -> Path:
    """Where this store's keyword index is cached locally (one folder per store and collection)."""
    where = settings.chroma_url or "embedded"
    safe = "".join(c if c.isalnum() else "_" for c in where)
    return Path(settings.index_dir) / "keyword" / f"{safe}-{settings.collection}"


def chunk_node(chunk_id: str, document: str, metadata: dict) -> TextNode:
    """The llama-index node of a Chroma chunk record. Every retriever builds its nodes here:
    reciprocal-rank fusion matches nodes by their hash (text and metadata), so the same chunk
    must come out identical from each."""
    node = metadata_dict_to_node(metadata, text=document)
    node.id_ = chunk_id
    node.metadata = node_metadata(metadata)  # the flat keys: the record's one copy of each
    hidden = [k for k in node.metadata if k != "title"]
    node.excluded_embed_metadata_keys, node.excluded_llm_metadata_keys = hidden, list(hidden)
    return node


def chunk_nodes(store: Store, page: int = 2000) -> list[TextNode]:
    """Every chunk of the store as a llama-index node."""
    nodes: list[TextNode] = []
    offset = 0
    while True:
        got = store.get(documents=True, limit=page, offset=offset)
        release_freed_memory()
        if not got["ids"]:
            return nodes
        nodes += [chunk_node(cid, doc, meta) for cid, doc, meta
                  in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]
        offset += len(got["ids"])


# From this many chunks (about 1,000 articles) a rebuild runs in a child process. Reading the
# chunks from Chroma and building BM25 holds the GIL: at 10,000 articles it took 41 s, and
# questions answered in the same process meanwhile had a p95 4.2 times their idle one.
CHILD_BUILD_CHUNKS = 5000


def build_in_child(settings: Settings) -> bool:
    """Build and cache the keyword index of the settings' store in a child process."""
    import subprocess
    import sys

    args = [settings.index_dir, settings.chroma_url or "", settings.collection]
    try:
        done = subprocess.run([sys.executable, "-m", "core.keyword", *args],
                              capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        log.warning("building the keyword index in a child process took over 30 minutes")
        return False
    if done.returncode != 0:
        log.warning("building the keyword index in a child process failed: %s",
                    done.stderr.strip()[-500:])
    return done.returncode == 0


class KeywordIndex:
    """BM25 over the chunks, plus the term statistics answering uses to weigh words."""

    def __init__(self, retriever, revision: str):
        self.retriever = retriever
        self.revision = revision
        bm25 = retriever.bm25
        self.n_docs = int(bm25.scores["num_docs"])
        self._vocab: dict[str, int] = bm25.vocab_dict
        self._indptr = bm25.scores["indptr"]
        corpus = retriever.corpus or []
        self._days = np.array([int(c.get("published_ts", -1)) for c in corpus], dtype=np.int64)
        undated = {c.get("article_id") for c in corpus if "published_ts" not in c}
        self.undated_articles = len(undated)

    def dated(self, since: int | None, until: int | None):
        """The BM25 retriever restricted (by bm25s's weight mask) to chunks dated in range."""
        mask = self._days >= (since if since is not None else 0)
        if until is not None:
            mask &= self._days <= until
        return _MaskedBM25(self.retriever, mask.astype(int).tolist())

    @classmethod
    def build(cls, store: Store, revision: str, top_k: int) -> KeywordIndex | None:
        from llama_index.retrievers.bm25 import BM25Retriever

        nodes = chunk_nodes(store)
        if not nodes:
            return None
        retriever = BM25Retriever.from_defaults(nodes=nodes,
                                                similarity_top_k=min(top_k, len(nodes)))
        del nodes
        release_freed_memory()
        return cls(retriever, revision)

    @classmethod
    def cached(cls, cache_dir: Path | None, revision: str, top_k: int) -> KeywordIndex | None:
        """The index cached in cache_dir if it was built at this revision."""
        from llama_index.retrievers.bm25 import BM25Retriever

        if cache_dir is None or not (cache_dir / STAMP).exists():
            return None
        try:
            stamp = json.loads((cache_dir / STAMP).read_text())
            if stamp.get("revision") != revision:
                return None
            with contextlib.redirect_stderr(io.StringIO()):  # bm25s's load progress bar
                retriever = BM25Retriever.from_persist_dir(str(cache_dir))
            retriever.similarity_top_k = min(top_k, int(retriever.bm25.scores["num_docs"]))
            return cls(retriever, revision)
        except Exception as e:  # a damaged cache is rebuilt, never fatal
            log.warning("keyword index cache at %s unreadable (%s); rebuilding", cache_dir, e)
            return None

    @classmethod
    def load_or_build(cls, store: Store, cache_dir: Path | None, top_k: int,
                      settings: Settings | None = None) -> KeywordIndex | None:
        """The cached index when it matches the store's revision, else a new one (then cached).
        With settings, a large index is built by a child process (build_in_child) so that the
        process answering questions keeps its interpreter for them, then loaded from the
        cache."""
        revision = store.revision()
        index = cls.cached(cache_dir, revision, top_k)
        if index is not None:
            return index
        if (settings is not None and cache_dir is not None and not revision.startswith(PENDING)
                and store.count() >= CHILD_BUILD_CHUNKS and build_in_child(settings)):
            index = cls.cached(cache_dir, store.revision(), top_k)
            if index is not None:
                return index
        index = cls.build(store, revision, top_k)
        # an index read while a write is under way is used, but never cached: the write may
        # have been killed, and the cache would outlive it under the same revision
        if index is not None and cache_dir is not None and not revision.startswith(PENDING):
            index.save(cache_dir)
        return index

    def save(self, cache_dir: Path) -> None:
        tmp = cache_dir.with_name(cache_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with contextlib.redirect_stderr(io.StringIO()):  # bm25s's progress bars
            self.retriever.persist(str(tmp))
        (tmp / STAMP).write_text(json.dumps({"revision": self.revision}))
        commit_step("keyword-written")
        old = cache_dir.with_name(cache_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if cache_dir.exists():
            cache_dir.rename(old)
        commit_step("keyword-moved-aside")
        tmp.rename(cache_dir)
        shutil.rmtree(old, ignore_errors=True)

    def doc_freq(self, term: str) -> int:
        i = self._vocab.get(term)
        return 0 if i is None else int(self._indptr[i + 1] - self._indptr[i])

    def idf(self, term: str) -> float:
        """BM25's idf; a term no chunk contains gets the idf of the rarest possible term."""
        df = self.doc_freq(term)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))


def _main(argv: list[str]) -> int:
    """`python -m core.keyword INDEX_DIR CHROMA_URL COLLECTION`: build and cache the keyword
    index (build_in_child)."""
    index_dir, url, collection = argv
    os.nice(10)  # questions in the parent come first
    settings = Settings(index_dir=index_dir, chroma_url=url or None, collection=collection)
    store = Store.open(settings, "", create=False, check=False)
    KeywordIndex.load_or_build(store, cache_dir_for(settings), top_k=8)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
