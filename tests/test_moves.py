"""Fast tier: a moved or renamed articles folder is the same articles (no re-embedding)."""

from __future__ import annotations

import shutil

from tests.conftest import ARTICLES


def test_a_moved_folder_embeds_nothing_and_records_the_new_paths(tmp_path):
    from core.config import Settings
    from core.store import Store
    from index.pipeline import ingest
    from tests.fakes import FakeEmbedder

    first, moved = tmp_path / "articles", tmp_path / "elsewhere" / "news"
    shutil.copytree(ARTICLES, first)
    embedder = FakeEmbedder()
    settings = Settings(articles_dir=str(first), index_dir=str(tmp_path / "index"))
    added = ingest(None, settings=settings, progress=False, embedder=embedder)
    assert added.added == 5 and added.chunks_written > 0

    shutil.move(str(first), str(moved))
    again = ingest([str(moved)], settings=settings, prune=True, progress=False,
                   embedder=embedder)
    assert (again.unchanged, again.added, again.removed, again.chunks_written) == (5, 0, 0, 0)
    store = Store.open(settings, embedder.model_label)
    paths = {m["path"] for _, m in store.all_metadatas()}
    assert {p.rsplit("/", 1)[0] for p in paths} == {str(moved.resolve())}
