"""What a user sees from ask(): the answer, its citations, its abstentions, its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.errors import InvalidQuestion
from tests.conftest import ROOT, SEED_QUESTION, WIESBADEN_ID, article_file_text


def test_seed_question_is_answered_with_wiesbaden_and_a_verbatim_citation(seed_engine):
    answer = seed_engine.ask(SEED_QUESTION)
    assert not answer.abstained
    assert "Wiesbaden" in answer.text and "[1]" in answer.text
    first = answer.citations[0]
    assert first.number == 1 and first.article_id == WIESBADEN_ID
    assert "headquartered at a U.S. facility in Wiesbaden, Germany" in first.quote
    assert first.quote in article_file_text(WIESBADEN_ID)
    assert first.title and first.score > 0


def test_every_marker_has_its_citation_in_order(seed_engine):
    answer = seed_engine.ask("What did defence ministers in Brussels focus their discussions on?")
    markers = [int(m) for m in __import__("re").findall(r"\[(\d+)\]", answer.text)]
    assert markers == [c.number for c in answer.citations] == list(range(1, len(markers) + 1))
    for c in answer.citations:
        assert c.quote in article_file_text(c.article_id)


def test_follow_up_is_answered_from_the_same_story(seed_engine):
    history = [{"role": "user", "content": SEED_QUESTION},
               {"role": "assistant", "content": seed_engine.ask(SEED_QUESTION).text}]
    answer = seed_engine.ask("How many people will it involve?", history=history)
    assert not answer.abstained
    assert "700" in answer.text and answer.citations[0].article_id == WIESBADEN_ID


def test_answer_that_needs_the_previous_sentence_quotes_both(seed_engine):
    answer = seed_engine.ask("What do the structural reforms of Ukraine's armed forces include?")
    assert "professionalization" in answer.text
    assert "structural reforms" in answer.citations[0].quote  # the sentence "This" refers to


@pytest.mark.parametrize("question", [
    "What happened in the aftermath of the major fire in La Cala, Benidorm?",
    "What did the Supreme Court rule about Judge Tuleya and immunity?",
    "What was the score of the Spain-Germany World Cup match?",
    "Who won the 2024 US presidential election?",
])
def test_questions_the_articles_do_not_answer_are_abstained(seed_engine, question):
    answer = seed_engine.ask(question)
    assert answer.abstained and answer.citations == []
    assert "don't cover" in answer.text


@pytest.mark.parametrize(("question", "message"), [
    ("", "empty"), ("   \n\t ", "empty"), ("x" * 5000, "limit is 2000"), ("?!…", "no words"),
    (None, "must be text"),
])
def test_bad_questions_raise_a_clear_domain_error(seed_engine, question, message):
    with pytest.raises(InvalidQuestion, match=message):
        seed_engine.ask(question)


def test_bad_history_is_a_clear_error(seed_engine):
    with pytest.raises(InvalidQuestion, match="history"):
        seed_engine.ask(SEED_QUESTION, history="not a list")
    with pytest.raises(InvalidQuestion, match="role"):
        seed_engine.ask(SEED_QUESTION, history=[{"who": "me"}])


def test_control_characters_are_ignored(seed_engine):
    answer = seed_engine.ask("Where will the\x00 Ukraine support\u200b command be based?\x07")
    assert "Wiesbaden" in answer.text


def test_empty_index_abstains_instead_of_failing(make_engine):
    engine = make_engine()
    answer = engine.ask(SEED_QUESTION)
    assert answer.abstained and "no articles" in answer.text


def _cli(args, index_dir, **env):
    full_env = dict(os.environ, QA_INDEX_DIR=str(index_dir), **env)
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=300)


def test_cli_prints_reply_and_numbered_sources(seed_engine):
    run = _cli([SEED_QUESTION], seed_engine.settings.index_dir,
               QA_ARTICLES_DIR=seed_engine.settings.articles_dir)
    assert run.returncode == 0, run.stderr
    assert "Wiesbaden" in run.stdout and "Sources:" in run.stdout
    assert f"[1] {WIESBADEN_ID}" in run.stdout


def test_cli_json_is_the_answer(seed_engine):
    run = _cli(["--json", SEED_QUESTION], seed_engine.settings.index_dir,
               QA_ARTICLES_DIR=seed_engine.settings.articles_dir)
    data = json.loads(run.stdout)
    assert data["abstained"] is False and data["citations"][0]["article_id"] == WIESBADEN_ID


def test_cli_bad_question_is_one_line_and_exit_2(seed_engine):
    run = _cli(["   "], seed_engine.settings.index_dir,
               QA_ARTICLES_DIR=seed_engine.settings.articles_dir)
    assert run.returncode == 2
    assert run.stderr.strip().startswith("error: the question is empty")
    assert "Traceback" not in run.stderr and run.stderr.strip().count("\n") == 0


def test_first_ask_builds_a_missing_index(tmp_path, embedder):
    from core.config import Settings
    from qa.engine import Engine
    from tests.conftest import ARTICLES

    engine = Engine(Settings(articles_dir=str(ARTICLES), index_dir=str(tmp_path / "idx")),
                    embedder=embedder)
    assert engine.store.chunks.count() > 20
    assert "Wiesbaden" in engine.ask(SEED_QUESTION).text
