"""`python -m bench.reading`: how many candidates the reader reads, against what it answers and
how fast, for two reading settings asked in turn in one process (so the ratio is fair on a noisy
machine).

    python -m bench.reading                             # seed.jsonl over the seed articles
    python -m bench.reading --articles eval_questions/corpus eval_questions/reader-news-*.jsonl
    python -m bench.reading --rounds 3 --before 24 8 0  # the setting to compare with

The default setting is `qa.reading.ReaderComposer`'s; `--before CANDIDATES STEP OTHERS` is the
other one (24 8 0: the ninth stop's, steps of 8 up to 24). Each question is asked in every round
under both settings; right, replies differing, reads per question, the latency percentiles of
all rounds and the query embedding's median print as JSON and go to bench/out/reading.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qa.calibrate import index_dir_for
from qa.eval import WARM_UP, _temporary_engine, evaluate, load_cases, percentile
from qa.reading import ReaderComposer

OUT = Path(__file__).resolve().parent / "out"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, default=[Path("eval_questions/seed.jsonl")])
    ap.add_argument("--articles", default="articles")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--before", type=int, nargs=3, default=[24, 8, 0],
                    metavar=("CANDIDATES", "STEP", "OTHERS"))
    args = ap.parse_args(argv)

    engine = _temporary_engine(Path(args.articles), index_dir_for(args.articles))
    now = ReaderComposer(engine.composer.reader, engine.composer.answerer)
    settings = {"before": tuple(args.before), "now": (now.candidates, now.step, now.others)}
    cases = [c for f in args.files for c in load_cases(f)]
    reads = {name: 0 for name in settings}
    counted = engine.composer.reader.read

    latencies: dict[str, list[float]] = {name: [] for name in settings}
    embeds: dict[str, list[float]] = {name: [] for name in settings}  # the query's, each round
    replies: dict[str, list[dict]] = {}
    for _ in range(args.rounds):
        for name, (candidates, step, others) in settings.items():
            engine.composer.candidates, engine.composer.step = candidates, step
            engine.composer.others = others

            def read(question, batch, name=name, **kw):
                reads[name] += len(batch)
                return counted(question, batch, **kw)

            engine.composer.reader.read = read
            start = reads[name]
            engine.trace(WARM_UP)
            warm = reads[name] - start
            result = evaluate(engine, cases)
            rows = result["rows"]
            embeds[name].append(result["metrics"]["embed_p50_ms"])
            reads[name] -= 2 * warm  # the warm-up question, asked above and by evaluate()
            latencies[name] += [r["latency_ms"] for r in rows]
            replies.setdefault(name, rows)
    engine.composer.reader.read = counted

    before, after = replies["before"], replies["now"]
    report = {
        "questions": len(cases), "rounds": args.rounds,
        "settings": {k: dict(zip(("candidates", "step", "others"), v, strict=True))
                     for k, v in settings.items()},
        "replies_differing": sum(a["reply"] != b["reply"] for a, b in zip(before, after,
                                                                            strict=True)),
    }
    for name in settings:
        lat = latencies[name]
        report[name] = {
            "right": sum(r["correct"] for r in replies[name]),
            "reads_per_question": round(reads[name] / (len(cases) * args.rounds), 2),
            "p50_ms": round(percentile(lat, 50), 1), "p95_ms": round(percentile(lat, 95), 1),
            "query_embedding_p50_ms": round(percentile(embeds[name], 50), 1),
        }
    report["p50_ratio"] = round(report["now"]["p50_ms"] / report["before"]["p50_ms"], 3)
    report["p95_ratio"] = round(report["now"]["p95_ms"] / report["before"]["p95_ms"], 3)
    OUT.mkdir(exist_ok=True)
    (OUT / "reading.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
