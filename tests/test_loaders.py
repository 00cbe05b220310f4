"""Every supported format loads; every bad file is skipped with its reason, the rest goes on."""

from __future__ import annotations

import json

import pytest

from core.errors import ArticlesNotFound
from index.loaders import load_articles

HTML = """<!doctype html><html><head><title>Site | Fallback</title>
<meta property="og:title" content="Drone Factory Opens in Lviv">
<meta property="article:published_time" content="2024-06-14T09:30:00Z">
<link rel="canonical" href="https://example.org/drones">
<script>window.bad = 1;</script></head>
<body><nav><a href="/">Home</a> Next Article: Unrelated story</nav>
<article><h1>Drone Factory Opens in Lviv</h1>
<p>A new drone factory opened in Lviv on Friday. It will build 400 drones a month.</p>
<p>Officials said the plant employs 250 workers.</p></article>
<footer>Copyright</footer></body></html>"""


def test_html_main_text_title_date_and_url(tmp_path):
    (tmp_path / "drones.html").write_text(HTML)
    [article], skipped, _ = load_articles([tmp_path])
    assert not skipped
    assert article.title == "Drone Factory Opens in Lviv"
    assert article.published == "2024-06-14"
    assert article.url == "https://example.org/drones"
    assert "400 drones a month" in article.text
    for noise in ("window.bad", "Home", "Unrelated story", "Copyright"):
        assert noise not in article.text


def test_json_and_jsonl_records_with_a_bad_line_skipped(tmp_path):
    (tmp_path / "one.json").write_text(json.dumps(
        {"id": "rec-1", "title": "Bridge Reopens", "text": "The bridge reopened on Monday.",
         "url": "https://example.org/b", "published": "2024-03-02", "source": "Wire"}))
    lines = [json.dumps({"id": "rec-2", "text": "Talks resumed in Geneva on Tuesday."}),
             "{not json",
             json.dumps({"id": "rec-3", "title": "No text here"}),
             json.dumps({"text": "A record without an id still counts."})]
    (tmp_path / "many.jsonl").write_text("\n".join(lines))
    articles, skipped, _ = load_articles([tmp_path])
    by_id = {a.id: a for a in articles}
    assert set(by_id) == {"rec-1", "rec-2", "many-4"}
    assert by_id["rec-1"].published == "2024-03-02" and by_id["rec-1"].source == "Wire"
    reasons = {s.reason for s in skipped}
    assert any("line 2: invalid JSON" in r for r in reasons)
    assert any("line 3: no 'text' field" in r for r in reasons)


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("empty.txt", b"", "empty file"),
    ("blank.md", b"   \n\n  ", "empty file"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary file"),
    ("latin1.txt", "Caf\xe9 au lait in M\xfcnchen".encode("latin-1"), "not valid UTF-8"),
    ("broken.json", b'{"id": "x", "text": ', "invalid JSON"),
    ("notes.pdf", b"%PDF-1.4", "unsupported file type"),
    ("only-boilerplate.txt", b"No time to read?\nGet a summary\n", "no text to index"),
])
def test_bad_files_are_skipped_with_a_reason_and_the_rest_loads(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    (tmp_path / "good.txt").write_text("A good article sentence. Another good sentence.")
    articles, skipped, _ = load_articles([tmp_path])
    assert [a.id for a in articles] == ["good"]
    assert len(skipped) == 1 and skipped[0].path.endswith(name)
    assert reason in skipped[0].reason


def test_missing_folder_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ArticlesNotFound, match="nowhere"):
        load_articles([missing])


def test_a_link_to_a_file_outside_the_folder_is_skipped(tmp_path):
    from index.loaders import load_articles

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "real.txt").write_text("A real article.\n\nIt has a sentence or two.")
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash")
    (folder / "passwd.txt").symlink_to(secret)
    articles, skipped, _ = load_articles([folder])
    assert [a.id for a in articles] == ["real"]
    assert any(s.path.endswith("passwd.txt") and "outside the articles folder" in s.reason
               for s in skipped)


def test_a_six_megabyte_run_on_paragraph_is_split_not_fatal():
    from core.sentences import sentence_spans

    text = "word " * 1_200_000 + "end."  # one paragraph, no sentence ends: 6 MB
    spans = sentence_spans(text)
    assert len(spans) >= 6_000_000 // 8000
    assert all(0 <= a < b <= len(text) for a, b in spans)
    assert "".join(text[a:b] for a, b in spans).replace(" ", "") == text.replace(" ", "")


def test_only_web_urls_are_kept(tmp_path):
    from index.loaders import load_file

    f = tmp_path / "links.jsonl"
    f.write_text("\n".join(json.dumps({"id": f"u{i}", "text": "A story with a sentence.",
                                       "url": url})
                           for i, url in enumerate(["https://example.org/a",
                                                    "javascript:alert(1)",
                                                    "file:///etc/passwd"])) + "\n")
    assert [a.url for a in load_file(f)] == ["https://example.org/a", None, None]


def test_an_html_page_names_its_outlet(tmp_path):
    from index.loaders import load_file

    f = tmp_path / "page.html"
    f.write_text('<html><head><meta property="og:site_name" content="Harbour Post">'
                 '<meta property="og:title" content="Cranes return"></head><body><article>'
                 "<p>The port reopened its two cranes on Tuesday after nine weeks.</p>"
                 "</article></body></html>")
    (article,) = load_file(f)
    assert article.source == "Harbour Post" and article.title == "Cranes return"
