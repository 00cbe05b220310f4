"""`python -m qa.eval [FILE ...] [--json PATH]`: how right, how honest and how fast the answers are.

Each line of a question file is a JSON object: `question`, `answer_contains` (any of these
strings must appear in the reply), `article_ids` (where the answer is), `abstain` (true when
the articles cannot answer), optionally `history` (earlier messages) and `kind` (a label).

`--withhold` asks each answerable question a second time with the articles that answer it left
out of retrieval: with only passages that do not hold the answer, an honest system abstains (or
answers from another article that says the same).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.config import PROJECT_ROOT
from core.errors import NewsQAError

ROOT_QUESTIONS = PROJECT_ROOT / "eval_questions"
DEFAULT_FILE = ROOT_QUESTIONS / "seed.jsonl"


@dataclass
class Case:
    question: str
    answer_contains: list[str]
    article_ids: list[str]
    abstain: bool
    history: list[dict] = field(default_factory=list)
    kind: str = ""
    since: str | None = None
    until: str | None = None


def load_cases(path: Path) -> list[Case]:
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            cases.append(Case(d["question"], list(d.get("answer_contains", [])),
                              list(d.get("article_ids", [])), bool(d.get("abstain", False)),
                              list(d.get("history", [])), d.get("kind", ""),
                              d.get("since"), d.get("until")))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise NewsQAError(f"{path}:{n}: not a question record ({e})") from e
    return cases


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def source_text(store, article_id: str, cache: dict[str, str]) -> str:
    """The article's text as its file holds it, to check quotes against."""
    if article_id in cache:
        return cache[article_id]
    got = store.get(where={"article_id": article_id}, limit=1)
    text = ""
    if got["ids"]:
        path = Path(got["metadatas"][0].get("path", ""))
        if path.is_file():
            raw = path.read_text(encoding="utf-8-sig")
            if path.suffix.lower() in (".json", ".jsonl"):
                from index.loaders import load_file

                for art in load_file(path):
                    if getattr(art, "id", None) == article_id:
                        text = "\n".join(p.text for p in art.paragraphs)
            elif path.suffix.lower() in (".html", ".htm"):
                from index.html import extract_html

                text = "\n".join(extract_html(raw).blocks)
            else:
                text = raw
    cache[article_id] = text
    return text


class Withholding:
    """The engine's retrieval with some articles left out, as if they were not indexed: the
    fused chunks of a search three times as wide, less the left-out articles', cut back to the
    engine's number. (The keyword side keeps its own width, so a left-out article's chunks
    among its best leave it a few short.)"""

    def __init__(self, engine) -> None:
        from qa.retrieval import HybridRetriever

        snap = engine.snapshot
        self.top_k = engine.top_k
        self.wide = HybridRetriever(engine.store, snap.keyword, 3 * engine.top_k)
        self.left_out: set[str] = set()

    def retrieve(self, query: str, embedding: list[float], since: int | None = None,
                 until: int | None = None) -> list:
        nodes = self.wide.retrieve(query, embedding, since, until)
        return [n for n in nodes
                if n.node.metadata.get("article_id") not in self.left_out][:self.top_k]


@contextmanager
def withheld(engine, withholding: Withholding, article_ids: list[str]):
    """Answers from the engine's current snapshot without these articles, while inside."""
    snap = engine.snapshot
    withholding.left_out = set(article_ids)
    engine._swap(replace(snap, retriever=withholding))  # the engine's own way to swap one in
    try:
        yield
    finally:
        engine._swap(snap)


WARM_UP = "warm-up question about NATO"  # asked first by evaluate(), not measured


