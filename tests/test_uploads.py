"""Uploads land only inside the articles folder, under sanitised names, within the size limit."""

from __future__ import annotations

import pytest

import app
from qa.errors import InvalidSetting


@pytest.mark.parametrize("name", [
    "../evil.txt", "../../etc/cron.d/x.txt", "/etc/passwd.txt", "..\\\\evil.txt",
    "C:\\\\Windows\\\\evil.txt", ".hidden.txt", "script.sh", "noext", "", "a\x00b.txt",
])
def test_dangerous_names_are_refused(name):
    with pytest.raises(InvalidSetting):
        app.safe_name(name)


@pytest.mark.parametrize(("name", "saved"), [
    ("story.txt", "story.txt"),
    ("My Story (1).md", "My Story _1_.md"),
    ("folder/inner.json", "inner.json"),
    ("weird<>|name.jsonl", "weird_name.jsonl"),
])
def test_plain_names_are_kept_or_sanitised(name, saved):
    assert app.safe_name(name) == saved


def test_uploads_are_saved_inside_the_folder_and_big_ones_refused(tmp_path, monkeypatch):
    articles = tmp_path / "articles"
    src = tmp_path / "src"
    src.mkdir()
    ok, big, bad = src / "ok.txt", src / "big.txt", src / "bad.txt"
    ok.write_text("A fine article.")
    big.write_bytes(b"x" * 2048)
    bad.write_text("nope")
    monkeypatch.setattr(app, "MAX_UPLOAD_BYTES", 1024)
    saved, refused = app.save_uploads([str(ok), str(big), str(bad)],
                                      ["ok.txt", "big.txt", "../bad.txt"], articles)
    assert saved == [(articles / "ok.txt").resolve()]
    assert any("big.txt" in r and "limit" in r for r in refused)
    assert any("bad.txt" in r and ".." in r for r in refused)
    assert sorted(p.name for p in tmp_path.rglob("*.txt")) == ["bad.txt", "big.txt", "ok.txt",
                                                               "ok.txt"]


def test_auth_keeps_out_clients_without_the_password(seed_engine):
    from gradio_client import Client

    demo = app.build_app(seed_engine)
    demo.queue()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=None, quiet=True,
                            prevent_thread_lock=True, auth=app.parse_auth("ana:s3cret"))
    try:
        with pytest.raises(Exception):  # noqa: B017 - refused at login, whatever the type
            Client(url, verbose=False).predict("Where is the command?", api_name="/ask")
        with pytest.raises(Exception):  # noqa: B017
            Client(url, auth=("ana", "wrong"), verbose=False)
        result = Client(url, auth=("ana", "s3cret"), verbose=False).predict(
            "Where will the Ukraine support command be based?", api_name="/ask")
        assert "Wiesbaden" in result["text"]
    finally:
        demo.close()


@pytest.mark.parametrize("value", ["nocolon", ":pw", "user:"])
def test_malformed_auth_is_a_clear_error(value):
    with pytest.raises(InvalidSetting, match="user:password"):
        app.parse_auth(value)


def test_an_upload_never_replaces_an_article_in_any_format(tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "002_story.txt").write_text("The original text.")
    src = tmp_path / "src"
    src.mkdir()
    same, other_format = src / "a.txt", src / "b.md"
    same.write_text("An upload with the same name.")
    other_format.write_text("# Same stem, another format")
    renamed: list[str] = []
    saved, refused = app.save_uploads([str(same), str(other_format)],
                                      ["002_story.txt", "002_story.md"], articles, renamed)
    assert refused == []
    assert [p.name for p in saved] == ["002_story-2.txt", "002_story-3.md"]
    assert (articles / "002_story.txt").read_text() == "The original text."
    assert any("saved as 002_story-2.txt" in r for r in renamed)
    assert not list(articles.glob(".upload-*"))  # no partial copies left


def test_non_ascii_names_are_kept_apart():
    assert app.safe_name("новости.txt") == "новости.txt"
    assert app.safe_name("新闻.txt") == "新闻.txt"
