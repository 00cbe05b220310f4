"""The int8 ONNX backend: built here from the packaged weights, as right as torch on the seed
questions, and an index is only ever read with the backend that built it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ARTICLES, ROOT, WIESBADEN_ID


@pytest.fixture(scope="module")
def int8_engine(tmp_path_factory):
    from core.config import Settings
    from qa.engine import Engine

    root = tmp_path_factory.mktemp("int8")
    shutil.copytree(ARTICLES, root / "articles")
    settings = Settings(articles_dir=str(root / "articles"), index_dir=str(root / "index"),
                        embed_backend="onnx-int8")
    return Engine(settings)


def test_int8_backend_answers_the_seed_questions_as_well_as_torch(int8_engine, seed_evaluation):
    from qa.eval import DEFAULT_FILE, evaluate, load_cases

    cases = load_cases(DEFAULT_FILE)
    int8 = evaluate(int8_engine, cases)["metrics"]
    torch = seed_evaluation["metrics"]
    assert int8["hit@5"] == torch["hit@5"]
    assert int8["answer_accuracy"] >= 0.95 and int8["abstention_recall"] == 1.0
    answer = int8_engine.ask("Where will the Ukraine support command be based?")
    assert "Wiesbaden" in answer.text and answer.citations[0].article_id == WIESBADEN_ID
    assert int8_engine.embedder.model_label == "all-MiniLM-L6-v2+onnx-int8"
    [copy] = list((Path(int8_engine.settings.index_dir) / "models").glob("*-int8.onnx"))
    assert copy.stat().st_size < 40_000_000  # int8: about a quarter of the float weights


def test_an_index_is_refused_by_the_other_backend_with_how_to_rebuild(int8_engine, embedder):
    from core.errors import IndexMismatch
    from qa.engine import Engine

    with pytest.raises(IndexMismatch) as caught:
        Engine(int8_engine.settings, embedder=embedder)  # the torch model
    message = str(caught.value)
    assert "onnx-int8" in message and "QA_EMBED_BACKEND" in message
    assert "python -m index --reset" in message

    env = dict(os.environ, QA_INDEX_DIR=int8_engine.settings.index_dir,
               QA_ARTICLES_DIR=int8_engine.settings.articles_dir, QA_EMBED_BACKEND="torch")
    run = subprocess.run([sys.executable, "-m", "qa", "Where is the command?"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.startswith("error: the index") and "Traceback" not in run.stderr
    assert "python -m index --reset" in run.stderr


def test_an_unknown_backend_is_a_clear_error(tmp_path):
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_EMBED_BACKEND="cuda")
    run = subprocess.run([sys.executable, "-m", "qa", "Where is the command?"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "QA_EMBED_BACKEND='cuda'" in run.stderr and "onnx-int8" in run.stderr
