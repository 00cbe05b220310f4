"""Bounds on what a client makes the server compute or send back, each a setting with a clear
message. Fast tier: the fake embedder and a real Chroma store."""

from __future__ import annotations

import pytest

from core.errors import InvalidQuestion


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from core.config import Settings
    from qa.engine import Engine
    from tests.fakes import FakeEmbedder

    root = tmp_path_factory.mktemp("bounds")
    articles = root / "articles"
    articles.mkdir()
    # one 2 MB line, as a badly exported article gives: no sentence ends in it
    (articles / "runon.txt").write_text(
        "Run-on report\n\n" + "the gravel barge crossed the lagoon " * 55_000
        + "and the zorblax beacon stood on Quimper pier", encoding="utf-8")
    (articles / "short.txt").write_text("Short report\n\nThe ferry to Ouessant leaves at nine.",
                                        encoding="utf-8")
    settings = Settings(articles_dir=str(articles), index_dir=str(root / "index"),
                        max_quote_chars=500, max_question_chars=300,
                        max_history_messages=4, max_message_chars=200)
    return Engine(settings, embedder=FakeEmbedder(), auto_index=True)


def test_a_run_on_line_gives_a_quote_of_bounded_length(engine):
    answer = engine.ask("Where did the zorblax beacon stand?")
    assert answer.citations, answer.text
    assert all(len(c.quote) <= 502 for c in answer.citations)
    assert len(answer.text) < 600 * len(answer.citations) + 200
    assert all(c.quote in answer.text for c in answer.citations)


def test_a_huge_question_is_refused_before_any_work(engine):
    with pytest.raises(InvalidQuestion, match="the limit is 300"):
        engine.ask("why " * 5_000_000)  # 20 MB


def test_a_huge_history_is_read_only_to_its_bounds(engine):
    from qa.conversation import validate_history

    history = [{"role": "user", "content": "x" * 1_000_000}] * 10_000
    kept = validate_history(history, engine.settings.max_history_messages,
                            engine.settings.max_message_chars)
    assert len(kept) == 4 and all(len(m["content"]) == 200 for m in kept)
    assert "Ouessant" in engine.ask("When does the ferry leave?", history=history).text
