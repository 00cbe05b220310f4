"""Ingest is idempotent, replaces exactly what changed, prunes what is gone, reports in JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ARTICLES, ROOT, article_file_text


def _chunk_ids(engine, article_id=None):
    where = {"article_id": article_id} if article_id else None
    return set(engine.store.chunks.get(where=where, include=[])["ids"])


def test_rerun_over_unchanged_files_writes_nothing(make_engine, tmp_path):
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    engine = make_engine(articles)
    first = engine.ingest()
    assert (first.added, first.updated, first.unchanged) == (5, 0, 0)
    assert first.chunks_written == first.chunks_total > 20
    before = _chunk_ids(engine)
    again = engine.ingest()
    assert (again.added, again.updated, again.unchanged, again.chunks_written) == (0, 0, 5, 0)
    assert _chunk_ids(engine) == before


def test_the_same_folder_spelled_another_way_is_the_same_corpus(make_engine, tmp_path,
                                                                 monkeypatch):
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    (tmp_path / "link").symlink_to(articles)
    engine = make_engine(articles)
    monkeypatch.chdir(tmp_path)
    first = engine.ingest(["articles"])  # relative
    assert first.added == 5
    for spelling in (str(articles), f"{tmp_path}/./articles/", "link", "articles/../articles"):
        again = engine.ingest([spelling])
        assert (again.unchanged, again.chunks_written) == (5, 0), spelling
    one = engine.ingest([str(articles / "002_97a7c6ca049e9223.txt")])  # one file, absolute
    assert (one.unchanged, one.chunks_written) == (1, 0)


def test_changed_article_replaces_exactly_its_own_chunks(make_engine, tmp_path):
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    engine = make_engine(articles)
    engine.ingest()
    others = {a: _chunk_ids(engine, a) for a in ("000_d8980e8bd6e9f04e", "001_f1396125a935aef9")}
    target = articles / "002_97a7c6ca049e9223.txt"
    old = _chunk_ids(engine, "002_97a7c6ca049e9223")
    target.write_text(target.read_text().replace("nearly 700 personnel", "nearly 650 personnel"))
    report = engine.ingest()
    assert (report.added, report.updated, report.unchanged) == (0, 1, 4)
    new = _chunk_ids(engine, "002_97a7c6ca049e9223")
    assert new and not (new & old)
    assert {a: _chunk_ids(engine, a) for a in others} == others
    stored = engine.store.chunks.get(where={"article_id": "002_97a7c6ca049e9223"},
                                     include=["metadatas"])["metadatas"]
    assert {m["content_hash"] for m in stored} == {new.pop().split("#")[1].split(":")[0]}
    answer = engine.ask("How many personnel will the operation involve?")
    assert "650" in answer.text and "700" not in answer.text


def test_prune_drops_articles_whose_files_are_gone(make_engine, tmp_path):
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    engine = make_engine(articles)
    engine.ingest()
    (articles / "004_3755d7ad1a8a19db.txt").unlink()
    kept = engine.ingest()
    assert kept.removed == 0 and _chunk_ids(engine, "004_3755d7ad1a8a19db")
    pruned = engine.ingest(prune=True)
    assert pruned.removed == 1 and not _chunk_ids(engine, "004_3755d7ad1a8a19db")
    answer = engine.ask("Who is the alliance's deputy supreme allied commander?")
    assert "Stringer" not in answer.text
    assert "004_3755d7ad1a8a19db" not in {c.article_id for c in answer.citations}


def test_interrupted_update_is_finished_by_the_next_ingest(make_engine, tmp_path):
    """Half of a new version written (as a kill mid-write leaves it): the next run completes."""
    from index.loaders import load_articles
    from index.pipeline import chunk_records

    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    engine = make_engine(articles)
    engine.ingest()
    target = articles / "003_b47ef3f2e68c73b9.txt"
    target.write_text(target.read_text().replace("Bucharest", "Sofia"))
    [changed] = [a for a in load_articles([target])[0]]
    records = chunk_records(changed)
    vectors, metas = records.with_vectors(engine.embedder.encode(records.embed_texts))
    engine.store.chunks.upsert(ids=records.chunk_ids[:2], embeddings=vectors[:2],
                               metadatas=metas[:2])  # only 2 of the new chunks landed
    report = engine.ingest()
    assert report.updated == 1
    hashes = {m["content_hash"] for m in engine.store.chunks.get(
        where={"article_id": changed.id}, include=["metadatas"])["metadatas"]}
    assert hashes == {changed.content_hash}
    assert "Sofia" in engine.ask("Where is the forthcoming meeting on accession?").text


def test_cli_json_report_and_skipped_files(tmp_path):
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    (articles / "broken.jsonl").write_text('{"id": "ok-1", "text": "Valid line of text."}\n{bad\n')
    (articles / "image.txt").write_bytes(b"\x00\x01\x02binary")
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_ARTICLES_DIR=str(articles))
    run = subprocess.run([sys.executable, "-m", "index", "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(report) == {"added", "updated", "unchanged", "removed", "skipped",
                           "chunks_written", "chunks_total", "sentences_written",
                           "sentences_in_child", "seconds", "phases"}
    assert report["added"] == 6
    assert report["sentences_in_child"] == 0  # six articles: embedded in-process
    reasons = {os.path.basename(s["path"]): s["reason"] for s in report["skipped"]}
    assert "invalid JSON" in reasons["broken.jsonl"] and "binary" in reasons["image.txt"]
    assert report["chunks_written"] == report["chunks_total"]
    assert set(report["phases"]) == {"records", "embed", "store", "keyword"}


def test_cli_missing_folder_is_one_line_and_exit_2(tmp_path):
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"))
    run = subprocess.run([sys.executable, "-m", "index", str(tmp_path / "nope")], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "nope" in run.stderr
    assert "Traceback" not in run.stderr


def test_index_of_an_earlier_layout_is_refused_and_reset_rebuilds_it(make_engine, tmp_path):
    """An index written by an earlier newsqa (a separate sentence collection, layout 2) is a
    clear error naming the command that rebuilds it; that command works, and answers return."""
    from core.errors import IndexMismatch
    from core.store import open_client

    engine = make_engine(ARTICLES)
    engine.ingest()
    settings = engine.settings
    client = open_client(settings)
    meta = {k: v for k, v in engine.store.chunks.metadata.items() if not k.startswith("hnsw:")}
    client.get_collection(settings.collection).modify(metadata=meta | {"layout": "2"})
    client.get_or_create_collection(f"{settings.collection}_sentences", embedding_function=None)
    with pytest.raises(IndexMismatch) as caught:
        make_engine(ARTICLES)
    assert "layout 2" in str(caught.value) and "python -m index --reset" in str(caught.value)

    env = dict(os.environ, QA_INDEX_DIR=settings.index_dir, QA_ARTICLES_DIR=str(ARTICLES))
    asked = subprocess.run([sys.executable, "-m", "qa", "Where is the command?"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=300)
    assert asked.returncode == 2 and "Traceback" not in asked.stderr
    assert "python -m index --reset" in asked.stderr
    rebuilt = subprocess.run([sys.executable, "-m", "index", "--reset", "--json"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout.strip().splitlines()[-1])["added"] == 5
    names = {c.name for c in open_client(settings).list_collections()}
    assert f"{settings.collection}_sentences" not in names
    answer = make_engine(ARTICLES).ask("Where will the Ukraine support command be based?")
    assert "Wiesbaden" in answer.text


def test_chunk_collection_is_a_plain_llama_index_vector_store(make_engine):
    """The chunks hold no Chroma document (its full-text index cost most of a chunk's write),
    so their text is where llama-index itself puts it: plain llama-index over the collection
    gets each chunk's words, verbatim from its article."""
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    engine = make_engine(ARTICLES)
    engine.ingest()
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=engine.store.chunks), embed_model=engine.embedder)
    hits = index.as_retriever(similarity_top_k=3).retrieve(
        "Where will the Ukraine support command be based?")
    assert len(hits) == 3
    assert any("Wiesbaden" in h.node.get_content() for h in hits)
    for h in hits:
        words, source = h.node.get_content(), article_file_text(h.node.metadata["article_id"])
        assert len(words) > 100 and all(line in source for line in words.split("\n"))


def test_a_serving_engine_keeps_answering_when_another_process_reindexes(make_engine, tmp_path):
    """The README's workflow: the page serves, someone edits an article and runs
    `python -m index` in another terminal. Every question keeps being answered, and the new
    text is answered within a few seconds."""
    import time

    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    engine = make_engine(articles)
    engine.ingest()
    assert "Wiesbaden" in engine.ask("Where will the Ukraine support command be based?").text
    path = articles / "002_97a7c6ca049e9223.txt"
    path.write_text(path.read_text().replace("Wiesbaden, Germany", "Lyon, France"))
    env = dict(os.environ, QA_INDEX_DIR=engine.settings.index_dir, QA_ARTICLES_DIR=str(articles))
    run = subprocess.run([sys.executable, "-m", "index"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    deadline = time.monotonic() + 10
    while True:
        other = engine.ask("What did Moscow choose instead of dialogue?")  # unrelated: no error
        assert other.citations or other.abstained
        text = engine.ask("Where will the Ukraine support command be based?").text
        if "Lyon" in text or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "Lyon" in text and "Wiesbaden" not in text
