"""The keyword (BM25) side of the index, built from the same chunks Chroma holds.

Chroma is the one source of truth: the BM25 index is derived from its chunk records and cached
on disk under the store's revision, so every process (and every machine on a Chroma server)
that reads the same collection gets the same keyword index.

A change does not rescan the store: the chunks added since the cached base are read by id and
scored with the base's statistics (Delta), the ones deleted are masked out, and the base is
rebuilt only when the change outgrows DELTA_MIN / DELTA_SHARE. This is written here because
bm25s (under llama-index's BM25Retriever) precomputes its scores for a fixed corpus and has no
way to add or drop documents; the delta's scores use bm25s's own Lucene formula with the base's
idf and average length, so base and delta hits rank together.
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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from core.config import Settings
from core.memory import release_freed_memory
from core.records import current_versions, node_metadata
from core.store import PENDING, Store, commit_step

log = logging.getLogger(__name__)
STAMP = "newsqa_revision.json"


class _Search(BaseRetriever):
    """One BM25 query over a keyword index: the base's chunks the mask allows, and the chunks
    added since the base, scored with the base's statistics; the best top_k of both."""

    def __init__(self, index: KeywordIndex, mask: np.ndarray | None, delta_ok: np.ndarray):
        super().__init__()
        self._index = index
        self._inner = index.base
        if mask is not None:
            self._inner = copy.copy(index.base)
            self._inner.corpus_weight_mask = mask.astype(int).tolist()
        self._any = mask is None or bool(mask.any())
        self._delta_ok = delta_ok

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        found = ([n for n in self._inner.retrieve(query_bundle) if (n.score or 0) > 0]
                 if self._any else [])
        delta = self._index.delta
        if delta is not None and self._delta_ok.any():
            found += delta.search(query_bundle.query_str, self._index, self._delta_ok)
            found.sort(key=lambda n: n.score or 0.0, reverse=True)
        return found[: self._index.top_k]


@dataclass(frozen=True)
class Delta:
    """The chunks written since a keyword index's base was built, as BM25 reads them (their
    tokens' counts), scored against the base's term statistics: what keeps a change from
    costing a full rescan of the store. A later full build folds them into a new base."""

    ids: list[str]
    corpus: list[dict]  # as the base's corpus: llama-index's node dicts
    counts: list[dict[str, int]]
    lengths: np.ndarray
    df: dict[str, int]

    @classmethod
    def of(cls, ids: list[str], documents: list[str], metadatas: list[dict],
           stemmer) -> Delta:  # noqa: ANN001 - PyStemmer's
        nodes = [chunk_node(c, d, m) for c, d, m in zip(ids, documents, metadatas, strict=True)]
        corpus = [_corpus_entry(n) for n in nodes]
        tokens = _tokens(nodes, stemmer, ids=False)
        counts = [Counter(t) for t in tokens]
        df: Counter = Counter()
        for c in counts:
            df.update(c.keys())
        return cls(list(ids), corpus, counts,
                   np.array([len(t) for t in tokens], dtype=np.float64), dict(df))

    def search(self, query: str, index: KeywordIndex, ok: np.ndarray) -> list[NodeWithScore]:
        import bm25s

        terms = set(bm25s.tokenize(query, stemmer=index.base.stemmer, token_pattern=TOKENS,
                                   return_ids=False, show_progress=False)[0])
        if not terms:
            return []
        k1, b, avgdl = index.k1, index.b, index.avgdl
        idf = {t: index.base_idf(t) for t in terms}
        hits = []
        for i in np.flatnonzero(ok):
            counts = self.counts[i]
            norm = k1 * (1 - b + b * self.lengths[i] / avgdl)
            score = sum(idf[t] * counts[t] / (norm + counts[t]) for t in terms if t in counts)
            if score > 0:
                hits.append((score, i))
        hits.sort(reverse=True)
        return [NodeWithScore(node=metadata_dict_to_node(self.corpus[i]), score=float(score))
                for score, i in hits[: index.top_k]]


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


