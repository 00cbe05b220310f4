"""Benchmark (not a test): the served page under load, with and without changes to the index.

    python -m bench.live uploads [--seconds 120] [--clients 16] [--every 8]
        16 API clients ask the seed questions for the given time, once with no uploads and
        once with an upload through the page every 8 s; errors and latency of both.
    python -m bench.live rebuild [--articles 10000] [--work DIR]
        ask() latency at idle, while the keyword base of N articles is rebuilt over and over
        in the background (as after a large change by another process), and while articles
        are added one at a time (each read as a delta over the base), in one process.

Both use the real model and a real Chroma store; the page is served by uvicorn as `python
app.py` serves it, and the clients are real HTTP clients. Figures print as JSON and go to
bench/out/live-<kind>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

from bench.corpus import make_corpus, write_jsonl
from core.config import PROJECT_ROOT

OUT = Path(__file__).resolve().parent / "out"


def _pct(values: list[float], p: float) -> float:
    from qa.eval import percentile

    return round(percentile(values, p), 1) if values else float("nan")


def sse_events(text: str) -> list[tuple[str, str]]:
    """A server-sent event stream as (event, data) pairs, in order."""
    out, event = [], ""
    for line in text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            out.append((event, line.split(":", 1)[1].strip()))
    return out


def ask_http(client: httpx.Client, question: str) -> tuple[bool, str]:
    posted = client.post("/gradio_api/call/ask", json={"data": [question, None, None]})
    if posted.status_code != 200:
        return False, posted.text
    kind, payload = sse_events(client.get(f"/gradio_api/call/ask/{posted.json()['event_id']}")
                            .text)[-1]
    return kind == "complete", payload


def upload_http(client: httpx.Client, fn_index: int, name: str, text: str) -> tuple[bool, str]:
    """An upload as the page makes it: the file to gradio's upload route, then the Add
    button's handler through the queue."""
    up = client.post("/gradio_api/upload", files={"files": (name, text.encode())})
    if up.status_code != 200:
        return False, up.text
    path = up.json()[0]
    session = uuid.uuid4().hex
    joined = client.post("/gradio_api/queue/join", json={
        "data": [[{"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}], ""],
        "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None})
    if joined.status_code != 200:
        return False, joined.text
    for _, payload in sse_events(client.get("/gradio_api/queue/data",
                                         params={"session_hash": session}).text):
        msg = json.loads(payload)
        if msg.get("msg") == "process_completed":
            out = json.dumps(msg.get("output", {}))
            return bool(msg.get("success")) and "Indexed" in out, out
    return False, "no result"


class Served:
    """The page for an engine as `python app.py` serves it (gradio under uvicorn), on a free
    loopback port; settings (default: the engine's) and auth as app.server_app takes them.
    The tests serve the page with it too."""

    def __init__(self, engine, settings=None, auth=None) -> None:  # noqa: ANN001
        import socket

        import uvicorn

        import app

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.demo = app.build_app(engine)
        self.demo.queue(default_concurrency_limit=8)
        self.server = uvicorn.Server(uvicorn.Config(
            app.server_app(self.demo, settings or engine.settings, auth), host="127.0.0.1",
            port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}"

    def fn_index(self, name: str) -> int:
        return next(i for i, fn in self.demo.fns.items() if fn.name == name)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def load_phase(url: str, questions: list[str], clients: int, seconds: float,
               uploads: tuple[int, float] | None) -> dict:
    """clients asking for `seconds`; with uploads=(fn_index, every), an upload every `every`
    seconds meanwhile."""
    stop = threading.Event()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            i = k
            while not stop.is_set():
                started = time.perf_counter()
                ok, payload = ask_http(http, questions[i % len(questions)])
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    if not ok:
                        errors.append(payload[:300])
                i += clients

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    done = []
    upload_ms: list[float] = []
    if uploads:
        fn, every = uploads
        records, _ = make_corpus(int(seconds / every) + 2, seed=int(time.time()))
        with httpx.Client(base_url=url, timeout=300) as http:
            began = time.monotonic()
            for n, r in enumerate(records):
                wait = began + n * every - time.monotonic()
                if wait > 0:
                    stop.wait(wait)
                if time.monotonic() - began >= seconds:
                    break
                started = time.perf_counter()
                ok, payload = upload_http(http, fn, f"upload-{uuid.uuid4().hex[:8]}.txt",
                                          f"{r['title']}\n\n{r['text']}")
                upload_ms.append((time.perf_counter() - started) * 1000)
                done.append(ok)
                if not ok:
                    errors.append("upload: " + payload[:300])
            rest = began + seconds - time.monotonic()
            if rest > 0:
                stop.wait(rest)
    else:
        stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join()
    return {"questions": len(latencies), "errors": len(errors), "error_samples": errors[:3],
            "p50_ms": _pct(latencies, 50), "p95_ms": _pct(latencies, 95),
            "uploads": len(done), "uploads_ok": sum(done),
            "upload_p50_ms": _pct(upload_ms, 50)}


def bench_uploads(args) -> dict:  # noqa: ANN001
    from core.config import Settings
    from qa.engine import Engine

    work = Path(tempfile.mkdtemp(prefix="newsqa-live-"))
    try:
        shutil.copytree(PROJECT_ROOT / "articles", work / "articles")
        engine = Engine(Settings(articles_dir=str(work / "articles"),
                                 index_dir=str(work / "index")))
        questions = [json.loads(line)["question"] for line in
                     (PROJECT_ROOT / "eval_questions" / "seed.jsonl").open()]
        served = Served(engine)
        try:
            ask_http(httpx.Client(base_url=served.url, timeout=120), questions[0])  # warm
            quiet = load_phase(served.url, questions, args.clients, args.seconds, None)
            busy = load_phase(served.url, questions, args.clients, args.seconds,
                              (served.fn_index("upload"), args.every))
        finally:
            served.close()
        return {"clients": args.clients, "seconds": args.seconds, "upload_every_s": args.every,
                "without_uploads": quiet, "with_uploads": busy,
                "p95_ratio": round(busy["p95_ms"] / quiet["p95_ms"], 2)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_rebuild(args) -> dict:  # noqa: ANN001
    """ask() in this process, idle and while the keyword side is rebuilt in the background as
    after every change by another process."""
    from core.config import Settings
    from index.pipeline import Ingestor, ingest
    from qa.engine import Engine

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="newsqa-rebuild-"))
    try:
        records, planted = make_corpus(args.articles, seed=11)
        settings = Settings(articles_dir=str(work / "articles"), index_dir=str(work / "index"),
                            embed_backend="onnx-int8")
        started = time.perf_counter()
        if not (work / "index").exists():  # --work keeps an index for the next run
            write_jsonl(records, work / "articles")
            ingest(None, settings=settings, progress=sys.stderr.isatty())
        ingest_s = time.perf_counter() - started
        engine = Engine(settings, auto_index=False)
        questions = [p.question for p in planted[:200]]

        def timed(n: int) -> list[float]:
            out = []
            for q in questions[:n]:
                t = time.perf_counter()
                engine.ask(q)
                out.append((time.perf_counter() - t) * 1000)
            return out

        timed(10)  # warm
        idle = timed(len(questions))

        def while_running(change, changed: list | None = None  # noqa: ANN001
                          ) -> tuple[list[float], list[float]]:
            """ask() latencies while change() runs over and over in a thread, and the times
            of the snapshot builds that followed each change (and of each change)."""
            built: list[float] = []
            stop = threading.Event()

            def loop() -> None:  # what refresh()'s background thread does after a change
                k = 0
                while not stop.is_set():
                    t = time.perf_counter()
                    change(k)
                    if changed is not None:
                        changed.append(time.perf_counter() - t)
                    k += 1
                    t = time.perf_counter()
                    engine._swap(engine._build())
                    built.append(time.perf_counter() - t)

            thread = threading.Thread(target=loop)
            thread.start()
            busy = timed(len(questions))
            stop.set()
            thread.join()
            return busy, built

        # 1. a change too large for a delta: the keyword base is rebuilt from the whole store
        import core.keyword

        limits = core.keyword.DELTA_MIN, core.keyword.DELTA_SHARE
        core.keyword.DELTA_MIN, core.keyword.DELTA_SHARE = -1, -1.0
        rebuilding, rebuilt = while_running(lambda k: engine.store.mark_changed())
        core.keyword.DELTA_MIN, core.keyword.DELTA_SHARE = limits

        # 2. an article added at a time (as an upload): read as a delta over the base
        uploads = work / "uploads"
        uploads.mkdir(exist_ok=True)

        def upload(k: int) -> None:
            path = uploads / f"upload-{uuid.uuid4().hex[:8]}.txt"
            path.write_text(f"Upload {k} of the benchmark\n\nThe harbour of Brest reopened "
                            f"crane {k} on Tuesday after a repair that took {k + 2} weeks.\n",
                            encoding="utf-8")
            Ingestor(engine.store, engine.embedder, progress=False).run([str(path)])

        ingests: list[float] = []
        updating, deltas = while_running(upload, ingests)
        shutil.rmtree(uploads, ignore_errors=True)

        def med(xs: list[float]) -> float | None:
            return round(sorted(xs)[len(xs) // 2], 3) if xs else None

        return {"articles": args.articles, "chunks": engine.store.count(),
                "ingest_s": round(ingest_s, 1),
                "idle_p50_ms": _pct(idle, 50), "idle_p95_ms": _pct(idle, 95),
                "rebuilding_p50_ms": _pct(rebuilding, 50),
                "rebuilding_p95_ms": _pct(rebuilding, 95),
                "rebuilding_p95_ratio": round(_pct(rebuilding, 95) / _pct(idle, 95), 2),
                "rebuilds_meanwhile": len(rebuilt), "rebuild_s_median": med(rebuilt),
                "uploading_p50_ms": _pct(updating, 50), "uploading_p95_ms": _pct(updating, 95),
                "uploading_p95_ratio": round(_pct(updating, 95) / _pct(idle, 95), 2),
                "uploads_meanwhile": len(deltas), "upload_ingest_s_median": med(ingests),
                "delta_s_median": med(deltas)}
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ap = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["uploads", "rebuild"])
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--every", type=float, default=8)
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--work", help="rebuild: keep the corpus and index here (reused if there)")
    args = ap.parse_args(argv)
    result = bench_uploads(args) if args.kind == "uploads" else bench_rebuild(args)
    OUT.mkdir(exist_ok=True)
    (OUT / f"live-{args.kind}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
