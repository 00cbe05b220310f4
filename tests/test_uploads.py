"""Uploads through the article library (index.library): only inside the articles folder,
never replacing an article, refused with a reason (and not kept) when they cannot be indexed.
Fast tier: the fake embedder, a real Chroma store in a temporary folder."""

from __future__ import annotations

import errno
import json
import shutil

import pytest

from core.errors import InvalidSetting
from index.library import Library, safe_name
from tests.conftest import ARTICLES, WIESBADEN_ID

QUESTION = "Where will the Ukraine support command be based?"


@pytest.fixture
def library(tmp_path):
    from core.config import Settings
    from qa.engine import Engine
    from tests.fakes import FakeEmbedder

    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    settings = Settings(articles_dir=str(articles), index_dir=str(tmp_path / "index"),
                        max_upload_mb=8, max_upload_records=50, articles_page_size=20)
    engine = Engine(settings, embedder=FakeEmbedder(), auto_index=True)
    return Library(engine)


def upload(tmp_path, library, name: str, data: bytes | str):
    src = tmp_path / "incoming" / "upload"
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(data.encode() if isinstance(data, str) else data)
    return library.add([(str(src), name)])


def files(library) -> list[str]:
    return sorted(p.name for p in library.root.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("name", [
    "../evil.txt", "../../etc/cron.d/x.txt", "/etc/passwd.txt", "..\\\\evil.txt",
    "C:\\\\Windows\\\\evil.txt", ".hidden.txt", "script.sh", "noext", "", "a\x00b.txt",
])
def test_dangerous_names_are_refused(name):
    with pytest.raises(InvalidSetting):
        safe_name(name)


@pytest.mark.parametrize(("name", "saved"), [
    ("story.txt", "story.txt"),
    ("My Story (1).md", "My Story _1_.md"),
    ("folder/inner.json", "inner.json"),
    ("weird<>|name.jsonl", "weird_name.jsonl"),
    ("новости.txt", "новости.txt"),
    ("新闻.txt", "新闻.txt"),
])
def test_plain_names_are_kept_or_sanitised(name, saved):
    assert safe_name(name) == saved


def test_same_name_in_any_format_is_saved_apart_and_the_original_kept(tmp_path, library):
    before = files(library)
    original = (library.root / f"{WIESBADEN_ID}.txt").read_text(encoding="utf-8")
    same = upload(tmp_path, library, f"{WIESBADEN_ID}.txt",
                  "Rival claim\n\nThe Ukraine support command will be based in Narnia.")
    other = upload(tmp_path, library, f"{WIESBADEN_ID}.md",
                   "# Another\n\nThe Ukraine support command moves to Atlantis.")
    assert same.saved == [f"{WIESBADEN_ID}-2.txt"] and other.saved == [f"{WIESBADEN_ID}-3.md"]
    assert any("was kept" in note for note in same.notes)
    assert (library.root / f"{WIESBADEN_ID}.txt").read_text(encoding="utf-8") == original
    assert files(library) == sorted(before + same.saved + other.saved)
    assert WIESBADEN_ID in {a.article_id for a in library.page()[0]}


def test_a_jsonl_record_cannot_take_an_id_another_file_owns(tmp_path, library):
    before = files(library)
    record = {"id": WIESBADEN_ID, "title": "Takeover", "text": "The command is in Narnia."}
    report = upload(tmp_path, library, "takeover.jsonl", json.dumps(record) + "\n")
    assert report.saved == []
    assert "belongs to" in report.refused[0] and WIESBADEN_ID in report.refused[0]
    assert files(library) == before
    assert library.get(WIESBADEN_ID).info.title != "Takeover"
    # nor through the CLI's ingest of that one file
    (library.root / "takeover.jsonl").write_text(json.dumps(record) + "\n")
    ingest = library.engine.ingest([str(library.root / "takeover.jsonl")], progress=False)
    assert "belongs to" in ingest.skipped[0]["reason"] and ingest.chunks_written == 0


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("empty.txt", "", "empty file"),
    ("binary.txt", b"\x00\x01\x02" * 100, "binary"),
    ("latin1.txt", "caf\xe9".encode("latin-1"), "UTF-8"),
    ("huge.txt", b"a" * (8 * 1024 * 1024 + 1), "QA_MAX_UPLOAD_MB"),
    ("many.jsonl", "".join(json.dumps({"id": f"r{i}", "text": f"Record {i} says hello."}) + "\n"
                           for i in range(100_000)), "QA_MAX_UPLOAD_RECORDS"),
])
def test_an_upload_that_cannot_be_indexed_is_refused_and_not_kept(tmp_path, library, name,
                                                                  data, reason):
    before = files(library)
    report = upload(tmp_path, library, name, data)
    assert report.saved == [] and reason in report.refused[0]
    assert files(library) == before
    assert not list(library.root.glob(".upload-*"))


def test_a_failed_copy_on_a_full_disk_leaves_nothing(tmp_path, library, monkeypatch):
    import index.library

    def full_disk(src, dst):
        with open(dst, "wb") as f:
            f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(index.library.shutil, "copyfile", full_disk)
    report = upload(tmp_path, library, "story.txt", "A story.\n\nIt has a sentence.")
    assert report.saved == [] and "disk full" in report.refused[0]
    assert not list(library.root.glob(".upload-*")) and "story.txt" not in files(library)


def test_unicode_names_are_both_kept_and_indexed(tmp_path, library):
    a = upload(tmp_path, library, "новости.txt", "Новости\n\nThe zorblax prize went to Mira.")
    b = upload(tmp_path, library, "新闻.txt", "新闻\n\nThe quorvid prize went to Anton.")
    assert a.saved == ["новости.txt"] and b.saved == ["新闻.txt"]
    ids = {x.article_id for x in library.page()[0]}
    assert {"новости", "新闻"} <= ids


def test_replace_keeps_the_previous_version_and_delete_removes_the_article(tmp_path, library):
    src = tmp_path / "new.txt"
    src.write_text("Command moved\n\nThe Ukraine support command will be based in Quimper.")
    report = library.replace(WIESBADEN_ID, str(src), "new.txt")
    assert "previous version is kept" in report.notes[0]
    assert "Quimper" in library.engine.ask(QUESTION).text
    kept = list((library.root / ".versions").iterdir())
    assert len(kept) == 1 and "Wiesbaden" in kept[0].read_text(encoding="utf-8")

    note = library.delete(WIESBADEN_ID)
    assert "deleted" in note and WIESBADEN_ID not in {a.article_id for a in library.page()[0]}
    assert f"{WIESBADEN_ID}.txt" not in files(library)
    assert len(list((library.root / ".versions").iterdir())) == 2
    assert "Quimper" not in library.engine.ask(QUESTION).text
    with pytest.raises(InvalidSetting, match="no article"):
        library.delete(WIESBADEN_ID)


def test_the_articles_list_is_searched_and_paged_on_the_server(tmp_path, library):
    rows = "".join(json.dumps({"id": f"bulk-{i:03d}", "title": f"Bulk story {i}",
                               "text": f"Bulk story {i} has its own sentence."}) + "\n"
                   for i in range(45))
    assert upload(tmp_path, library, "bulk.jsonl", rows).saved == ["bulk.jsonl"]
    size = library.settings.articles_page_size
    first, total = library.page()
    assert total == 50 and len(first) == size
    found, n = library.page("BULK STORY 4")
    assert n == 6 and all("Bulk story 4" in a.title for a in found)
    last, _ = library.page(page=99)  # past the end: the last page
    assert len(last) == total - size * ((total - 1) // size) == 10