# A change of up to this many chunks (or this share of the base's, if more) is read as a delta
# over the cached base; a larger one rebuilds the base from the whole store.
DELTA_MIN = 2000
DELTA_SHARE = 0.2
TOKENS = r"(?u)\b\w\w+\b"  # llama-index's BM25Retriever's token pattern


def _corpus_entry(node: TextNode) -> dict:
    """A node as llama-index's BM25Retriever keeps it in its corpus."""
    return node_to_metadata_dict(node) | {"node_id": node.node_id}


def _tokens(nodes: list[TextNode], stemmer, ids: bool = True):  # noqa: ANN001, ANN202
    """The nodes' texts as BM25Retriever tokenizes its corpus (bm25s, English stop words)."""
    import bm25s

    return bm25s.tokenize([n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes],
                          stopwords="en", stemmer=stemmer, token_pattern=TOKENS,
                          return_ids=ids, show_progress=False)


def _bm25_over(nodes: list[TextNode], top_k: int):  # noqa: ANN202 - BM25Retriever, imported late
    """llama-index's BM25Retriever over nodes, built as its from_defaults builds it, plus the
    average chunk length in tokens (which bm25s does not keep, and a delta's scores need)."""
    import bm25s
    import Stemmer
    from llama_index.retrievers.bm25 import BM25Retriever

    stemmer = Stemmer.Stemmer("english")
    tokens = _tokens(nodes, stemmer)
    avgdl = float(np.mean([len(t) for t in tokens.ids]))
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    bm25.corpus = [_corpus_entry(n) for n in nodes]
    retriever = BM25Retriever(existing_bm25=bm25, stemmer=stemmer,
                              similarity_top_k=min(top_k, len(nodes)))
    return retriever, avgdl


