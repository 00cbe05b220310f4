"""Ingest: load → clean → chunk → embed → store in Chroma, idempotently.

Ids are deterministic (`<article>#<content hash>:<chunk>`), so unchanged articles write nothing.
Each sentence is embedded once; its vector is kept inside its chunk's record, and the chunk's own
vector is their mean, so the only Chroma records are chunks.
A changed article's new chunks are stored before its old ones are deleted, and an article's
version counts as stored only when all its chunks are there, and every run's writes sit
between the store's begin_change() and mark_changed() (core.store), so an ingest killed at any
point is detected and finished by the next one; tests/test_faults.py kills it at each step.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from core.config import Settings
from core.embeddings import SentenceEmbedder
from core.keyword import KeywordIndex, cache_dir_for
from core.memory import release_freed_memory
from core.records import (
    StoredArticle,
    article_fields,
    chunk_metadata,
    chunk_record_id,
    pack_vectors,
)
from core.store import Store, commit_step, move_aside, probe_damage
from index.chunking import Chunk, Sentence
from index.embed_worker import IngestEmbedding
from index.loaders import Article, load_articles
from index.stories import StoredSentences, assign_stories, sentence_hash

log = logging.getLogger(__name__)

# Sorted by length, 32 short texts a batch pad least on a CPU (64+ wastes time on padding).
EMBED_BATCH = 32
# Articles embedded and written together (a kill loses at most two groups' work). The model sorts
# a group's texts by length before batching: over 1,000 bench articles, batches of 25 articles'
# texts carry 5.0 % padding tokens, of 50 articles' 2.3 %, of 100's 1.1 %.
GROUP_ARTICLES = 50
# From this many groups on, the model runs in a child process (index.embed_worker). The child
# takes a few seconds to load the model (torch: about 4); with fewer groups the ingest would be
# nearly over before it could help.
WORKER_MIN_GROUPS = 4


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[dict] = field(default_factory=list)
    chunks_written: int = 0
    chunks_total: int = 0
    sentences_written: int = 0
    # of those, how many the model embedded in a child process (index.embed_worker)
    sentences_in_child: int = 0
    seconds: float = 0.0
    # where the time went, in seconds of wall clock: "records" (splitting, stories, records),
    # "embed" (the model), "store" (Chroma writes, overlapping "embed"), "keyword" (the BM25 side)
    phases: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        line = (f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.removed} removed, {len(self.skipped)} skipped; "
                f"{self.chunks_written} chunks written, {self.chunks_total} in the index "
                f"({self.seconds:.1f} s)")
        return line


def chunk_id(article: Article, position: int) -> str:
    return chunk_record_id(article.id, article.content_hash, position)


def sentence_embed_text(article: Article, sentence: Sentence) -> str:
    """A sentence is embedded under its section heading (or the article's own title), which
    says what "the effort" or "the plan" in it is about."""
    context = sentence.heading or (None if article.title_derived else article.title)
    return f"{context}. {sentence.text}" if context else sentence.text


class Records(NamedTuple):
    """What ingest writes for some articles: one record per chunk, and the sentence texts the
    model embeds, with the position (in chunk_ids) of the chunk each belongs to."""

    chunk_ids: list[str]
    chunk_metas: list[dict]
    embed_texts: list[str]
    sentence_chunks: list[int]

    def with_vectors(self, sentence_vectors: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        """The chunk vectors and the metadatas, each carrying its sentences' vectors. A chunk's
        vector is the normalised mean of its sentences', so every word of an article goes
        through the model once (a chunk's sentences are contiguous; every chunk has one)."""
        starts = np.searchsorted(self.sentence_chunks, np.arange(len(self.chunk_ids) + 1))
        metas = [dict(meta, sent_vecs=pack_vectors(sentence_vectors[a:b])) for meta, a, b
                 in zip(self.chunk_metas, starts[:-1], starts[1:], strict=True)]
        if not metas:
            return np.zeros((0, sentence_vectors.shape[1]), dtype=np.float32), metas
        sums = np.add.reduceat(sentence_vectors, starts[:-1], axis=0)
        return (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(np.float32), metas


def chunk_records(article: Article, story_id: str | None = None,
                  chunks: list[Chunk] | None = None, offset: int = 0) -> Records:
    """The records of one article (chunks: its chunks, if already split; offset: how many
    chunk records come before this article's). No record has a Chroma document: a chunk's text
    is in its `_node_content`, a sentence's words are cut from it at sent_spans."""
    chunks = article.chunks() if chunks is None else chunks
    records = Records([], [], [], [])
    fields = article_fields(article.id, article.title, article.content_hash, len(chunks),
                            article.path, story_id or article.id, url=article.url,
                            published=article.published, source=article.source)
    n_sentences = sum(len(c.sentences) for c in chunks)
    for chunk in chunks:
        cid = chunk_id(article, chunk.index)
        meta = chunk_metadata(fields, chunk.text, chunk_index=chunk.index,
                              sent_start=chunk.sentences[0].index, n_sentences=n_sentences,
                              sentences=[s.text for s in chunk.sentences],
                              paragraphs=[s.paragraph for s in chunk.sentences],
                              hashes=[sentence_hash(s.text) for s in chunk.sentences])
        position = offset + len(records.chunk_ids)
        records.chunk_ids.append(cid)
        records.chunk_metas.append(meta)
        for s in chunk.sentences:
            records.embed_texts.append(sentence_embed_text(article, s))
            records.sentence_chunks.append(position)
    return records


def _stored_articles(store: Store) -> tuple[dict[str, StoredArticle], StoredSentences]:
    """What the store holds, article by article, and its sentences by hash (for stories): one
    pass over the chunk metadata."""
    state: dict[str, StoredArticle] = defaultdict(StoredArticle)
    sentences = StoredSentences()
    for cid, meta in store.all_metadatas():
        state[meta["article_id"]].add(cid, meta)
        sentences.add(meta)
    return state, sentences


def _delete_versions(store: Store, article_id: str, keep_hash: str | None) -> None:
    """Delete an article's chunks of every version but keep_hash."""
    where: dict = {"article_id": article_id}
    if keep_hash is not None:
        where = {"$and": [{"article_id": article_id}, {"content_hash": {"$ne": keep_hash}}]}
    store.delete(where)


class Ingestor:
    """Writes articles into a Store with an embedder. Both come in from outside."""

    def __init__(self, store: Store, embedder: SentenceEmbedder, *, progress: bool = True):
        self.store = store
        self.embedder = embedder
        self.progress = progress
        self._began = False

    def run(self, paths: Sequence[str | os.PathLike], *, reset: bool = False,
            prune: bool = False) -> IngestReport:
        """Bring the store up to date with the files under paths. Every write is bracketed by
        the store's begin_change() and mark_changed() (see Store.revision); a run that finds
        the bracket of a killed run still open closes it, so readers rebuild what they hold."""
        started = time.perf_counter()
        articles, skips, files = load_articles(paths)
        report = IngestReport(skipped=[{"path": s.path, "reason": s.reason} for s in skips])
        self._began = False
        interrupted = self.store.change_pending()
        if reset:
            self.store.reset()
            self._begin()
        stored, stored_sentences = _stored_articles(self.store)

        to_write: list[Article] = []
        read = {str(f) for f in files}
        for article in articles:
            have = stored.get(article.id)
            owner = next((p for p in sorted(have.paths) if p != article.path and p not in read
                          and Path(p).exists()), None) if have else None
            if owner is not None:  # the id is another file's article: that one stays
                report.skipped.append({"path": article.path, "reason": (
                    f"article id {article.id!r} belongs to {owner}; give it an id of its own")})
                continue
            if have and have.complete(article.content_hash):
                report.unchanged += 1
                if len(have.ids_by_hash) > 1:  # an interrupted update left an old version
                    self._begin()
                    _delete_versions(self.store, article.id, article.content_hash)
                if have.paths != {article.path}:  # the same text, in a moved or renamed file
                    self._begin()
                    self.store.set_path(have.ids_by_hash[article.content_hash], article.path)
                continue
            to_write.append(article)
            if have and any(have.complete(h) for h in have.ids_by_hash):
                report.updated += 1
            else:
                report.added += 1

        if to_write:
            self._begin()
        self._write(to_write, had_versions=set(stored), stored=stored_sentences, report=report)

        if prune:
            seen = {a.id for a in articles}
            for article_id, have in stored.items():
                if article_id in seen:
                    continue
                if all((p in read) or not Path(p).exists() for p in have.paths):
                    self._begin()
                    _delete_versions(self.store, article_id, None)
                    report.removed += 1
            commit_step("pruned")

        report.chunks_total = self.store.count()
        commit_step("before-revision")
        if self._began or interrupted or reset:
            if interrupted and not self._began:
                log.info("an earlier ingest was stopped before it finished; its writes are "
                         "now marked done, so readers reload the index")
            self.store.mark_changed()
        commit_step("after-revision")
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def remove(self, article_ids: Sequence[str]) -> None:
        """Delete these articles' chunks (every version)."""
        self._began = False
        self._begin()
        for article_id in article_ids:
            _delete_versions(self.store, article_id, None)
        self.store.mark_changed()

    def _begin(self) -> None:
        """Open the write bracket (once a run), before the first write."""
        if not self._began:
            self.store.begin_change()
            self._began = True
            commit_step("began")

    def _write(self, articles: list[Article], had_versions: set[str], stored: StoredSentences,
               report: IngestReport) -> None:
        """Embed and store articles in groups; each article's old versions go after its new
        chunks are in. Counts what was written, and where the time went, in report.

        Storing a group in Chroma overlaps with embedding the next. A Chroma write holds the
        GIL for the whole call and the model needs it between batches, so for an ingest of
        many groups the model runs in a child process (index.embed_worker) that no write can
        stall; until the child has loaded the model, and for a few groups, it runs here, in
        the GIL's gaps. Groups are stored one after another, in order; a failed write stops
        the run."""
        known: dict[str, tuple[str, int]] = {}
        total_chunks = total_sentences = 0
        spent = dict.fromkeys(("records", "embed", "store"), 0.0)

        def timed(phase: str, work, *args, **kwargs):
            started = time.perf_counter()
            try:
                return work(*args, **kwargs)
            finally:
                spent[phase] += time.perf_counter() - started

        bar = None
        if self.progress and articles:
            from tqdm import tqdm

            bar = tqdm(total=len(articles), unit="article", file=sys.stderr,
                       disable=len(articles) < 20, desc="indexing")
        groups = [articles[i:i + GROUP_ARTICLES] for i in range(0, len(articles), GROUP_ARTICLES)]
        embedding = IngestEmbedding(self.embedder, EMBED_BATCH,
                                    want_child=len(groups) >= WORKER_MIN_GROUPS)
        pending: tuple | None = None  # being embedded: (group, records, call giving vectors)
        writing: tuple | None = None  # being written: (group, future)

        def written(writing: tuple) -> int:
            chunks = writing[1].result()
            if bar is not None:
                bar.update(len(writing[0]))
            return chunks

        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsqa-write") as writer:
                for group in [*groups, None]:  # the last round only writes
                    # this group's records are made while the child embeds the previous one
                    records = None
                    if group is not None:
                        records = timed("records", self._records, group, known, stored)
                    embedded = None
                    if pending is not None:
                        done_group, done_records, vectors = pending
                        embedded = (done_group, done_records, vectors())
                    pending = None
                    if group is not None:
                        # the child starts on this group before the last write is waited for
                        pending = (group, records, embedding.start(records.embed_texts))
                    if embedded is None:
                        continue
                    total_sentences += len(embedded[2])
                    if writing is not None:
                        total_chunks += written(writing)
                    writing = (embedded[0], writer.submit(timed, "store", self._store_group,
                                                          *embedded, had_versions))
                if writing is not None:
                    total_chunks += written(writing)
        finally:
            embedding.close()
        spent["embed"] += embedding.seconds
        if bar is not None:
            bar.update(bar.total - bar.n)
            bar.close()
        report.chunks_written, report.sentences_written = total_chunks, total_sentences
        report.sentences_in_child = embedding.in_child
        report.phases.update((phase, round(seconds, 3)) for phase, seconds in spent.items())

    def _records(self, articles: list[Article], known: dict[str, tuple[str, int]],
                 stored: StoredSentences) -> Records:
        """The records of a group, as chunk_records gives them, concatenated."""
        chunks = {a.id: a.chunks() for a in articles}  # sentence splitting: once per article
        stories = assign_stories(articles, chunks, known, stored)
        records = Records([], [], [], [])
        for article in articles:
            part = chunk_records(article, stories[article.id], chunks[article.id],
                                 offset=len(records.chunk_ids))
            for acc, values in zip(records, part, strict=True):
                acc.extend(values)
        return records

    def _store_group(self, articles: list[Article], records: Records, sent_vecs: np.ndarray,
                     had_versions: set[str]) -> int:
        chunk_vecs, metas = records.with_vectors(sent_vecs)
        # No Chroma documents: its full-text index cost 60 % of a chunk's write.
        self.store.upsert(records.chunk_ids, chunk_vecs, None, metas)
        commit_step("group-written")
        for article in articles:
            if article.id in had_versions:  # a new article has nothing to delete
                _delete_versions(self.store, article.id, article.content_hash)
        commit_step("group-old-versions-deleted")
        release_freed_memory()
        return len(records.chunk_ids)


def ingest(paths: Sequence[str | os.PathLike] | None = None, *, settings: Settings | None = None,
           reset: bool = False, prune: bool = False, progress: bool = True,
           embedder: SentenceEmbedder | None = None, store: Store | None = None) -> IngestReport:
    """Index the articles under paths (default: QA_ARTICLES_DIR) into the configured store."""
    settings = settings or Settings.from_env()
    embedder = embedder or SentenceEmbedder.from_settings(settings)
    # a reset drops whatever index is there, whichever model or layout wrote it, damaged or not:
    # damaged files are moved aside unopened (see probe_damage)
    if store is None and reset and (damage := probe_damage(settings)):
        moved = move_aside(settings.index_dir)
        log.warning("the index files are damaged (%s); moved them to %s and building a new "
                    "index", damage, moved)
    store = store or Store.open(settings, embedder.model_label, check=not reset)
    report = Ingestor(store, embedder, progress=progress).run(
        list(paths) if paths else [settings.articles_dir], reset=reset, prune=prune
    )
    # the keyword side over the same chunks, so the first question does not wait for it
    started = time.perf_counter()
    KeywordIndex.load_or_build(store, cache_dir_for(settings), top_k=8)
    report.phases["keyword"] = round(time.perf_counter() - started, 3)
    return report
