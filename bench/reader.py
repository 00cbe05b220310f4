"""`python -m bench.reader`: the reader read one candidate at a time against in batches: how long
each takes, and how much a candidate's probability moves with the batch it is read in.

    python -m bench.reader                 # the seed questions against the seed articles' sentences
    python -m bench.reader --repeat 5 --batch 8

For each question of `eval_questions/seed.jsonl`, the 24 sentences of the seed articles that
share the most words with it are read three ways: one at a time, in batches of `--batch` in
that order, and in batches of the same size after a shuffle. The int8 model quantizes its
activations with one scale per tensor, so a batch's rows (and their padding) change each other's
results; one at a time, a sentence always gets the same verdict. Timings are medians over
`--repeat` passes in one run, so the ratio is fair on a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from core.sentences import sentence_spans
from qa.reader import MODEL_FILE, Reader
from qa.terms import content_terms


def seed_candidates(articles: Path, k: int = 24):
    """(question, [(sentence, title, before, after)]) for each seed question: the articles as
    ingest reads them (index.loaders), their sentences ranked by the content terms they share
    with the question (qa.terms, as the keyword index counts them)."""
    from index.loaders import load_articles

    pool = []
    for article in load_articles([articles])[0]:
        text = article.text
        sents = [text[a:b] for a, b in sentence_spans(text)]
        for i, s in enumerate(sents):
            pool.append((s, article.title, sents[i - 1] if i else "",
                         sents[i + 1] if i + 1 < len(sents) else ""))
    terms = [set(content_terms(c[0])) for c in pool]
    questions = [json.loads(line)["question"]
                 for line in Path("eval_questions/seed.jsonl").read_text().splitlines() if line]
    for q in questions:
        qt = set(content_terms(q))
        ranked = sorted(range(len(pool)), key=lambda i: -len(qt & terms[i]))
        yield q, [pool[i] for i in ranked[:k]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.reader", description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=MODEL_FILE)
    ap.add_argument("--articles", type=Path, default=Path("articles"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    reader = Reader(args.model, card={"threshold": 0.5})
    cases = list(seed_candidates(args.articles))
    rng = random.Random(3)
    timings: dict[str, list[float]] = {"one at a time": [], f"batches of {args.batch}": []}
    moved, moved_shuffled, crossed = [], [], 0
    for _ in range(args.repeat):
        single_t = batch_t = 0.0
        for q, cands in cases:
            t = time.perf_counter()
            single = reader.read(q, cands, batch_size=1)
            single_t += time.perf_counter() - t
            t = time.perf_counter()
            batched = reader.read(q, cands, batch_size=args.batch)
            batch_t += time.perf_counter() - t
            order = list(range(len(cands)))
            rng.shuffle(order)
            shuffled = reader.read(q, [cands[i] for i in order], batch_size=args.batch)
            for k, i in enumerate(order):
                moved_shuffled.append(abs(shuffled[k].p_answer - batched[i].p_answer))
            for a, b in zip(single, batched, strict=True):
                moved.append(abs(a.p_answer - b.p_answer))
                crossed += (a.p_answer >= 0.5) != (b.p_answer >= 0.5)
        timings["one at a time"].append(single_t)
        timings[f"batches of {args.batch}"].append(batch_t)
    per_q = {k: float(np.median(v)) / len(cases) * 1000 for k, v in timings.items()}
    single_ms, batch_ms = per_q.values()
    print(json.dumps({
        "questions": len(cases), "candidates_each": len(cases[0][1]),
        "ms_per_question": {k: round(v, 1) for k, v in per_q.items()},
        "one_at_a_time_over_batched": round(single_ms / batch_ms, 2),
        "p_moved_by_batching": {"median": round(float(np.median(moved)), 4),
                                "p99": round(float(np.quantile(moved, 0.99)), 4),
                                "max": round(float(np.max(moved)), 4)},
        "p_moved_by_reshuffling_the_batches": {"max": round(float(np.max(moved_shuffled)), 4)},
        "verdicts_crossing_0.5_when_batched": crossed,
        "reads": len(moved),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
