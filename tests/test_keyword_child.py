"""A large keyword index is rebuilt by a child process, and the answering process loads it from
the cache: same chunks, same answers."""

from __future__ import annotations

import shutil

from tests.conftest import ARTICLES


def test_a_rebuild_in_a_child_process_gives_the_same_index(tmp_path, monkeypatch):
    import core.keyword
    from core.config import Settings
    from qa.engine import Engine
    from tests.fakes import FakeEmbedder

    shutil.copytree(ARTICLES, tmp_path / "articles")
    engine = Engine(Settings(articles_dir=str(tmp_path / "articles"),
                             index_dir=str(tmp_path / "index")), embedder=FakeEmbedder())
    before = set(engine.keyword.chunk_ids())
    answer = engine.ask("Where will the NATO command for Ukraine be headquartered?").text

    built = []
    real = core.keyword.build_in_child
    monkeypatch.setattr(core.keyword, "CHILD_BUILD_CHUNKS", 1)
    # as after a change too large to read as a delta over the cached base
    monkeypatch.setattr(core.keyword.KeywordIndex, "updated", lambda *a: None)
    monkeypatch.setattr(core.keyword, "build_in_child",
                        lambda settings: built.append(real(settings)) or built[-1])
    engine.store.mark_changed()  # as another process's ingest would
    engine.refresh(force=True)
    assert built == [True]
    assert engine.snapshot.revision == engine.store.revision()
    assert set(engine.keyword.chunk_ids()) == before
    assert engine.ask("Where will the NATO command for Ukraine be headquartered?").text == answer
