"""The engine behind every interface: one embedder, one store, one retriever, one answerer."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from qa.answering import Answerer, Weights
from qa.config import MAX_QUESTION_CHARS, Settings
from qa.conversation import contextualize, validate_history
from qa.embeddings import SentenceEmbedder
from qa.errors import ArticlesNotFound, InvalidQuestion
from qa.evidence import gather
from qa.keyword import KeywordIndex, cache_dir_for
from qa.models import Answer
from qa.retrieval import HybridRetriever
from qa.store import Store

log = logging.getLogger(__name__)
EMPTY_INDEX_TEXT = "There are no articles in the index yet, so there is nothing to answer from."


def clean_question(question: Any) -> str:
    """The question as asked, minus control characters; rejected when empty or too long."""
    if not isinstance(question, str):
        raise InvalidQuestion(f"the question must be text, got {type(question).__name__}")
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in question
    )
    text = " ".join(text.split())
    if not text:
        raise InvalidQuestion("the question is empty: type a question about the articles")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestion(
            f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    if not any(ch.isalnum() for ch in text):
        raise InvalidQuestion("the question has no words in it: ask something about the articles")
    return text


class Engine:
    """Answers questions from one index. Collaborators may be passed in; otherwise they are
    made from the settings. An empty index is built from the articles folder on first use."""

    REFRESH_EVERY = 2.0  # seconds between checks for a newer index revision

    def __init__(self, settings: Settings | None = None, *,
                 embedder: SentenceEmbedder | None = None, store: Store | None = None,
                 weights: Weights | None = None, top_k: int = 12, auto_index: bool = True):
        self.settings = settings or Settings.from_env()
        self.embedder = embedder or SentenceEmbedder.from_name(self.settings.embed_model)
        self.store = store or Store.open(self.settings, self.embedder.model_label)
        self.weights = weights or Weights()
        self.top_k = top_k
        self._lock = threading.RLock()
        self._checked_at = 0.0
        self._revision: str | None = None
        if auto_index and self.store.chunks.count() == 0:
            self.ingest()
        self._load()

    # -- index state -------------------------------------------------------------------------
    def _load(self) -> None:
        with self._lock:
            keyword = KeywordIndex.load_or_build(self.store, cache_dir_for(self.settings),
                                                 self.top_k)
            self.keyword = keyword
            self.retriever = HybridRetriever(self.store, self.embedder, keyword, self.top_k)
            self.answerer = Answerer(keyword, self.weights)
            self._revision = keyword.revision if keyword else self.store.revision()
            self._checked_at = time.monotonic()

    def refresh(self, force: bool = False) -> None:
        """Reload the keyword side when another ingest changed the index."""
        if not force and time.monotonic() - self._checked_at < self.REFRESH_EVERY:
            return
        with self._lock:  # one thread checks and reloads; the others keep answering
            if not force and time.monotonic() - self._checked_at < self.REFRESH_EVERY:
                return
            self._checked_at = time.monotonic()
            if force or self.store.revision() != self._revision:
                self._load()

    def ingest(self, paths: list[str] | None = None, *, reset: bool = False,
               prune: bool = False, progress: bool = True):
        """Index files with this engine's model and store; answers see them at once."""
        from index.pipeline import Ingestor

        paths = paths or [self.settings.articles_dir]
        if not paths or not all(Path(p).exists() for p in paths):
            missing = next(p for p in paths if not Path(p).exists())
            raise ArticlesNotFound(
                f"articles folder {str(missing)!r} does not exist; set QA_ARTICLES_DIR or "
                "create it and put .txt/.md/.html/.json/.jsonl articles in it"
            )
        report = Ingestor(self.store, self.embedder, progress=progress).run(
            paths, reset=reset, prune=prune)
        if hasattr(self, "answerer"):
            self.refresh(force=True)
        return report

    # -- questions ---------------------------------------------------------------------------
    def ask(self, question: str, *, history: list[dict] | None = None) -> Answer:
        """Answer from the articles, citing the sentences used, or abstain."""
        return self.trace(question, history=history)[0]

    def trace(self, question: str, *, history: list[dict] | None = None
              ) -> tuple[Answer, list[str]]:
        """The answer and the article ids of the retrieved chunks, best first (for evaluation)."""
        text = clean_question(question)
        messages = validate_history(history)
        self.refresh()
        with self._lock:
            retriever, answerer, keyword = self.retriever, self.answerer, self.keyword
        if keyword is None:
            return Answer(EMPTY_INDEX_TEXT, [], True, 0.0), []
        query = contextualize(text, messages)
        if query == text:
            q_vec = self.embedder.encode([text])[0]
            r_vec = q_vec
        else:
            q_vec, r_vec = self.embedder.encode([text, query])
        nodes = retriever.retrieve(query, r_vec.tolist())
        evidence = gather(self.store, nodes)
        scored = answerer.score(text, np.asarray(q_vec), evidence,
                                None if query == text else np.asarray(r_vec))
        retrieved = [n.node.metadata.get("article_id", "") for n in nodes]
        return answerer.compose(scored), retrieved