class KeywordIndex:
    """BM25 over the chunks at one revision of the store, plus the term statistics answering
    uses to weigh words and the catalogue of which version of each article is current.

    It is a base (bm25s's index over the store at some revision, cached on disk) and the
    changes since: chunks deleted since are masked out, chunks added since form a Delta scored
    with the base's statistics. Only the current complete version of each article is
    searchable (`allows` says the same to the dense side), so an answer never reads an article
    version that is still being written."""

    def __init__(self, base, stats: dict, revision: str, top_k: int,  # noqa: ANN001
                 removed: frozenset[str] = frozenset(), delta: Delta | None = None):
        self.base = base
        self.stats = stats  # the base's: {"revision", "avgdl"}
        self.revision = revision
        self.top_k = top_k
        self.delta = delta
        bm25 = base.bm25
        self.k1, self.b, self.avgdl = bm25.k1, bm25.b, stats.get("avgdl")
        self.base_docs = int(bm25.scores["num_docs"])
        self._vocab: dict[str, int] = bm25.vocab_dict
        self._indptr = bm25.scores["indptr"]
        corpus = base.corpus or []
        self.base_ids = [c["node_id"] for c in corpus]
        added = delta.corpus if delta else []
        alive = [c for c in corpus if c["node_id"] not in removed]
        self.current = current_versions(alive + added)
        self._base_ok = np.array([c["node_id"] not in removed and self.allows(c)
                                  for c in corpus], dtype=bool)
        self._delta_ok = np.array([self.allows(c) for c in added], dtype=bool)
        self._days = np.array([int(c.get("published_ts", -1)) for c in corpus], dtype=np.int64)
        self._delta_days = np.array([int(c.get("published_ts", -1)) for c in added],
                                    dtype=np.int64)
        self.n_docs = int(self._base_ok.sum() + self._delta_ok.sum())
        dated = {c["article_id"] for c in alive + added if "published_ts" in c}
        self.undated_articles = len(set(self.current) - dated)
        everything = bool(self._base_ok.all()) and delta is None
        self.retriever = _Search(self, None if everything else self._base_ok, self._delta_ok)

    def allows(self, meta: dict) -> bool:
        """Whether a chunk record (its metadata) belongs to its article's current version."""
        return self.current.get(meta.get("article_id")) == meta.get("content_hash")

    def chunk_ids(self) -> list[str]:
        """The ids of the chunks a question can read (the current version of each article)."""
        return ([cid for cid, ok in zip(self.base_ids, self._base_ok, strict=True) if ok]
                + ([cid for cid, ok in zip(self.delta.ids, self._delta_ok, strict=True) if ok]
                   if self.delta else []))

    def dated(self, since: int | None, until: int | None) -> BaseRetriever:
        """The BM25 search restricted (by bm25s's weight mask) to chunks dated in range."""
        def in_range(days: np.ndarray) -> np.ndarray:
            ok = days >= (since if since is not None else 0)
            return ok & (days <= until) if until is not None else ok
        return _Search(self, self._base_ok & in_range(self._days),
                       self._delta_ok & in_range(self._delta_days))

    @classmethod
    def build(cls, store: Store, revision: str, top_k: int) -> KeywordIndex | None:
        nodes = chunk_nodes(store)
        if not nodes:
            return None
        base, avgdl = _bm25_over(nodes, top_k)
        del nodes
        release_freed_memory()
        return cls(base, {"revision": revision, "avgdl": avgdl}, revision, top_k)

    def at(self, store: Store, revision: str) -> KeywordIndex | None:
        """This index if it is at `revision`, else its base updated to it (updated)."""
        return self if self.revision == revision else self.updated(store, revision)

    def updated(self, store: Store, revision: str) -> KeywordIndex | None:
        """This index's base and the store's changes since it, at `revision`; None when the
        change is too large for a delta (then the base is rebuilt)."""
        if self.avgdl is None:
            return None
        now = store.ids()
        had = set(self.base_ids)
        added = [cid for cid in now if cid not in had]
        if len(added) > max(DELTA_MIN, DELTA_SHARE * len(had)):
            return None
        removed = frozenset(had - set(now))
        delta = None
        if added:
            got = store.get(added, documents=True)
            if got["ids"]:
                delta = Delta.of(got["ids"], got["documents"], got["metadatas"],
                                 self.base.stemmer)
        return KeywordIndex(self.base, self.stats, revision, self.top_k, removed, delta)

    @classmethod
    def cached(cls, cache_dir: Path | None, top_k: int) -> KeywordIndex | None:
        """The base cached in cache_dir, at the revision it was built at."""
        from llama_index.retrievers.bm25 import BM25Retriever

        if cache_dir is None or not (cache_dir / STAMP).exists():
            return None
        try:
            stamp = json.loads((cache_dir / STAMP).read_text())
            with contextlib.redirect_stderr(io.StringIO()):  # bm25s's load progress bar
                retriever = BM25Retriever.from_persist_dir(str(cache_dir))
            retriever.similarity_top_k = min(top_k, int(retriever.bm25.scores["num_docs"]))
            return cls(retriever, stamp, stamp["revision"], top_k)
        except Exception as e:  # a damaged cache is rebuilt, never fatal
            log.warning("keyword index cache at %s unreadable (%s); rebuilding", cache_dir, e)
            return None

    @classmethod
    def load_or_build(cls, store: Store, cache_dir: Path | None, top_k: int,
                      settings: Settings | None = None,
                      current: KeywordIndex | None = None) -> KeywordIndex | None:
        """The index at the store's revision: `current` (the one in use) or the cached base,
        updated by the changes since (a delta); else a new base, built from the whole store and
        cached. With settings, a large base is built by a child process (build_in_child) so
        that the process answering questions keeps its interpreter for them, then loaded from
        the cache."""
        revision = store.revision()
        index = current.at(store, revision) if current is not None else None
        if index is None and (cached := cls.cached(cache_dir, top_k)) is not None:
            index = cached.at(store, revision)
        if index is not None:
            return index
        if (settings is not None and cache_dir is not None and not revision.startswith(PENDING)
                and store.count() >= CHILD_BUILD_CHUNKS and build_in_child(settings)):
            index = cls.cached(cache_dir, top_k)
            if index is not None:
                return index.at(store, revision) or index
        index = cls.build(store, revision, top_k)
        # an index read while a write is under way is used, but never cached: the write may
        # have been killed, and the cache would outlive it under the same revision
        if index is not None and cache_dir is not None and not revision.startswith(PENDING):
            index.save(cache_dir)
        return index

    def save(self, cache_dir: Path) -> None:
        """Cache the base (a delta is never cached: it is read again from the store).

        Several writers may save at once (an upload's ingest and the engine's refresh, two
        processes over one index): each writes its own folder, named by its process and a random
        part, and moves it into place; a writer that finds another's base already there leaves
        it (both were built from the same store). A folder left by a writer that died is
        removed by the next save, or by `python -m index --check --repair`."""
        import uuid

        remove_dead_writers(cache_dir)
        mine = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = cache_dir.with_name(f"{cache_dir.name}.tmp-{mine}")
        tmp.mkdir(parents=True)
        with contextlib.redirect_stderr(io.StringIO()):  # bm25s's progress bars
            self.base.persist(str(tmp))
        (tmp / STAMP).write_text(json.dumps(self.stats))
        commit_step("keyword-written")
        old = cache_dir.with_name(f"{cache_dir.name}.old-{mine}")
        with contextlib.suppress(FileNotFoundError):  # another writer moved it first
            cache_dir.rename(old)
        commit_step("keyword-moved-aside")
        try:
            tmp.rename(cache_dir)
        except OSError:  # another writer's base took the place meanwhile: it stays
            shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)

    def _base_df(self, term: str) -> int:
        i = self._vocab.get(term)
        return 0 if i is None else int(self._indptr[i + 1] - self._indptr[i])

    def doc_freq(self, term: str) -> int:
        return self._base_df(term) + (self.delta.df.get(term, 0) if self.delta else 0)

    def idf(self, term: str) -> float:
        """BM25's idf; a term no chunk contains gets the idf of the rarest possible term."""
        df = self.doc_freq(term)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))

    def base_idf(self, term: str) -> float:
        """The idf the base's scores were computed with (a delta's chunks are scored with it
        too, so that the two rank together)."""
        df = self._base_df(term)
        return math.log(1 + (self.base_docs - df + 0.5) / (df + 0.5))


