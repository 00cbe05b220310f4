"""Odd input through every door of the served page: property-based calls of the /ask API and
of the chat handler the page itself calls (through gradio's queue, as the browser does), with
any text, nulls, numbers, lists and lone surrogates. Each call gets an answer or one plain
error sentence; no Python exception text reaches the client, and the server keeps answering.
Fast tier: the fake embedder, a real Chroma store, the real page under uvicorn."""

from __future__ import annotations

import json
import shutil
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.live import Served, sse_events
from tests.conftest import ARTICLES

PYTHON_TEXT = ("Traceback", "AttributeError", "TypeError", "KeyError", "NoneType",
               "RecursionError", "object has no attribute", "UnicodeEncodeError")
ANY = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                st.text(max_size=300), st.text(alphabet=st.characters(min_codepoint=0xD800,
                                                                      max_codepoint=0xDFFF),
                                               max_size=5),
                st.lists(st.text(max_size=20), max_size=3),
                st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))
HISTORY = st.one_of(ANY, st.lists(st.one_of(ANY, st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "x"]), "content": ANY})),
    max_size=4))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from core.config import Settings
    from qa.engine import Engine
    from tests.fakes import FakeEmbedder

    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ARTICLES, root / "articles")
    settings = Settings(articles_dir=str(root / "articles"), index_dir=str(root / "index"))
    page = Served(Engine(settings, embedder=FakeEmbedder(), auto_index=True))
    yield httpx.Client(base_url=page.url, timeout=60), page.fn_index("respond")
    page.close()


def call_api(client: httpx.Client, data: list) -> tuple[str, str]:
    """/ask as any HTTP client calls it: the event ("complete" or "error") and its data."""
    posted = client.post("/gradio_api/call/ask", content=json.dumps({"data": data}),
                         headers={"content-type": "application/json"})
    if posted.status_code != 200:
        return "refused", posted.text
    got = client.get(f"/gradio_api/call/ask/{posted.json()['event_id']}")
    return sse_events(got.text)[-1]


def call_chat(client: httpx.Client, fn_index: int, data: list) -> tuple[str, str]:
    """The chat handler as the page calls it: join the queue, read the result."""
    session = uuid.uuid4().hex
    joined = client.post("/gradio_api/queue/join", content=json.dumps(
        {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
         "trigger_id": None}), headers={"content-type": "application/json"})
    if joined.status_code != 200:
        return "refused", joined.text
    for _event, payload in sse_events(client.get("/gradio_api/queue/data",
                                              params={"session_hash": session}).text):
        msg = json.loads(payload)
        if msg.get("msg") == "process_completed":
            out = msg.get("output", {})
            return ("complete" if msg.get("success") else "error"), json.dumps(out)
    return "none", ""


def assert_plain(kind: str, payload: str) -> None:
    assert kind in ("complete", "error", "refused"), (kind, payload)
    assert not any(t in payload for t in PYTHON_TEXT), payload


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(question=ANY, since=ANY, until=ANY)
def test_the_ask_api_answers_or_says_plainly_what_is_wrong(served, question, since, until):
    client, _ = served
    assert_plain(*call_api(client, [question, since, until]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(message=ANY, history=HISTORY, since=ANY, until=ANY, saved=ANY)
def test_the_chat_handler_answers_or_says_plainly_what_is_wrong(served, message, history,
                                                                since, until, saved):
    client, chat = served
    assert_plain(*call_chat(client, chat, [message, history, since, until, saved]))


def test_after_all_that_the_api_still_answers(served):
    client, chat = served
    kind, payload = call_api(client, ["Where will the NATO command for Ukraine be headquartered?",
                                      None, None])
    assert kind == "complete" and "Wiesbaden" in payload
    kind, payload = call_chat(client, chat, ["Where will the NATO command for Ukraine be headquartered?",
                                             [], None, None, None])
    assert kind == "complete" and "Wiesbaden" in payload
