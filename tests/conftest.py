"""Shared fixtures: the real model (loaded once), real Chroma stores in temporary folders."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "articles"
SEED_QUESTION = "Where will the Ukraine support command be based?"
WIESBADEN_ID = "002_97a7c6ca049e9223"


@pytest.fixture(scope="session")
def embedder():
    from core.embeddings import SentenceEmbedder

    return SentenceEmbedder.from_name(None)


@pytest.fixture(scope="session")
def seed_engine(tmp_path_factory, embedder):
    """An engine over a copy of the seed articles, indexed once for the session."""
    from core.config import Settings
    from qa.engine import Engine

    root = tmp_path_factory.mktemp("seed")
    articles = root / "articles"
    shutil.copytree(ARTICLES, articles)
    settings = Settings(articles_dir=str(articles), index_dir=str(root / "index"))
    return Engine(settings, embedder=embedder)


@pytest.fixture(scope="session")
def seed_evaluation(seed_engine):
    """`eval_questions/seed.jsonl` asked once a session over the seed engine: evaluate()'s
    metrics and rows, shared by the tests that check or compare with them."""
    from qa.eval import DEFAULT_FILE, evaluate, load_cases

    return evaluate(seed_engine, load_cases(DEFAULT_FILE))


@pytest.fixture
def make_engine(tmp_path, embedder):
    """A factory for engines over a fresh, empty index (auto-index off unless asked)."""
    from core.config import Settings
    from qa.engine import Engine

    def make(articles_dir: Path | None = None, auto_index: bool = False, **kw):
        articles_dir = articles_dir or (tmp_path / "articles")
        articles_dir.mkdir(parents=True, exist_ok=True)
        settings = Settings(articles_dir=str(articles_dir), index_dir=str(tmp_path / "index"),
                            **kw)
        return Engine(settings, embedder=embedder, auto_index=auto_index)

    return make


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc) -> None:
    """Stop a server the tests started: politely, then for sure."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def article_file_text(article_id: str) -> str:
    return (ARTICLES / f"{article_id}.txt").read_text(encoding="utf-8")


# The end-to-end tier: tests that load the real model or reader, start processes (the CLI, the
# app, `chroma run`, a child ingest to kill) or drive the browser. The rest is the fast tier
# (`make test-fast`: the fake embedder, real Chroma in a temporary folder, in-process calls).
E2E_FIXTURES = {"embedder", "seed_engine", "make_engine", "app_url", "chroma_url"}
E2E_MODULES = {"test_reader", "test_faults", "test_recovery", "test_live_index", "test_eval",
               "test_backends", "test_embed_worker", "test_server", "test_app", "test_load"}


def pytest_collection_modifyitems(items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in E2E_MODULES or E2E_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.e2e)