def evaluate(engine, cases: list[Case], system=None, withhold: bool = False) -> dict:
    """Run every case through a system (default: the engine itself; or a baseline over the
    engine's index); return the metrics and one row per case. With `withhold`, each answerable
    case is asked again without the articles that answer it (see the module's docstring)."""
    system = system or engine
    withholding = Withholding(engine) if withhold else None
    system.trace(WARM_UP)  # load caches, first-call costs
    rows, latencies, embed_latencies = [], [], []
    texts: dict[str, str] = {}
    for c in cases:
        t0 = time.perf_counter()
        answer, retrieved = system.trace(c.question, history=c.history or None,
                                         since=c.since, until=c.until)
        latencies.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.embedder.encode([c.question])
        embed_latencies.append(time.perf_counter() - t0)
        reply = answer.text.lower()
        if c.abstain:
            correct = answer.abstained
        else:
            correct = not answer.abstained and any(s.lower() in reply for s in c.answer_contains)
        first_ok = bool(answer.citations) and answer.citations[0].article_id in c.article_ids
        rank = next((i + 1 for i, a in enumerate(retrieved) if a in c.article_ids), None)
        quotes_ok = [cit.quote in source_text(engine.store, cit.article_id, texts)
                     for cit in answer.citations]
        precise = [cit.article_id in c.article_ids for cit in answer.citations]
        rows.append({
            "question": c.question, "kind": c.kind, "expected_abstain": c.abstain,
            "abstained": answer.abstained, "correct": correct, "first_citation_ok": first_ok,
            "rank": rank, "support": answer.support, "quotes_verbatim": all(quotes_ok),
            "n_quotes": len(quotes_ok), "quotes_ok": sum(quotes_ok),
            "citations_on_target": sum(precise), "reply": answer.text,
            "latency_ms": latencies[-1] * 1000,
            "cited": [cit.article_id for cit in answer.citations],
        })
        if withholding is not None and not c.abstain and c.article_ids:
            with withheld(engine, withholding, c.article_ids):
                other, _ = system.trace(c.question, history=c.history or None,
                                        since=c.since, until=c.until)
            said = other.text.lower()
            rows[-1]["withheld_abstained"] = other.abstained
            rows[-1]["withheld_answered_elsewhere"] = not other.abstained and any(
                s.lower() in said for s in c.answer_contains)
    return {"metrics": metrics(rows, latencies, embed_latencies), "rows": rows}


def metrics(rows: list[dict], latencies: list[float], embed_latencies: list[float]) -> dict:
    answerable = [r for r in rows if not r["expected_abstain"]]
    unanswerable = [r for r in rows if r["expected_abstain"]]
    abstained = [r for r in rows if r["abstained"]]
    ranks = [r["rank"] for r in answerable]

    def share(xs) -> float:
        xs = list(xs)
        return sum(xs) / len(xs) if xs else 0.0

    supports_a = [r["support"] for r in answerable if not r["abstained"]]
    supports_u = [r["support"] for r in unanswerable]
    p50, emb50 = percentile(latencies, 50), percentile(embed_latencies, 50)
    withheld_rows = [r for r in rows if "withheld_abstained" in r]
    return {
        # asked without the articles that answer: abstained, or answered from another that
        # says the same (reported only with --withhold)
        "withheld": len(withheld_rows),
        "withheld_right": share(r["withheld_abstained"] or r["withheld_answered_elsewhere"]
                                for r in withheld_rows) if withheld_rows else None,
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_accuracy": share(r["correct"] for r in rows),
        "answer_accuracy_answerable": share(r["correct"] for r in answerable),
        "first_citation_accuracy": share(r["first_citation_ok"] for r in answerable),
        "hit@1": share(k is not None and k <= 1 for k in ranks),
        "hit@3": share(k is not None and k <= 3 for k in ranks),
        "hit@5": share(k is not None and k <= 5 for k in ranks),
        "mrr": share((1 / k) if k else 0.0 for k in ranks),
        "abstention_precision": share(r["expected_abstain"] for r in abstained) if abstained
        else None,  # it never abstained: no precision to speak of
        "abstention_recall": share(r["abstained"] for r in unanswerable) if unanswerable
        else 1.0,
        "quotes_verbatim": share(r["quotes_verbatim"] for r in rows if r["n_quotes"]),
        "citation_precision": (sum(r["citations_on_target"] for r in answerable)
                               / max(1, sum(r["n_quotes"] for r in answerable))),
        "quote_fidelity": (sum(r["quotes_ok"] for r in rows)
                           / max(1, sum(r["n_quotes"] for r in rows))),
        "latency_p50_ms": p50 * 1000,
        "latency_p95_ms": percentile(latencies, 95) * 1000,
        "embed_p50_ms": emb50 * 1000,
        "p50_over_embed": p50 / emb50 if emb50 else 0.0,
        "min_support_answered": min(supports_a) if supports_a else None,
        "max_support_unanswerable": max(supports_u) if supports_u else None,
    }


def format_report(name: str, m: dict) -> str:
    pct = ("answer_accuracy", "answer_accuracy_answerable", "first_citation_accuracy",
           "citation_precision", "quote_fidelity", "hit@1", "hit@3", "hit@5",
           "abstention_precision", "abstention_recall")
    lines = [f"{name}: {m['questions']} questions ({m['answerable']} answerable, "
             f"{m['unanswerable']} not)"]
    for key in pct:
        lines.append(f"  {key:<28} " + ("   n/a" if m[key] is None else f"{m[key] * 100:6.1f} %"))
    lines.append(f"  {'mrr':<28} {m['mrr']:8.3f}")
    if m["withheld_right"] is not None:
        lines.append(f"  {'withheld: right':<28} {m['withheld_right'] * 100:6.1f} % of "
                     f"{m['withheld']} asked without their answer")
    lines.append(f"  {'latency p50 / p95':<28} {m['latency_p50_ms']:6.1f} / "
                 f"{m['latency_p95_ms']:.1f} ms")
    lines.append(f"  {'query embedding p50':<28} {m['embed_p50_ms']:6.1f} ms "
                 f"(ask p50 = {m['p50_over_embed']:.1f}x)")
    if m["min_support_answered"] is not None and m["max_support_unanswerable"] is not None:
        lines.append(f"  {'support: answered min':<28} {m['min_support_answered']:.3f}; "
                     f"unanswerable max {m['max_support_unanswerable']:.3f}")
    return "\n".join(lines)