def dead_writers(cache_dir: Path) -> list[Path]:
    """The .tmp-PID-… and .old-PID-… folders of cache writers whose process is gone."""
    dead = []
    for path in sorted(cache_dir.parent.glob(f"{cache_dir.name}.*-*-*")):
        pid = path.name[len(cache_dir.name) + 1:].split("-")[1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            dead.append(path)
        except PermissionError:  # alive, another user's
            pass
    return dead


def remove_dead_writers(cache_dir: Path) -> list[str]:
    """Removes the dead writers' folders; returns their names."""
    left = dead_writers(cache_dir)
    for path in left:
        shutil.rmtree(path, ignore_errors=True)
    return [p.name for p in left]


def _main(argv: list[str]) -> int:
    """`python -m core.keyword INDEX_DIR CHROMA_URL COLLECTION`: build a keyword base from the
    whole store and cache it (build_in_child)."""
    index_dir, url, collection = argv
    os.nice(10)  # questions in the parent come first
    settings = Settings(index_dir=index_dir, chroma_url=url or None, collection=collection)
    store = Store.open(settings, "", create=False, check=False)
    revision = store.revision()
    index = KeywordIndex.build(store, revision, top_k=8)
    if index is not None and not revision.startswith(PENDING):
        index.save(cache_dir_for(settings))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
