"""Crash safety: ingest killed with SIGKILL at random points, then finished by the next run."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from bench.corpus import make_corpus, write_jsonl
from qa.store import unpack_vectors
from tests.conftest import ROOT


def _check_consistent(engine, n_articles):
    """No duplicate or orphan chunks, every chunk carrying a vector for each of its sentences;
    dense and keyword sides hold the same chunk set."""
    chunks = engine.store.chunks.get(include=["metadatas"])
    by_article: dict[str, dict[str, int]] = {}
    for m in chunks["metadatas"]:
        by_article.setdefault(m["article_id"], {}).setdefault(m["content_hash"], 0)
        by_article[m["article_id"]][m["content_hash"]] += 1
        assert by_article[m["article_id"]][m["content_hash"]] <= m["n_chunks"]
    assert len(by_article) == n_articles
    for versions in by_article.values():
        assert len(versions) == 1  # one version per article, complete
    for m in chunks["metadatas"]:
        assert by_article[m["article_id"]][m["content_hash"]] == m["n_chunks"]
    chunk_ids = set(chunks["ids"])
    for m in chunks["metadatas"]:
        vectors = unpack_vectors(m["sent_vecs"], m["sent_end"] - m["sent_start"])
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-2)
    keyword_ids = {c["node_id"] for c in engine.keyword.retriever.corpus}
    assert keyword_ids == chunk_ids


def _embedding_children_of(parent: int) -> list[int]:
    """The index.embed_worker processes started by `parent` that are still running."""
    left = []
    for d in Path("/proc").iterdir():
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"index.embed_worker" in argv and str(parent).encode() in argv:
            left.append(int(d.name))
    return left


def _wait_until_writing(proc, timeout: float = 180.0) -> bool:
    """Block until the ingest's progress bar shows a stored group (or the process ends)."""
    seen = bytearray()
    started = threading.Event()

    def read():
        while chunk := proc.stderr.read(64):
            seen.extend(chunk)
            if re.search(rb"\b[1-9]\d*/\d+ ", bytes(seen)):
                started.set()
        started.set()

    threading.Thread(target=read, daemon=True).start()
    return started.wait(timeout) and proc.poll() is None


def test_ingest_killed_at_random_points_recovers(tmp_path, embedder, capsys):
    from qa.config import Settings
    from qa.engine import Engine

    records, planted = make_corpus(600, seed=5)
    articles = tmp_path / "articles"
    write_jsonl(records, articles, per_file=50)
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_ARTICLES_DIR=str(articles))
    rng = random.Random(1234)
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "index"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        writing = _wait_until_writing(proc)
        time.sleep(rng.uniform(0.0, 1.5))  # somewhere inside the writes
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += writing
        proc.wait()
        deadline = time.monotonic() + 10  # its embedding process does not outlive it
        while _embedding_children_of(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _embedding_children_of(proc.pid) == []
    final = subprocess.run([sys.executable, "-m", "index", "--json"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=900)
    assert final.returncode == 0, final.stderr[-2000:]
    report = json.loads(final.stdout.strip().splitlines()[-1])
    # the killed runs had stored some articles, and were stopped before storing all
    assert report["unchanged"] > 0 and report["added"] + report["updated"] > 0, report

    engine = Engine(Settings(articles_dir=str(articles), index_dir=str(tmp_path / "index")),
                    embedder=embedder, auto_index=False)
    _check_consistent(engine, len(records))
    right = sum(p.answer in engine.ask(p.question).text for p in planted)
    assert right == len(planted)
    assert kills >= 2
    with capsys.disabled():
        print(f"\n[faults] SIGKILLs injected: {kills}; final run: {report['unchanged']} kept, "
              f"{report['added'] + report['updated']} finished; index consistent, "
              f"{right}/{len(planted)} planted questions answered")
