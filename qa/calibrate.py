"""`python -m qa.calibrate QUESTIONS:ARTICLES ...`: set the reader's abstention threshold on news
questions.

    python -m qa.calibrate eval_questions/reader-seed-dev.jsonl:articles \\
        eval_questions/reader-news-dev.jsonl:eval_questions/corpus \\
        eval_questions/reader-news-dev-b.jsonl:eval_questions/corpus    # or: make calibrate

`python -m qa.train` sets a threshold on its own calibration split, SQuAD and SelQA passages; on
news that threshold is far too low (the reader is more cautious there, so almost nothing falls
under it). This command runs the real pipeline (retrieval, the hand-ranked candidates, the
reader) over question sets kept for calibration, which are never reported as results, and
writes into `qa/models/reader.json` the threshold that makes the most of their questions right
(an answer holding an expected string, or an abstention where one is expected). The SQuAD
threshold stays in the card as `squad_threshold`.

`--check SETS...` also reports, at that threshold, how right the reader is on other question
sets (ones already reported, say): 139 calibration questions tell two readers apart no better
than by about 4 points, so a candidate reader is judged on more questions than set its
threshold. `--model FILE.onnx` measures another reader file (a training run's) instead of the
shipped one; without `--dry-run` its threshold goes into the card beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from qa.reader import CARD_FILE


def index_dir_for(articles: str) -> Path:
    """The kept index of an evaluation corpus (make eval uses the same folders)."""
    return Path("build") / ("index-" + "".join(c if c.isalnum() else "_" for c in articles))


def candidates(engine, question: str):
    """The composer's reads (qa.reading.Read) of one question's candidates, best first."""
    from qa.engine import clean_question
    from qa.evidence import gather

    text = clean_question(question)
    q_vec = engine.embedder.encode([text])[0]
    nodes = engine.retriever.retrieve(text, q_vec.tolist(), None, None)
    scored = engine.answerer.score(text, np.asarray(q_vec), gather(engine.store, nodes))
    return engine.composer.read(text, scored)


def best_reads(sets: list[str], reader=None) -> list[tuple[float, bool, bool]]:
    """For each question of the sets: the best candidate's score, whether its quote holds an
    expected answer, and whether an abstention is expected."""
    from qa.answering import _span, quote_for
    from qa.eval import _temporary_engine, load_cases

    results = []
    for spec in sets:
        questions, _, articles = spec.partition(":")
        articles = articles or "articles"
        engine = _temporary_engine(Path(articles), index_dir_for(articles))
        if reader is not None:
            engine.composer.reader = reader
        engine.composer.sure = 2.0  # read every candidate: the best one, not the first sure one
        for case in load_cases(Path(questions)):
            reads = candidates(engine, case.question)
            if not reads:
                results.append((0.0, False, case.abstain))
                continue
            best = reads[0]
            group = _span(best.scored, [r.scored for r in reads], engine.answerer.weights)
            quote = quote_for(group if best.evidence in group else [best.evidence]).lower()
            holds = any(s.lower() in quote for s in case.answer_contains)
            results.append((best.score, holds, case.abstain))
    return results


def figures_at(results: list[tuple[float, bool, bool]], t: float) -> dict:
    """How right a threshold is on these questions: answers holding an expected string and
    abstentions where one is expected, abstention precision and recall, and how often an
    answerable question's best candidate holds its answer before any threshold."""
    p = np.array([r[0] for r in results])
    holds = np.array([r[1] for r in results], dtype=bool)
    abstain = np.array([r[2] for r in results], dtype=bool)
    answered = p >= t
    return {
        "questions": len(results), "threshold": t,
        "right": round(float(np.where(abstain, ~answered, answered & holds).mean()), 4),
        "abstain_precision": round(float((~answered & abstain).sum() / max((~answered).sum(), 1)),
                                   4),
        "abstain_recall": round(float((~answered & abstain).sum() / max(abstain.sum(), 1)), 4),
        "ranked_right": round(float(holds[~abstain].mean()) if (~abstain).any() else 0.0, 4),
    }


def main(argv: list[str] | None = None) -> int:
    from qa.reader import Reader

    ap = argparse.ArgumentParser(prog="python -m qa.calibrate", description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="+", help="QUESTIONS.jsonl:ARTICLES (a file or folder)")
    ap.add_argument("--card", type=Path, default=None,
                    help=f"the card to write (default: {CARD_FILE.name} beside the model)")
    ap.add_argument("--model", type=Path, default=None, metavar="FILE.onnx",
                    help="measure this reader file instead of the shipped one")
    ap.add_argument("--check", nargs="+", default=[], metavar="QUESTIONS.jsonl:ARTICLES",
                    help="also report the chosen threshold's figures on these sets")
    ap.add_argument("--dry-run", action="store_true", help="print, do not write the card")
    args = ap.parse_args(argv)
    reader = Reader(args.model, card={}) if args.model else None
    card_path = args.card or (args.model.with_name(CARD_FILE.name) if args.model else CARD_FILE)
    results = best_reads(args.sets, reader)

    grid = np.round(np.linspace(0.02, 1.98, 99), 2)  # the score is p + support: 0 to 2

    def right(t: float) -> float:
        return figures_at(results, float(t))["right"]

    top = max(right(t) for t in grid)
    plateau = [float(t) for t in grid if right(t) >= top - 1e-9]
    # ties go to the lowest: between equally right thresholds, answering (with a quote the
    # user can check) is preferred to abstaining
    best_t = round(min(plateau), 2)
    at = figures_at(results, best_t)
    figures = {
        "questions": len(results), "threshold": best_t, "right": at["right"],
        "abstain_precision": at["abstain_precision"], "abstain_recall": at["abstain_recall"],
        "best_range": [min(plateau), max(plateau)],
        "curve": {f"{t:.2f}": right(t) for t in grid[::5]},
        "sets": args.sets,
    }
    if args.model:
        figures["model"] = str(args.model)
    if args.check:
        figures["check"] = figures_at(best_reads(args.check, reader), best_t) | {
            "sets": args.check}
    print(json.dumps(figures, indent=2))
    if not args.dry_run:
        card = json.loads(card_path.read_text())
        card.setdefault("squad_threshold", card.get("threshold"))
        card["threshold"] = best_t
        card["news_calibration"] = {k: v for k, v in figures.items() if k != "check"}
        card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
