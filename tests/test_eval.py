"""The measured figures of the seed question set hold (accuracy, honesty, verbatim quotes)."""

from __future__ import annotations

from qa.eval import DEFAULT_FILE, evaluate, load_cases


def test_seed_question_set_meets_its_bar(seed_evaluation):
    cases = load_cases(DEFAULT_FILE)
    assert len(cases) >= 40 and sum(c.abstain for c in cases) >= 8
    result = seed_evaluation
    assert len(result["rows"]) == len(cases)
    m = result["metrics"]
    misses = [r["question"] for r in result["rows"] if not r["correct"]]
    assert m["answer_accuracy"] >= 0.95, misses
    assert m["abstention_recall"] == 1.0, misses
    assert m["quotes_verbatim"] == 1.0
    assert m["first_citation_accuracy"] >= 0.9


def test_compare_puts_the_pipeline_ahead_of_both_baselines_and_reports(seed_engine,
                                                                       seed_evaluation):
    from qa.baselines import DenseBaseline, KeywordBaseline
    from qa.eval import ROOT_QUESTIONS, SYSTEM
    from qa.report import html_report

    results = {}
    for name in ("seed.jsonl", "conversations.jsonl"):
        cases = load_cases(ROOT_QUESTIONS / name)
        systems = {SYSTEM: seed_engine, "keyword": KeywordBaseline(seed_engine),
                   "dense": DenseBaseline(seed_engine)}
        results[name] = {n: seed_evaluation if (n, name) == (SYSTEM, "seed.jsonl")
                         else evaluate(seed_engine, cases, s) for n, s in systems.items()}
        ours = results[name][SYSTEM]["metrics"]
        for base in ("keyword", "dense"):
            theirs = results[name][base]["metrics"]
            assert ours["answer_accuracy"] > theirs["answer_accuracy"], (name, base)
            assert ours["mrr"] > theirs["mrr"], (name, base)
    page = html_report(results, seed_engine.weights.threshold)
    assert page.count("<svg") == 4 and "abstain below" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page


def test_withholding_the_answering_article_leaves_an_abstention(seed_engine):
    """`--withhold`: asked without the one article that says where the command will be, the
    system abstains; the index answers whole again afterwards."""
    from qa.eval import Case

    case = Case("Where will the new NATO command for Ukraine be headquartered?", ["Wiesbaden"],
                ["002_97a7c6ca049e9223"], False)
    result = evaluate(seed_engine, [case], withhold=True)
    row = result["rows"][0]
    assert row["correct"], row["reply"]
    assert row["withheld_abstained"] and not row["withheld_answered_elsewhere"]
    assert result["metrics"]["withheld_right"] == 1.0
    assert "Wiesbaden" in seed_engine.ask(case.question).text
