"""Fast tier: a change reaches the keyword side as a delta over the cached base (no rescan of
the store), ranks as a full rebuild would, and an article version still being written is
never read, on either side."""

from __future__ import annotations

import shutil

import pytest
from llama_index.core.schema import QueryBundle

from tests.conftest import ARTICLES

FESTIVAL = ("Zorblax festival returns\n\nThe zorblax festival of the alliance takes place in "
            "Quimper every May, with brass bands from nine countries.\n")


@pytest.fixture
def engine(tmp_path):
    from core.config import Settings
    from qa.engine import Engine
    from tests.fakes import FakeEmbedder

    shutil.copytree(ARTICLES, tmp_path / "articles")
    settings = Settings(articles_dir=str(tmp_path / "articles"),
                        index_dir=str(tmp_path / "index"))
    return Engine(settings, embedder=FakeEmbedder())


@pytest.fixture
def full_scans(monkeypatch):
    """How many times the whole store is read to build a keyword base."""
    import core.keyword

    calls = []
    real = core.keyword.chunk_nodes
    monkeypatch.setattr(core.keyword, "chunk_nodes", lambda store: calls.append(1) or real(store))
    return calls


def _top(index, query: str) -> list[tuple[str, float]]:
    return [(n.node.node_id, round(n.score, 4))
            for n in index.retriever.retrieve(QueryBundle(query))]


def test_an_added_and_a_deleted_article_need_no_rescan(engine, tmp_path, full_scans):
    from core.keyword import KeywordIndex

    articles = tmp_path / "articles"
    (articles / "festival.txt").write_text(FESTIVAL, encoding="utf-8")
    gone = sorted(articles.glob("00*.txt"))[0]
    gone_id = gone.stem
    gone.unlink()
    report = engine.ingest(prune=True, progress=False)
    assert (report.added, report.removed) == (1, 1)
    assert full_scans == []  # the keyword side read only the new chunks

    keyword = engine.keyword
    assert keyword.revision == engine.store.revision()
    assert keyword.delta is not None and len(keyword.delta.ids) >= 1
    hit = keyword.retriever.retrieve(QueryBundle("zorblax festival Quimper"))[0]
    assert hit.node.metadata["title"] == "Zorblax festival returns"
    assert not any(cid.startswith(gone_id) for cid in keyword.chunk_ids())
    answer = engine.ask("Where does the zorblax festival take place?")
    assert "Quimper" in answer.text
    assert answer.citations[0].title == "Zorblax festival returns"

    # the same ranking as a base built over the whole store now
    full = KeywordIndex.build(engine.store, engine.store.revision(), engine.top_k)
    assert set(full.chunk_ids()) == set(keyword.chunk_ids())
    for query in ("zorblax festival brass bands", "NATO command Wiesbaden",
                  "deputy supreme allied commander"):
        delta_ids = [cid for cid, _ in _top(keyword, query)[:3]]
        full_ids = [cid for cid, _ in _top(full, query)[:3]]
        assert delta_ids[0] == full_ids[0], query


def test_a_large_change_rebuilds_the_base(engine, tmp_path, full_scans, monkeypatch):
    import core.keyword

    monkeypatch.setattr(core.keyword, "DELTA_MIN", 0)
    monkeypatch.setattr(core.keyword, "DELTA_SHARE", 0.0)
    (tmp_path / "articles" / "festival.txt").write_text(FESTIVAL, encoding="utf-8")
    engine.ingest(progress=False)
    assert len(full_scans) >= 1 and engine.keyword.delta is None
    assert "Quimper" in engine.ask("Where does the zorblax festival take place?").text


def test_a_version_still_being_written_is_never_read(engine, tmp_path):
    """Two of the chunks of a changed article's new version, and one of a new article's,
    stored (as mid-write, or after a kill): answers keep to the complete old version and
    never read the partial ones."""
    from index.loaders import load_articles
    from index.pipeline import chunk_records

    target = tmp_path / "articles" / "003_b47ef3f2e68c73b9.txt"
    target.write_text(target.read_text().replace("Bucharest", "Sofia"))
    fresh = tmp_path / "festival.txt"
    fresh.write_text(FESTIVAL + "\n".join(f"Paragraph {i} of the long programme, with a "
                                          f"zorblax parade on day {i}." for i in range(60)))
    partial = []
    for path, keep in ((target, 2), (fresh, 1)):
        [article] = load_articles([path])[0]
        records = chunk_records(article)
        assert len(records.chunk_ids) > keep
        vectors, metas = records.with_vectors(engine.embedder.encode(records.embed_texts))
        engine.store.upsert(records.chunk_ids[:keep], vectors[:keep], None, metas[:keep])
        partial += records.chunk_ids[:keep]
    engine.store.mark_changed()
    engine.refresh(force=True)

    readable = set(engine.keyword.chunk_ids())
    assert readable and not readable & set(partial)
    for question in ("Where is the forthcoming meeting on accession?",
                     "Where does the zorblax festival take place?"):
        _, vector = question, engine.embedder.encode([question])[0]
        nodes = engine.retriever.retrieve(question, vector.tolist())
        assert not {n.node.node_id for n in nodes} & set(partial)
    answer = engine.ask("Where is the forthcoming meeting on accession?")
    assert "Sofia" not in answer.text
    assert "Quimper" not in engine.ask("Where does the zorblax festival take place?").text


def test_writers_saving_the_keyword_cache_at_once_all_succeed(engine, tmp_path):
    """An upload's ingest and the engine's refresh (or two processes over one index) may cache
    the keyword base at the same moment: none of them fails, one base ends up in place and
    reads back, and no writer's folder is left behind."""
    import threading

    from core.keyword import KeywordIndex

    keyword = engine.snapshot.keyword
    cache = tmp_path / "cache" / "keyword"
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def write() -> None:
        start.wait()
        for _ in range(5):
            try:
                keyword.save(cache)
            except BaseException as e:  # noqa: BLE001 - the test reports what any writer hit
                errors.append(e)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    again = KeywordIndex.cached(cache, 8)
    assert again is not None and again.revision == keyword.revision
    assert sorted(p.name for p in cache.parent.iterdir()) == ["keyword"]
