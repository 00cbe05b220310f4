"""Chroma server mode: a real `chroma run` on a free loopback port, shared by several engines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.eval import DEFAULT_FILE, evaluate, load_cases
from tests.conftest import ARTICLES, SEED_QUESTION, free_port, stop

CHROMA = Path(sys.executable).with_name("chroma")


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    log = open(data / "server.log", "w")
    proc = subprocess.Popen([str(CHROMA), "run", "--path", str(data / "db"), "--host",
                             "127.0.0.1", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    deadline = time.monotonic() + 60
    while True:
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port,
                                settings=ChromaSettings(anonymized_telemetry=False)).heartbeat()
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"chroma run did not start: {(data / 'server.log').read_text()}")
            time.sleep(0.3)
    yield url
    stop(proc)
    log.close()


def _server_engine(url, tmp_path, name, embedder, articles, auto_index=True):
    from core.config import Settings
    from qa.engine import Engine

    settings = Settings(articles_dir=str(articles), index_dir=str(tmp_path / name),
                        chroma_url=url, collection="server-seeds")
    return Engine(settings, embedder=embedder, auto_index=auto_index)


def test_server_mode_answers_the_seed_set_exactly_as_embedded(chroma_url, tmp_path, embedder,
                                                               seed_engine, seed_evaluation):
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    server = _server_engine(chroma_url, tmp_path, "a", embedder, articles)
    assert server.store.chunks.count() == seed_engine.store.chunks.count()
    cases = load_cases(DEFAULT_FILE)
    on_server = evaluate(server, cases)["rows"]
    embedded = seed_evaluation["rows"]
    for s, e in zip(on_server, embedded, strict=True):
        assert (s["reply"], s["cited"], s["abstained"]) == (e["reply"], e["cited"],
                                                            e["abstained"]), s["question"]


def test_two_app_processes_share_one_index(chroma_url, tmp_path, embedder):
    """A second engine (its own local folder, as on another machine) sees the same chunks,
    gives the same answers, and picks up what the first one ingests."""
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    first = _server_engine(chroma_url, tmp_path, "first", embedder, articles)
    second = _server_engine(chroma_url, tmp_path, "second", embedder, articles, auto_index=False)
    assert first.ask(SEED_QUESTION) == second.ask(SEED_QUESTION)

    (articles / "ferry.txt").write_text(
        "Ferry Line Restarts\n\nThe Ostrava ferry line restarted with 14 daily crossings.\n")
    report = first.ingest([str(articles / "ferry.txt")])
    assert report.added == 1
    # the second notices the new revision at its next check and swaps in a new snapshot in
    # the background (answers meanwhile read the previous one)
    deadline = time.monotonic() + 30
    while True:
        time.sleep(second.REFRESH_EVERY + 0.1)
        answer = second.ask("How many daily crossings does the Ostrava ferry line run?")
        if not answer.abstained or time.monotonic() > deadline:
            break
    assert "14 daily crossings" in answer.text and answer.citations[0].article_id == "ferry"


def test_unreachable_server_is_a_clear_error(tmp_path, embedder):
    from core.config import Settings
    from core.errors import StoreUnavailable
    from qa.engine import Engine

    settings = Settings(index_dir=str(tmp_path), chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreUnavailable, match="cannot reach the Chroma server"):
        Engine(settings, embedder=embedder)
