"""A damaged store: one clear message naming the damage and the command that fixes it,
`python -m index --check` finding it, `--reset` rebuilding from the articles. Each damaged index
is read in a child process: Chroma's native core may abort a process that met damaged files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.corpus import make_corpus, write_jsonl
from tests.conftest import ROOT

CHILD = """
import json, sys
from core.config import Settings
from core.errors import NewsQAError
from tests.fakes import FakeEmbedder
articles, index, question = sys.argv[1:4]
settings = Settings(articles_dir=articles, index_dir=index)
for step in sys.argv[4:]:
    try:
        if step == "check":
            from index.check import check_index
            out = check_index(settings, label="fake-hashed-words").to_dict()
        elif step == "ask":
            from qa.engine import Engine
            engine = Engine(settings, embedder=FakeEmbedder(), auto_index=False)
            out = {"reply": engine.ask(question).text}
        else:
            from index.pipeline import ingest
            out = ingest(None, settings=settings, reset=True, progress=False,
                         embedder=FakeEmbedder()).to_dict()
    except NewsQAError as e:
        out = {"error": str(e)}
    print(json.dumps(out))
"""


def _garble_db_head(index: Path) -> None:
    with open(index / "chroma.sqlite3", "r+b") as f:
        f.write(b"garbage!" * 100)


def _zero_db_pages(index: Path) -> None:
    with open(index / "chroma.sqlite3", "r+b") as f:
        f.seek(4096 * 5)
        f.write(b"\0" * 40960)


def _truncate_vector_file(name: str):
    def damage(index: Path) -> None:
        segment = next(p for p in index.iterdir() if p.is_dir() and "-" in p.name)
        with open(segment / name, "r+b") as f:
            f.truncate(10)
    return damage


DAMAGE = {
    "database header": _garble_db_head,
    "database pages": _zero_db_pages,
    "vector-index header": _truncate_vector_file("header.bin"),
    "vector-index lengths": _truncate_vector_file("length.bin"),  # answers silently wrong
}


def run(articles: str, index: Path, question: str, *steps: str) -> list[dict]:
    """The steps (check, ask, reset) in one child process, each step's result."""
    done = subprocess.run([sys.executable, "-c", CHILD, articles, str(index), question, *steps],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, RUST_BACKTRACE="0"))
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(steps), done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return results


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    """300 articles indexed with the fast tier's embedder: enough chunks that Chroma has
    written its vector-index files."""
    from core.config import Settings
    from index.pipeline import ingest
    from tests.fakes import FakeEmbedder

    root = tmp_path_factory.mktemp("recovery")
    records, planted = make_corpus(300, seed=3)
    write_jsonl(records, root / "articles", per_file=100)
    ingest(None, settings=Settings(articles_dir=str(root / "articles"),
                                   index_dir=str(root / "index")),
           progress=False, embedder=FakeEmbedder())
    assert any(p.is_dir() and (p / "header.bin").exists() for p in (root / "index").iterdir())
    return root, len(records), planted[0]


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_store_is_reported_checked_and_rebuilt(healthy, tmp_path, kind):
    root, n, planted = healthy
    articles, index = str(root / "articles"), tmp_path / "index"
    shutil.copytree(root / "index", index)
    DAMAGE[kind](index)

    # one process each: after meeting damaged files, Chroma's core may abort the process
    (check,) = run(articles, index, planted.question, "check")
    (asked,) = run(articles, index, planted.question, "ask")
    assert not check["ok"]
    assert any(p["fix"] == "python -m index --reset" for p in check["problems"]), check
    if "error" in asked:  # the question gets the damage and its fix, never a traceback
        assert "is damaged or unreadable" in asked["error"]
        assert "python -m index --reset" in asked["error"]

    rebuilt, check, asked = run(articles, index, planted.question, "reset", "check", "ask")
    assert rebuilt.get("added") == n, rebuilt
    assert check["ok"], check
    assert planted.answer in asked["reply"]
    assert len(list(Path(articles).glob("*.jsonl"))) == 3  # the articles are untouched


def test_check_of_a_healthy_index_and_of_an_outdated_one(healthy, tmp_path):
    root, n, planted = healthy
    articles = tmp_path / "articles"
    shutil.copytree(root / "articles", articles)
    shutil.copytree(root / "index", tmp_path / "index")
    from core.config import Settings
    from index.check import check_index

    settings = Settings(articles_dir=str(articles), index_dir=str(tmp_path / "index"))
    report = check_index(settings, label="fake-hashed-words")
    assert report.ok and report.articles == n and report.probes_found == "64/64 found"
    (articles / "part-0000.jsonl").unlink()
    report = check_index(settings, label="fake-hashed-words")
    assert report.lines()[1:] == [
        "- 100 article(s) indexed, but no longer among the articles (e.g. 'syn-00000'); "
        "fix: `python -m index --prune`"]


def test_check_finds_a_dead_cache_writers_folder_and_repair_removes_it(healthy, tmp_path):
    """A process killed while saving the keyword cache leaves its folder; --check names it
    with the fix, the fix removes it and nothing else."""
    root, n, _ = healthy
    shutil.copytree(root / "articles", tmp_path / "articles")
    shutil.copytree(root / "index", tmp_path / "index")
    from core.config import Settings
    from core.keyword import cache_dir_for, remove_dead_writers
    from index.check import check_index

    settings = Settings(articles_dir=str(tmp_path / "articles"),
                        index_dir=str(tmp_path / "index"))
    cache = cache_dir_for(settings)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    left = cache.with_name(f"{cache.name}.tmp-{gone.stdout.strip()}-0badf00d")
    left.mkdir(parents=True)
    (left / "part").write_bytes(b"x" * 2_000_000)
    report = check_index(settings, label="fake-hashed-words")
    assert [p.what for p in report.problems] == [
        f"1 folder(s) left by keyword-cache writers that died (2.0 MB, e.g. {left.name!r})"]
    assert report.problems[0].fix == "python -m index --check --repair"
    assert not report.needs_ingest
    assert remove_dead_writers(cache) == [left.name] and not left.exists()
    assert check_index(settings, label="fake-hashed-words").ok
