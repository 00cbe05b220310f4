"""The measured figures of the seed question set hold (accuracy, honesty, verbatim quotes)."""

from __future__ import annotations

from qa.eval import DEFAULT_FILE, evaluate, load_cases


def test_seed_question_set_meets_its_bar(seed_engine):
    cases = load_cases(DEFAULT_FILE)
    assert len(cases) >= 40 and sum(c.abstain for c in cases) >= 8
    result = evaluate(seed_engine, cases)
    m = result["metrics"]
    misses = [r["question"] for r in result["rows"] if not r["correct"]]
    assert m["answer_accuracy"] >= 0.95, misses
    assert m["abstention_recall"] == 1.0, misses
    assert m["quotes_verbatim"] == 1.0
    assert m["first_citation_accuracy"] >= 0.9
