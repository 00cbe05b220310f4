"""News-aware answers over a corpus with dates, syndicated copies and a disagreeing figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InvalidQuestion
from tests.conftest import ROOT

NEWS = Path(__file__).parent / "data" / "news.jsonl"
PERSONNEL = "How many personnel will the Ukraine command involve?"


@pytest.fixture(scope="module")
def news_engine(tmp_path_factory, embedder):
    from core.config import Settings
    from qa.engine import Engine

    root = tmp_path_factory.mktemp("news")
    engine = Engine(Settings(articles_dir=str(NEWS), index_dir=str(root / "index")),
                    embedder=embedder, auto_index=False)
    report = engine.ingest([str(NEWS)], progress=False)
    assert report.added == 7
    return engine


def _meta(engine, article_id):
    return engine.store.chunks.get(where={"article_id": article_id}, include=["metadatas"],
                                   limit=1)["metadatas"][0]


def test_dates_come_from_metadata_or_an_unambiguous_dateline(news_engine):
    assert _meta(news_engine, "wire-0614")["published"] == "2024-06-14"
    assert _meta(news_engine, "dateline-grain")["published"] == "2024-04-09"  # "ODESA, April 9, 2024 —"
    assert "published" not in _meta(news_engine, "undated-drones")
    assert isinstance(_meta(news_engine, "wire-0614")["published_ts"], int)


def test_copies_are_grouped_into_one_story_and_cited_once(news_engine):
    assert _meta(news_engine, "daily-0615")["story_id"] == _meta(news_engine, "wire-0614")["story_id"]
    assert _meta(news_engine, "early-0502")["story_id"] == "early-0502"
    answer = news_engine.ask("Where will the Ukraine aid command be based?")
    assert "Wiesbaden" in answer.text
    cited = [c.article_id for c in answer.citations]
    assert len(set(cited) & {"wire-0614", "daily-0615"}) == 1
    first = answer.citations[0]
    assert set(first.also_in) | {first.article_id} == {"wire-0614", "daily-0615"}


def test_a_longer_copy_ingested_later_joins_the_stored_story(make_engine, tmp_path):
    """A wire story already in the index, then a copy with a local paragraph added: the copy
    holds all of the (shorter) original's sentences, so it is the same story."""
    wire = json.loads(NEWS.read_text().splitlines()[0])
    assert wire["id"] == "wire-0614"
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "wire.jsonl").write_text(json.dumps(wire) + "\n")
    engine = make_engine(folder)
    engine.ingest(progress=False)
    local = dict(wire, id="local-0617", published="2024-06-17", source="Local", text=(
        wire["text"] + "\nThe city council said it would discuss the garrison's growth next "
        "week.\nShop owners near the base expect more customers."))
    (folder / "local.jsonl").write_text(json.dumps(local) + "\n")
    assert engine.ingest(progress=False).added == 1
    assert _meta(engine, "local-0617")["story_id"] == "wire-0614"
    answer = engine.ask("Where will the Ukraine aid command be based?")
    first = answer.citations[0]
    assert "Wiesbaden" in answer.text
    assert set(first.also_in) | {first.article_id} == {"wire-0614", "local-0617"}
    assert len({c.article_id for c in answer.citations} & {"wire-0614", "local-0617"}) == 1


def test_retrieval_is_spread_across_stories(news_engine):
    vec = news_engine.embedder.encode(["Ukraine command Wiesbaden personnel"])[0]
    nodes = news_engine.retriever.retrieve("Ukraine command Wiesbaden personnel", vec.tolist())
    stories = [n.node.metadata["story_id"] for n in nodes]
    distinct = list(dict.fromkeys(stories))
    assert stories[: len(distinct)] == distinct  # every story once before any repeat


def test_disagreeing_sources_are_both_cited_newest_first(news_engine):
    answer = news_engine.ask(PERSONNEL)
    assert answer.sources_differ and answer.text.startswith("The sources differ.")
    assert [c.published for c in answer.citations] == ["2024-06-14", "2024-05-02"] or \
        [c.published for c in answer.citations] == ["2024-06-15", "2024-05-02"]
    assert "700" in answer.citations[0].quote and "600" in answer.citations[1].quote
    assert answer.text.index("700") < answer.text.index("600")


def test_equally_supported_sources_put_the_newer_first_with_dates(news_engine):
    answer = news_engine.ask("When will the Kestrel harbour bridge reopen?")
    assert answer.citations[0].article_id == "bridge-july"
    lead = answer.text.split("[1]")[0]  # the short answer may come first: "September — As of"
    assert "As of 2024-07-01:" in lead and "September" in lead
    assert not answer.sources_differ  # both say September


def test_date_filters_run_inside_the_store_and_count_undated_articles(news_engine):
    early = news_engine.ask(PERSONNEL, until="2024-05-31")
    assert [c.article_id for c in early.citations] == ["early-0502"] and "600" in early.text
    late = news_engine.ask(PERSONNEL, since="2024-06-01")
    assert "700" in late.text and "600" not in late.text
    assert "1 undated article was left out by the date filter" in late.text
    drones = news_engine.ask("How many drones does the Lviv factory make a month?",
                             since="2024-01-01")
    assert drones.abstained and "left out by the date filter" in drones.text
    assert "400" in news_engine.ask("How many drones does the Lviv factory make a month?").text


@pytest.mark.parametrize(("since", "until", "message"), [
    ("June 2024", None, "not a date"), ("2024-13-01", None, "not a date"),
    ("2024-06-02", "2024-06-01", "is after"),
])
def test_bad_date_ranges_are_clear_errors(news_engine, since, until, message):
    with pytest.raises(InvalidQuestion, match=message):
        news_engine.ask(PERSONNEL, since=since, until=until)


def test_news_question_file_through_the_eval(news_engine):
    from qa.eval import evaluate, load_cases

    result = evaluate(news_engine, load_cases(ROOT / "eval_questions" / "news.jsonl"))
    assert result["metrics"]["answer_accuracy"] == 1.0, [
        r["question"] for r in result["rows"] if not r["correct"]]


def test_news_questions_put_the_pipeline_ahead_of_both_baselines(news_engine):
    from qa.baselines import DenseBaseline, KeywordBaseline
    from qa.eval import ROOT_QUESTIONS, evaluate, load_cases

    cases = load_cases(ROOT_QUESTIONS / "news.jsonl")
    ours = evaluate(news_engine, cases)["metrics"]
    assert ours["answer_accuracy"] == 1.0
    for baseline in (KeywordBaseline(news_engine), DenseBaseline(news_engine)):
        theirs = evaluate(news_engine, cases, baseline)["metrics"]
        assert ours["answer_accuracy"] > theirs["answer_accuracy"]
        assert ours["mrr"] > theirs["mrr"]
