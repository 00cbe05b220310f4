"""A large ingest embeds in a child process: the same vectors and answers as in-process, and
an ingest that still finishes when the child dies."""

from __future__ import annotations

import logging
import os
import signal
import time

import numpy as np
import pytest

import index.pipeline as pipeline
from bench.corpus import make_corpus, write_jsonl
from core.config import Settings
from core.records import sentence_vectors
from index.embed_worker import EmbedWorker, WorkerFailed
from qa.engine import Engine


@pytest.fixture
def corpus(tmp_path):
    records, planted = make_corpus(24, seed=7)
    write_jsonl(records, tmp_path / "articles")
    return tmp_path / "articles", planted


@pytest.fixture
def child_from_the_start(monkeypatch):
    """Every group goes to the child: small groups, and the ingest waits for the child to load
    (left to itself, ingest embeds in-process until the child is ready)."""
    monkeypatch.setattr(pipeline, "GROUP_ARTICLES", 4)
    monkeypatch.setattr(pipeline, "WORKER_MIN_GROUPS", 1)
    ready = EmbedWorker.ready

    def wait_until_ready(self):
        deadline = time.monotonic() + 120
        while not ready(self):
            assert time.monotonic() < deadline, "the embedding process did not load the model"
            time.sleep(0.05)
        return True

    monkeypatch.setattr(EmbedWorker, "ready", wait_until_ready)


def _vectors(engine):
    """Each chunk record's vector and its sentences' vectors."""
    got = engine.store.chunks.get(include=["embeddings", "metadatas"])
    return {i: (np.asarray(e), sentence_vectors(m))
            for i, e, m in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True)}


def test_child_process_writes_the_same_index_as_in_process(corpus, make_engine, tmp_path,
                                                           monkeypatch, child_from_the_start):
    articles, planted = corpus
    engine = make_engine(articles)
    report = engine.ingest(progress=False)
    assert report.sentences_in_child == report.sentences_written > 0

    monkeypatch.setattr(pipeline, "WORKER_MIN_GROUPS", 10**9)  # in-process, a new index
    alone = Engine(Settings(articles_dir=str(articles), index_dir=str(tmp_path / "here")),
                   embedder=engine.embedder, auto_index=False)
    in_process = alone.ingest(progress=False)
    assert in_process.sentences_in_child == 0
    assert in_process.chunks_written == report.chunks_written

    child, local = _vectors(engine), _vectors(alone)
    assert child.keys() == local.keys()
    for cid, (vector, sentences) in child.items():
        assert np.allclose(vector, local[cid][0], atol=1e-4)
        assert np.allclose(sentences, local[cid][1], atol=2e-3)  # float16 when stored
    for p in planted[:6]:
        a, b = engine.ask(p.question), alone.ask(p.question)
        assert p.answer in a.text and a.text == b.text
        assert a.citations[0].article_id == p.article_id


def test_ingest_finishes_in_process_when_the_child_dies(corpus, make_engine, monkeypatch,
                                                        child_from_the_start, caplog):
    articles, planted = corpus
    result = EmbedWorker.result
    calls = []

    def killed_on_the_third_group(self):
        calls.append(self.pid)
        if len(calls) == 3:
            os.kill(self.pid, signal.SIGKILL)
        return result(self)

    monkeypatch.setattr(EmbedWorker, "result", killed_on_the_third_group)
    engine = make_engine(articles)
    with caplog.at_level(logging.WARNING, logger="index.embed_worker"):
        report = engine.ingest(progress=False)
    assert 0 < report.sentences_in_child < report.sentences_written
    assert report.added == len(planted) and report.skipped == []
    assert "embedding in this process instead" in caplog.text
    again = engine.ingest(progress=False)
    assert again.unchanged == len(planted) and again.chunks_written == 0
    for p in planted[:6]:
        assert p.answer in engine.ask(p.question).text


def test_a_model_the_child_cannot_load_is_a_clear_error():
    worker = EmbedWorker(("/no/such/model", "torch", None))
    try:
        with pytest.raises(WorkerFailed, match="could not load the model"):
            deadline = time.monotonic() + 120
            while not worker.ready():
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        worker.close()