def _temporary_engine(articles: Path, index_dir: Path | None = None):
    """An engine over its own index of the given articles: a throw-away one, or `index_dir`,
    kept between runs (an unchanged article is not embedded again)."""
    import tempfile

    from core.config import Settings
    from qa.engine import Engine

    if not articles.exists():
        raise NewsQAError(f"articles path {str(articles)!r} does not exist")
    folder = str(index_dir) if index_dir else tempfile.mkdtemp(prefix="newsqa-eval-")
    engine = Engine(Settings.from_env(articles_dir=str(articles), index_dir=folder,
                                      chroma_url=None), auto_index=False)
    engine.ingest([str(articles)], progress=False)
    return engine


SYSTEM = "newsqa"
COMPARED = ("answer_accuracy", "first_citation_accuracy", "citation_precision", "quote_fidelity",
            "hit@1", "hit@3", "hit@5", "mrr", "abstention_precision", "abstention_recall",
            "withheld_right", "latency_p50_ms", "latency_p95_ms")


def format_comparison(name: str, by_system: dict[str, dict]) -> str:
    """One table: a row per measure, a column per system."""
    systems = list(by_system)
    width = max(12, *(len(s) for s in systems))
    lines = [f"{name}: {next(iter(by_system.values()))['metrics']['questions']} questions",
             f"  {'':<26}" + "".join(f"{s:>{width + 2}}" for s in systems)]
    for key in COMPARED:
        cells = []
        for s in systems:
            v = by_system[s]["metrics"][key]
            cells.append("n/a" if v is None else f"{v:.1f} ms" if key.endswith("_ms") else
                         f"{v:.3f}" if key == "mrr" else f"{v * 100:.1f} %")
        lines.append(f"  {key:<26}" + "".join(f"{c:>{width + 2}}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.eval", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path,
                        help=f"question files (default {DEFAULT_FILE.name})")
    parser.add_argument("--json", type=Path, help="write metrics and per-question rows here")
    parser.add_argument("--report", type=Path, help="write a self-contained HTML report here")
    parser.add_argument("--compare", action="store_true",
                        help="also run the keyword-only and dense-only baselines")
    parser.add_argument("--show-misses", action="store_true", help="print each wrong answer")
    parser.add_argument("--withhold", action="store_true",
                        help="also ask each answerable question without the articles that "
                             "answer it, and count the abstentions")
    parser.add_argument("--articles", type=Path,
                        help="answer from these articles (a file or folder), indexed into a "
                             "temporary store, instead of the configured index")
    parser.add_argument("--index-dir", type=Path,
                        help="with --articles: keep that index in this folder and reuse it")
    args = parser.parse_args(argv)
    files = args.files or [DEFAULT_FILE]
    try:
        for f in files:
            if not f.is_file():
                raise NewsQAError(f"question file {str(f)!r} does not exist")
        if args.articles:
            engine = _temporary_engine(args.articles, args.index_dir)
        else:
            from qa import default_engine

            engine = default_engine()
        systems: dict[str, object] = {SYSTEM: engine}
        if args.compare:
            from qa.baselines import (
                DenseBaseline,
                HandWeightedBaseline,
                KeywordBaseline,
                other_mode,
            )

            for baseline in (other_mode(engine), HandWeightedBaseline(engine),
                             KeywordBaseline(engine), DenseBaseline(engine)):
                systems[baseline.name] = baseline
        results: dict[str, dict[str, dict]] = {}
        for f in files:
            cases = load_cases(f)
            results[str(f)] = {
                name: evaluate(engine, cases, system,
                               args.withhold and getattr(system, "withholds", True))
                for name, system in systems.items()}
    except NewsQAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, by_system in results.items():
        if args.compare:
            print(format_comparison(name, by_system))
        else:
            print(format_report(name, by_system[SYSTEM]["metrics"]))
        if args.show_misses:
            for r in by_system[SYSTEM]["rows"]:
                if not r["correct"] or not r["quotes_verbatim"]:
                    print(f"  MISS [{r['kind']}] {r['question']} -> support={r['support']:.3f} "
                          f"{r['reply'][:160]}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    if args.report:
        from qa.report import html_report

        args.report.write_text(html_report(results, engine.reader.threshold), encoding="utf-8")
        print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
