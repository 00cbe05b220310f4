"""A live index: the page keeps answering while another process edits and re-indexes an
article, 50 times, and each new text is answered within 5 s; two other clients ask all along.
Fast tier: the fake embedder in both processes, a real Chroma store, the real page under
uvicorn with real HTTP clients."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time

import httpx
import pytest

from bench.live import Served
from tests.conftest import ARTICLES, ROOT
from tests.test_api_fuzz import call_api

ROUNDS = 50
QUESTION = "What is the zorblax harbour token?"
# Another process: on each line from the test, write a new token into the article and index.
EDITOR = """
import sys
from pathlib import Path
from core.config import Settings
from index.pipeline import ingest
from tests.fakes import FakeEmbedder
articles, index = sys.argv[1:3]
settings = Settings(articles_dir=articles, index_dir=index)
embedder = FakeEmbedder()
path = Path(articles) / "harbour.txt"
for line in sys.stdin:
    token = line.strip()
    path.write_text("Harbour notes\\n\\nThe zorblax harbour token is " + token
                    + " this week.\\n\\nThe pier was painted blue.\\n", encoding="utf-8")
    report = ingest(None, settings=settings, progress=False, embedder=embedder)
    print(report.updated + report.added, flush=True)
"""


@pytest.fixture
def served(tmp_path):
    from core.config import Settings
    from qa.engine import Engine
    from tests.fakes import FakeEmbedder

    shutil.copytree(ARTICLES, tmp_path / "articles")
    (tmp_path / "articles" / "harbour.txt").write_text(
        "Harbour notes\n\nThe zorblax harbour token is QX-start this week.\n", encoding="utf-8")
    settings = Settings(articles_dir=str(tmp_path / "articles"),
                        index_dir=str(tmp_path / "index"))
    page = Served(Engine(settings, embedder=FakeEmbedder(), auto_index=True))
    yield page.url, settings
    page.close()


def test_fifty_edits_from_another_process_while_clients_ask(served, capsys):
    url, settings = served
    editor = subprocess.Popen([sys.executable, "-c", EDITOR, settings.articles_dir,
                               settings.index_dir], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    stop = threading.Event()
    errors: list[str] = []
    asked = [0]

    def client() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while not stop.is_set():
                kind, payload = call_api(http, ["When was the pier painted?", None, None])
                asked[0] += 1
                if kind != "complete":
                    errors.append(payload)
                stop.wait(0.2)

    clients = [threading.Thread(target=client) for _ in range(2)]
    for t in clients:
        t.start()
    waits = []
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            for i in range(ROUNDS):
                token = f"QX{i:03d}"
                editor.stdin.write(token + "\n")
                editor.stdin.flush()
                assert editor.stdout.readline().strip() == "1"  # indexed, in the other process
                written = time.monotonic()
                while True:
                    kind, payload = call_api(http, [QUESTION, None, None])
                    if kind != "complete":
                        errors.append(payload)
                    elif token in payload:
                        break
                    assert time.monotonic() - written < 5.0, f"round {i}: {payload[:300]}"
                    time.sleep(0.1)
                waits.append(time.monotonic() - written)
                previous = json.loads(payload)[0]["text"]
                assert f"QX{i - 1:03d}" not in previous
    finally:
        stop.set()
        for t in clients:
            t.join(timeout=60)
        editor.stdin.close()
        editor.wait(timeout=60)
    assert errors == []
    waits.sort()
    with capsys.disabled():
        print(f"\n[live] {ROUNDS} edits from another process: new text answered after "
              f"{waits[len(waits) // 2]:.2f} s median, {waits[-1]:.2f} s at most; "
              f"{asked[0]} other questions meanwhile, 0 errors")
