"""Many askers at once, and an ingest running while they ask: every reply right, none lost."""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.corpus import make_corpus, write_jsonl
from qa.eval import percentile
from tests.conftest import ARTICLES, SEED_QUESTION

QUESTIONS = [
    (SEED_QUESTION, "Wiesbaden"),
    ("How much money is dedicated to the NATO Innovation Fund?", "$1 billion"),
    ("Who is the alliance's deputy supreme allied commander?", "Johnny Stringer"),
    ("Which news agency reported the remarks?", None),  # whatever it says, it must be stable
    ("What did the Supreme Court rule about Judge Tuleya and immunity?", None),
]


def test_sixteen_threads_asking_at_once_get_the_same_answers(seed_engine, capsys):
    expected = {q: seed_engine.ask(q) for q, _ in QUESTIONS}
    jobs = [QUESTIONS[i % len(QUESTIONS)][0] for i in range(160)]
    latencies: list[float] = []

    def one(q):
        t = time.perf_counter()
        a = seed_engine.ask(q)
        latencies.append(time.perf_counter() - t)
        return q, a

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, jobs))
    assert len(results) == len(jobs)
    for q, a in results:
        assert a == expected[q], q
    for q, needle in QUESTIONS:
        if needle:
            assert needle in expected[q].text
    with capsys.disabled():
        print(f"\n[load] 16 threads: {len(results)}/{len(jobs)} answered, p50 "
              f"{percentile(latencies, 50) * 1000:.0f} ms, p95 "
              f"{percentile(latencies, 95) * 1000:.0f} ms")


def test_questions_keep_being_answered_while_an_ingest_runs(make_engine, tmp_path, capsys):
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    engine = make_engine(articles)
    engine.ingest()
    records, planted = make_corpus(120, seed=11)
    new = tmp_path / "incoming"
    write_jsonl(records, new, per_file=40)

    done = threading.Event()
    errors: list[BaseException] = []
    answered = []

    def ingest():
        try:
            engine.ingest([str(new)], progress=False)
        except BaseException as e:  # noqa: BLE001 - recorded and asserted on
            errors.append(e)
        finally:
            done.set()

    def ask_until_done():
        while not done.is_set():
            try:
                a = engine.ask(SEED_QUESTION)
                ok = "Wiesbaden" in a.text and a.citations[0].article_id == "002_97a7c6ca049e9223"
                answered.append(ok or a.text)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

    writer = threading.Thread(target=ingest)
    askers = [threading.Thread(target=ask_until_done) for _ in range(4)]
    writer.start()
    for t in askers:
        t.start()
    writer.join(timeout=600)
    for t in askers:
        t.join(timeout=60)
    assert not errors, errors[:3]
    assert len(answered) > 10
    assert [a for a in answered if a is not True] == []
    engine.refresh(force=True)
    for p in planted[:20]:
        a = engine.ask(p.question)
        assert p.answer in a.text and a.citations[0].article_id == p.article_id, p
    with capsys.disabled():
        print(f"\n[load] during ingest of 120 articles: {len(answered)} questions answered, "
              f"all correct, 0 errors")
