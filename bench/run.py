"""Benchmark (not a test): ingest throughput against the embedding model's own, the plain
llama-index ingest as the peer, ask() latency and accuracy on planted questions, peak RSS.

    python -m bench.run                  # N = 1000 and 10000, each in its own process
    python -m bench.run --sizes 1000     # one size
Writes bench/out/results.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def _percentile(values: list[float], p: float) -> float:
    from qa.eval import percentile

    return percentile(values, p)


def run_size(n: int, questions: int, peer: bool) -> dict:
    """Everything for one corpus size, in this process (so its peak RSS is its own)."""
    from bench.corpus import make_corpus, write_jsonl
    from index.loaders import load_articles
    from index.pipeline import chunk_records
    from qa.config import Settings
    from qa.embeddings import SentenceEmbedder
    from qa.engine import Engine

    work = Path(tempfile.mkdtemp(prefix=f"newsqa-bench-{n}-"))
    records, planted = make_corpus(n, seed=n)
    write_jsonl(records, work / "articles")
    embedder = SentenceEmbedder.from_name(None)
    embedder.encode(["warm up"])
    result: dict = {"articles": n}

    # the limit: the model embedding the very texts ingest embeds (a sample, same order)
    articles, _, _ = load_articles([work / "articles"])
    texts = []
    for a in articles[: max(50, n // 10)]:
        _, c_embed, _, _, _, s_embed, _, _ = chunk_records(a)
        texts += c_embed + s_embed
    t = time.perf_counter()
    embedder.encode(texts, batch_size=128)
    raw = len(texts) / (time.perf_counter() - t)
    result["raw_embed_texts_per_s"] = round(raw, 1)

    settings = Settings(articles_dir=str(work / "articles"), index_dir=str(work / "index"))
    engine = Engine(settings, embedder=embedder, auto_index=False)
    t = time.perf_counter()
    report = engine.ingest(progress=False)
    ingest_s = time.perf_counter() - t
    n_sentences = engine.store.sentences.count()
    embedded = report.chunks_written + n_sentences
    result.update({
        "chunks": report.chunks_written, "sentences": n_sentences,
        "ingest_seconds": round(ingest_s, 1),
        "ingest_chunks_per_s": round(report.chunks_written / ingest_s, 1),
        "ingest_texts_per_s": round(embedded / ingest_s, 1),
        "ingest_vs_raw_embedding": round(embedded / ingest_s / raw, 3),
        "ingest_articles_per_s": round(n / ingest_s, 2),
    })
    engine.refresh(force=True)

    rng = random.Random(n)
    sample = rng.sample(planted, min(questions, len(planted)))
    engine.ask(sample[0].question)
    latencies, right = [], 0
    for p in sample:
        t = time.perf_counter()
        a = engine.ask(p.question)
        latencies.append((time.perf_counter() - t) * 1000)
        right += (p.answer in a.text and bool(a.citations)
                  and a.citations[0].article_id == p.article_id)
    result.update({
        "ask_p50_ms": round(_percentile(latencies, 50), 1),
        "ask_p95_ms": round(_percentile(latencies, 95), 1),
        "planted_accuracy": round(right / len(sample), 3),
        "planted_questions": len(sample),
    })

    if peer:
        result.update(peer_ingest(records, embedder, work))
        result["peer_vs_newsqa_articles_per_s"] = round(
            result["ingest_articles_per_s"] / result["peer_articles_per_s"], 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def peer_ingest(records: list[dict], embedder, work: Path) -> dict:
    """The plain llama-index way: VectorStoreIndex.from_documents into a Chroma collection."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=str(work / "peer"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("peer", metadata={"hnsw:space": "cosine"},
                                                 embedding_function=None)
    docs = [Document(text=r["text"], metadata={"title": r["title"], "id": r["id"]})
            for r in records]
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(
        chroma_collection=collection))
    t = time.perf_counter()
    VectorStoreIndex.from_documents(docs, storage_context=storage, embed_model=embedder,
                                    transformations=[SentenceSplitter()])
    seconds = time.perf_counter() - t
    return {"peer_seconds": round(seconds, 1), "peer_chunks": collection.count(),
            "peer_chunks_per_s": round(collection.count() / seconds, 1),
            "peer_articles_per_s": round(len(records) / seconds, 2)}


def table(results: list[dict]) -> str:
    keys = ["articles", "chunks", "sentences", "raw_embed_texts_per_s", "ingest_texts_per_s",
            "ingest_vs_raw_embedding", "ingest_chunks_per_s", "ingest_articles_per_s",
            "peer_articles_per_s", "peer_chunks_per_s", "ask_p50_ms", "ask_p95_ms",
            "planted_accuracy", "peak_rss_mb"]
    lines = ["| measure | " + " | ".join(f"N={r['articles']}" for r in results) + " |",
             "| --- |" + " --- |" * len(results)]
    for k in keys[1:]:
        lines.append(f"| {k} | " + " | ".join(str(r.get(k, "")) for r in results) + " |")
    return "\n".join(lines)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line), "?")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GB RAM, {platform.platform()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--no-peer", action="store_true", help="skip the llama-index peer ingest")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_size(args.one, args.questions, not args.no_peer)))
        return 0
    results = []
    for n in args.sizes:
        cmd = [sys.executable, "-m", "bench.run", "--one", str(n), "--questions",
               str(args.questions)] + (["--no-peer"] if args.no_peer else [])
        done = subprocess.run(cmd, capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent.parent)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"N={n}: {results[-1]}", file=sys.stderr)
    OUT.mkdir(exist_ok=True)
    payload = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "results": results}
    (OUT / "results.json").write_text(json.dumps(payload, indent=2))
    print(f"machine: {payload['machine']}\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
