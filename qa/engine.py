"""The engine behind every interface: one embedder, one store, one retriever, one answerer."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from core.config import Settings
from core.dates import day_number
from core.embeddings import SentenceEmbedder
from core.errors import ArticlesNotFound, InvalidQuestion
from core.keyword import KeywordIndex, cache_dir_for
from core.sentence_model import model_label
from core.store import Store
from qa.answering import Answerer, Weights, clip_quotes
from qa.conversation import contextualize, validate_history
from qa.evidence import Evidence, gather, story_of
from qa.models import Answer
from qa.reader import Reader, load_reader
from qa.reading import ReaderComposer, of_time, years_in
from qa.retrieval import HybridRetriever

log = logging.getLogger(__name__)
EMPTY_INDEX_TEXT = "There are no articles in the index yet, so there is nothing to answer from."


def clean_question(question: Any, limit: int = 2000) -> str:
    """The question as asked, minus control characters; rejected when empty or longer than
    limit (QA_MAX_QUESTION_CHARS)."""
    if not isinstance(question, str):
        raise InvalidQuestion("the question must be text"
                              + (": none was given" if question is None else ""))
    if len(question) > limit:  # before any work per character
        raise InvalidQuestion(
            f"the question is {len(question)} characters long; the limit is {limit}")
    # control and format characters, and lone surrogates (which no tokenizer can encode)
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch
        for ch in question
    )
    text = " ".join(text.split())
    if not text:
        raise InvalidQuestion("the question is empty: type a question about the articles")
    if not any(ch.isalnum() for ch in text):
        raise InvalidQuestion("the question has no words in it: ask something about the articles")
    return text


def parse_range(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    """Day numbers for an inclusive ISO date range; a clear error for anything else."""
    days = []
    for name, value in (("since", since), ("until", until)):
        if value in (None, ""):
            days.append(None)
            continue
        try:
            days.append(day_number(date.fromisoformat(str(value).strip()).isoformat()))
        except ValueError:
            raise InvalidQuestion(
                f"{name}={value!r} is not a date: use YYYY-MM-DD, e.g. 2024-06-14") from None
    if days[0] is not None and days[1] is not None and days[0] > days[1]:
        raise InvalidQuestion(f"since={since} is after until={until}: nothing can match")
    return days[0], days[1]


@dataclass(frozen=True)
class Snapshot:
    """The index as answers read it, built whole and swapped in at once (Engine.refresh)."""

    revision: str
    keyword: KeywordIndex | None
    retriever: HybridRetriever
    answerer: Answerer
    composer: ReaderComposer


class Engine:
    """Answers questions from one index. Collaborators may be passed in; otherwise they are
    made from the settings. An empty index is built from the articles folder on first use."""

    REFRESH_EVERY = 0.25  # seconds between checks for a newer index revision (one cheap read)

    def __init__(self, settings: Settings | None = None, *,
                 embedder: SentenceEmbedder | None = None, store: Store | None = None,
                 weights: Weights | None = None, top_k: int = 12, auto_index: bool = True,
                 reader: Reader | None = None):
        self.settings = settings or Settings.from_env()
        self.reader = reader or load_reader()
        # the store first, by the model's label: an index it cannot read is reported before
        # seconds go into loading the model
        label = (embedder.model_label if embedder is not None else
                 model_label(self.settings.embed_model, self.settings.embed_backend))
        self.store = store or Store.open(self.settings, label)
        self.embedder = embedder or SentenceEmbedder.from_settings(self.settings)
        self.weights = weights or Weights()
        self.top_k = top_k
        self._lock = threading.Lock()  # guards only the swap of the snapshot and the checks
        self._building = threading.Lock()  # one snapshot is built at a time
        self._checked_at = 0.0
        self._snapshot: Snapshot | None = None
        if auto_index and self.store.count() == 0:
            self.ingest()
        self._swap(self._build())

    # -- index state -------------------------------------------------------------------------
    def _build(self) -> Snapshot:
        """A new snapshot of the index: its revision, keyword side and the scorers over it.
        Built outside any lock that answers wait on."""
        revision = self.store.revision()
        current = self._snapshot.keyword if self._snapshot is not None else None
        keyword = KeywordIndex.load_or_build(self.store, cache_dir_for(self.settings),
                                             self.top_k, settings=self.settings,
                                             current=current)
        answerer = Answerer(keyword, self.weights)
        return Snapshot(keyword.revision if keyword else revision, keyword,
                        HybridRetriever(self.store, keyword, self.top_k), answerer,
                        ReaderComposer(self.reader, answerer))

    def _swap(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._snapshot = snapshot
            self._checked_at = time.monotonic()

    @property
    def snapshot(self) -> Snapshot:
        """What answers read: replaced whole, never changed in place."""
        return self._snapshot

    # the parts of the current snapshot, for callers that read them directly
    keyword = property(lambda self: self._snapshot.keyword)
    retriever = property(lambda self: self._snapshot.retriever)
    answerer = property(lambda self: self._snapshot.answerer)
    composer = property(lambda self: self._snapshot.composer)

    def refresh(self, force: bool = False) -> None:
        """Notice a newer index revision (written by any process) at most REFRESH_EVERY
        seconds after it is made. A question never waits for the new snapshot: it is built in
        the background while answers read the current one, then swapped in. force=True builds
        it here and now (after this process's own ingest, whose caller waits for it)."""
        if force:
            with self._building:
                self._swap(self._build())
            return
        with self._lock:
            if time.monotonic() - self._checked_at < self.REFRESH_EVERY:
                return
            self._checked_at = time.monotonic()
        if self.store.revision() == self._snapshot.revision:
            return
        if self._building.acquire(blocking=False):  # else one is being built already
            threading.Thread(target=self._rebuild, name="newsqa-snapshot", daemon=True).start()

    def _rebuild(self) -> None:
        try:
            self._swap(self._build())
        except Exception:  # the current snapshot keeps answering; the next check tries again
            log.exception("reloading the index failed")
        finally:
            self._building.release()

    def ingest(self, paths: list[str] | None = None, *, reset: bool = False,
               prune: bool = False, progress: bool = True):
        """Index files with this engine's model and store; answers see them at once."""
        from index.pipeline import Ingestor

        paths = paths or [self.settings.articles_dir]
        missing = next((p for p in paths if not Path(p).exists()), None)
        if missing is not None:
            raise ArticlesNotFound(
                f"articles folder {str(missing)!r} does not exist; set QA_ARTICLES_DIR or "
                "create it and put .txt/.md/.html/.json/.jsonl articles in it"
            )
        report = Ingestor(self.store, self.embedder, progress=progress).run(
            paths, reset=reset, prune=prune)
        if self._snapshot is not None:
            self.refresh(force=True)
        return report

    # -- questions ---------------------------------------------------------------------------
    def ask(self, question: str, *, history: list[dict] | None = None,
            since: str | None = None, until: str | None = None) -> Answer:
        """Answer from the articles, citing the sentences used, or abstain. `since`/`until`
        (ISO dates, inclusive) keep to articles published in that range."""
        return self.trace(question, history=history, since=since, until=until)[0]

    def trace(self, question: str, *, history: list[dict] | None = None,
              since: str | None = None, until: str | None = None,
              use_reader: bool | None = None, short_answer: bool = True
              ) -> tuple[Answer, list[str]]:
        """The answer and the article ids of the retrieved chunks, best first (for evaluation).
        `use_reader` (default: QA_ANSWERING=reader) lets the reader choose the sentence and
        abstain; otherwise the hand-weighted scorer does, and the reader marks the short answer
        in the sentence it chose when it agrees that sentence answers (unless `short_answer` is
        False)."""
        if use_reader is None:
            use_reader = self.settings.answering == "reader"
        text = clean_question(question, self.settings.max_question_chars)
        messages = validate_history(history, self.settings.max_history_messages,
                                    self.settings.max_message_chars)
        since_day, until_day = parse_range(since, until)
        self.refresh()
        snap = self.snapshot  # one snapshot for the whole question
        retriever, answerer, keyword, composer = (snap.retriever, snap.answerer, snap.keyword,
                                                  snap.composer)
        if keyword is None:
            return Answer(EMPTY_INDEX_TEXT, [], True, 0.0), []
        query = contextualize(text, messages)
        if query == text:
            q_vec = self.embedder.encode([text])[0]
            r_vec = q_vec
        else:
            q_vec, r_vec = self.embedder.encode([text, query])
        nodes = retriever.retrieve(query, r_vec.tolist(), since_day, until_day)
        evidence = gather(self.store, nodes)
        scored = answerer.score(text, np.asarray(q_vec), evidence,
                                None if query == text else np.asarray(r_vec))
        years = years_in(text)
        if years:  # "in 2019": articles of that year and sentences that name it
            scored = [s for s in scored if of_time(s.evidence, years)]
        if use_reader:
            reads = composer.read(text, scored, None if query == text else query)
            first = [r.evidence.article_id for r in reads]
            answer = composer.compose(text, scored, reads, self._copies)
        else:
            first = []
            answer = answerer.compose(scored, text, self._copies)
            if short_answer:
                answer = composer.mark_short_answer(text, scored, answer)
        if years and not scored:
            answer = replace(answer, text=(
                f"The articles don't cover this for {', '.join(sorted(years))}: none of them "
                "from that time has a sentence that answers the question."))
        # the pipeline's ranking: articles by their best sentence, then the rest as fused
        retrieved = list(dict.fromkeys(first + [s.evidence.article_id for s in scored]
                                       + [n.node.metadata.get("article_id", "") for n in nodes]))
        filtered = since_day is not None or until_day is not None
        if filtered and keyword.undated_articles:
            n = keyword.undated_articles
            note = (f"({n} undated article{'s were' if n > 1 else ' was'} left out by the "
                    "date filter.)")
            answer = replace(answer, text=f"{answer.text} {note}")
        return clip_quotes(answer, self.settings.max_quote_chars), retrieved

    def _copies(self, group: list[Evidence]) -> list[str]:
        """Other articles of the same story that carry the cited sentence."""
        first = group[0]
        if not first.shash:
            return []
        got = self.store.get(where={"story_id": story_of(first)})
        return sorted({m["article_id"] for m in got["metadatas"]
                       if m["article_id"] != first.article_id
                       and first.shash in m.get("sent_hashes", "").split(",")})
