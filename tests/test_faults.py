"""Crash safety: ingest SIGKILLed at each step of its commit sequence, then finished by the next
run. The kill comes from the process itself on reaching a named step (core.store.KILL_AT), so the
test does not depend on timing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.corpus import make_corpus, write_jsonl
from core.records import unpack_vectors
from core.store import KILL_AT
from index.pipeline import GROUP_ARTICLES, WORKER_MIN_GROUPS
from tests.conftest import ARTICLES, ROOT

# The steps of one ingest, in order (index.pipeline and core.keyword name them).
STEPS = ["began", "group-written", "group-old-versions-deleted", "pruned", "before-revision",
         "after-revision", "keyword-written", "keyword-moved-aside"]
NEW_FACT = "The zorblax festival of the alliance takes place in Quimper every May."

# A child ingest with the fast tier's embedder (the kill is what is tested, not the model). Its
# keyword side is rebuilt whole and cached (as after a change too large for a delta), so that
# the cache's writes are among the steps.
CHILD = """
import sys
import core.keyword
core.keyword.DELTA_MIN, core.keyword.DELTA_SHARE = 0, 0.0
from core.config import Settings
from index.pipeline import ingest
from tests.fakes import FakeEmbedder
settings = Settings(articles_dir=sys.argv[1], index_dir=sys.argv[2])
ingest(None, settings=settings, prune=True, progress=False, embedder=FakeEmbedder())
"""


def check_consistent(engine, n_articles: int) -> None:
    """One complete version per article, every chunk carrying a vector per sentence, and the
    dense and keyword sides holding the same chunk set."""
    chunks = engine.store.chunks.get(include=["metadatas"])
    versions: dict[str, dict[str, int]] = {}
    for m in chunks["metadatas"]:
        count = versions.setdefault(m["article_id"], {})
        count[m["content_hash"]] = count.get(m["content_hash"], 0) + 1
    assert len(versions) == n_articles
    for m in chunks["metadatas"]:
        assert versions[m["article_id"]] == {m["content_hash"]: m["n_chunks"]}
        vectors = unpack_vectors(m["sent_vecs"], m["sent_end"] - m["sent_start"])
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-2)
    assert set(engine.keyword.chunk_ids()) == set(chunks["ids"])


@pytest.fixture(scope="module")
def before_change(tmp_path_factory):
    """The seed articles indexed (fake embedder), and the edit the killed runs apply: one
    article changed, one deleted, one added."""
    from core.config import Settings
    from index.pipeline import ingest
    from tests.fakes import FakeEmbedder

    root = tmp_path_factory.mktemp("crash")
    articles = root / "articles"
    shutil.copytree(ARTICLES, articles)
    ingest(None, settings=Settings(articles_dir=str(articles), index_dir=str(root / "index")),
           progress=False, embedder=FakeEmbedder())
    files = sorted(articles.glob("*.txt"))
    files[0].write_text(files[0].read_text(encoding="utf-8") + "\n\n" + NEW_FACT + "\n",
                        encoding="utf-8")
    files[1].unlink()
    (articles / "added.txt").write_text(
        "Harbour cranes return\n\nThe port of Brest reopened its two harbour cranes on "
        "Tuesday after a repair that took nine weeks.\n", encoding="utf-8")
    return root, articles, len(files)


@pytest.mark.parametrize("step", STEPS)
def test_kill_at_each_commit_step_is_repaired_by_the_next_run(before_change, tmp_path, step):
    from core.config import Settings
    from index.pipeline import ingest
    from qa.engine import Engine
    from tests.fakes import FakeEmbedder

    root, articles, n_articles = before_change
    index = tmp_path / "index"
    shutil.copytree(root / "index", index)
    killed = subprocess.run([sys.executable, "-c", CHILD, str(articles), str(index)], cwd=ROOT,
                            env=dict(os.environ, **{KILL_AT: step}), capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, (step, killed.stderr[-2000:])

    settings = Settings(articles_dir=str(articles), index_dir=str(index))
    embedder = FakeEmbedder()
    # a reader opening the index right after the kill reads one complete version of each
    # article, the same chunks on the keyword and the dense side
    engine = Engine(settings, embedder=embedder, auto_index=False)
    stored = engine.store.chunks.get(include=["metadatas"])
    readable = {cid for cid, m in zip(stored["ids"], stored["metadatas"], strict=True)
                if engine.keyword.allows(m)}
    assert set(engine.keyword.chunk_ids()) == readable
    versions: dict[str, set] = {}
    for cid, m in zip(stored["ids"], stored["metadatas"], strict=True):
        if cid in readable:
            versions.setdefault(m["article_id"], set()).add(m["chunk_index"])
            assert len(versions[m["article_id"]]) <= m["n_chunks"]
    for m in stored["metadatas"]:
        if m["article_id"] in versions and engine.keyword.allows(m):
            assert len(versions[m["article_id"]]) == m["n_chunks"]  # complete

    report = ingest(None, settings=settings, prune=True, progress=False, embedder=embedder)
    engine = Engine(settings, embedder=embedder, auto_index=False)
    check_consistent(engine, n_articles)  # one deleted, one added
    assert report.removed + report.added + report.updated + report.unchanged >= n_articles
    answer = engine.ask("Where does the zorblax festival take place?")
    assert "Quimper" in answer.text
    assert any(c.title == "Harbour cranes return" for c in
               engine.ask("Which port reopened its harbour cranes?").citations)


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


def test_kill_while_the_model_runs_in_a_child_loses_nothing(tmp_path, embedder):
    """The real model, in its own process (an ingest of many groups): the ingest is killed
    after its first group is stored, while the child embeds the next; the child does not
    outlive it, and the next run keeps what was stored and finishes the rest."""
    from core.config import Settings
    from qa.engine import Engine

    # GROUP_ARTICLES a group; WORKER_MIN_GROUPS groups, the fewest that put the model in a child
    records, planted = make_corpus(GROUP_ARTICLES * WORKER_MIN_GROUPS, seed=5, filler=(2, 3))
    articles = tmp_path / "articles"
    write_jsonl(records, articles, per_file=GROUP_ARTICLES)
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_ARTICLES_DIR=str(articles))
    proc = subprocess.Popen([sys.executable, "-m", "index"], cwd=ROOT,
                            env=dict(env, **{KILL_AT: "group-written"}),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    deadline = time.monotonic() + 30  # the child notices its parent is gone, and stops
    while _embedding_children_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _embedding_children_of(proc.pid) == []

    final = subprocess.run([sys.executable, "-m", "index", "--json"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=900)
    assert final.returncode == 0, final.stderr[-2000:]
    report = json.loads(final.stdout.strip().splitlines()[-1])
    assert report["unchanged"] == GROUP_ARTICLES, report  # the group stored before the kill
    assert report["added"] == len(records) - GROUP_ARTICLES, report

    engine = Engine(Settings(articles_dir=str(articles), index_dir=str(tmp_path / "index")),
                    embedder=embedder, auto_index=False)
    check_consistent(engine, len(records))
    asked = planted[::5]  # every group's articles, stored before the kill and after it
    right = sum(p.answer in engine.ask(p.question).text for p in asked)
    assert right == len(asked)
