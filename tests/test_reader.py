"""The trained reader: the shipped file, what it answers, and the command that trains it."""

from __future__ import annotations

import json

import pytest

from qa.reader import CARD_FILE, MODEL_FILE, Reader, file_sha256, load_reader
from tests.conftest import ROOT, SEED_QUESTION, WIESBADEN_ID, article_file_text

WIESBADEN = ("A dedicated NATO command, headquartered at a U.S. facility in Wiesbaden, Germany, "
             "will oversee the effort.")
BEFORE = ("A new plan establishes NATO as the leader in coordinating security assistance and "
          "training for Ukraine.")
AFTER = ("Logistical nodes in Eastern Europe will further support the program, led by a 3-star "
         "general under the Supreme Allied Commander Europe.")
TITLE = "NATO defence ministers meet in Brussels"


def test_shipped_reader_matches_its_card_and_is_small():
    card = json.loads(CARD_FILE.read_text())
    assert file_sha256(MODEL_FILE) == card["sha256"]
    assert MODEL_FILE.stat().st_size <= 30 * 1024 * 1024
    assert 0 < card["threshold"] < 1
    notice = (ROOT / "NOTICE").read_text()
    assert "SQuAD" in notice and "CC BY-SA 4.0" in notice


HQ_QUESTION = "Where is the NATO command headquartered?"


def test_reader_accepts_the_answer_marks_its_span_and_rejects_an_on_topic_sentence():
    reader = load_reader()
    good, off = reader.read(HQ_QUESTION, [
        (WIESBADEN, TITLE, BEFORE, AFTER),
        (AFTER, TITLE, WIESBADEN, ""),  # same topic, same article: not where it is based
    ])
    assert good.p_answer >= 0.5 > off.p_answer
    assert good.has_span and "Wiesbaden" in WIESBADEN[good.start:good.end]


def test_a_sentence_gets_the_same_verdict_whatever_is_read_beside_it():
    """The int8 model's activation scale is per tensor: read in one batch, a long neighbour's
    padding and values moved a candidate's probability (by up to a quarter, python -m bench.reader)."""
    reader = load_reader()
    others = [(AFTER, TITLE, WIESBADEN, ""), (BEFORE * 3, TITLE, "", WIESBADEN),
              ("Ministers met in Brussels.", TITLE, "", "")]
    (alone,) = reader.read(HQ_QUESTION, [(WIESBADEN, TITLE, BEFORE, AFTER)])
    beside = reader.read(HQ_QUESTION, [*others, (WIESBADEN, TITLE, BEFORE, AFTER)])[-1]
    assert beside == alone


def test_reader_gives_no_answer_for_an_unrelated_sentence():
    reader = load_reader()
    (r,) = reader.read("Who won the women's singles at Wimbledon in 2019?",
                       [(WIESBADEN, TITLE, BEFORE, AFTER)])
    assert r.p_answer < 0.5


def test_a_sentence_longer_than_the_reader_window_is_read_where_the_question_points():
    reader = load_reader()
    preamble = " ".join(f"the council met on day {n} and discussed the budget," for n in range(40))
    long = f"{preamble} and then it agreed that {WIESBADEN[0].lower()}{WIESBADEN[1:]}"
    (r,) = reader.read(HQ_QUESTION, [(long, TITLE, BEFORE, AFTER)])
    assert r.p_answer >= 0.5
    assert r.has_span and "Wiesbaden" in long[r.start:r.end]


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    from core.errors import InvalidSetting

    with pytest.raises(InvalidSetting, match="retrain it with `python -m qa.train`"):
        Reader(tmp_path / "reader-int8.onnx")


def test_answer_leads_with_the_short_answer_and_marks_it_in_the_quote(seed_engine):
    answer = seed_engine.ask(HQ_QUESTION)
    assert not answer.abstained
    first = answer.citations[0]
    assert first.article_id == WIESBADEN_ID and first.quote in article_file_text(WIESBADEN_ID)
    assert first.answer is not None and "Wiesbaden" in first.answer
    assert first.quote[first.answer_start:first.answer_end] == first.answer
    assert answer.short_answer == first.answer
    assert answer.text.startswith(answer.short_answer.strip())
    assert answer.to_dict()["citations"][0]["answer_start"] == first.answer_start


def test_a_year_the_articles_do_not_cover_is_abstained_on(seed_engine):
    # the seed articles are undated and name no year: a question about 1995 has no answer
    answer = seed_engine.ask("Where was the NATO command for Ukraine based in 1995?")
    assert answer.abstained and "1995" in answer.text


def test_reader_led_answering_chooses_and_abstains(seed_engine):
    from qa.baselines import ReaderLed

    answer, _ = ReaderLed(seed_engine).trace(HQ_QUESTION)
    assert not answer.abstained and "Wiesbaden" in (answer.short_answer or "")
    assert answer.citations[0].article_id == WIESBADEN_ID
    off, _ = ReaderLed(seed_engine).trace("How do I bake sourdough bread at home?")
    assert off.abstained and off.citations == []


def test_a_sentence_about_another_named_place_is_not_taken_as_the_answer(make_engine, tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    for town, staff, day in (("Kelburg", 2965, 3), ("Novulstad", 410, 9)):
        (articles / f"{town}.txt").write_text(
            f"Depot opens in {town}\n\nPublished 2024-05-{day:02d}\n\n"
            f"The defence ministry will open a new repair depot in {town}, officials announced "
            f"this week. The {town} repair depot is expected to employ {staff} people once it "
            "is running. Construction starts in the spring.", encoding="utf-8")
    engine = make_engine(articles)
    engine.ingest()
    answer = engine.ask("How many people will the Novulstad repair depot employ?")
    assert "410" in answer.text and "2965" not in answer.text and not answer.sources_differ
    assert answer.citations and all("Novulstad" in c.quote for c in answer.citations)
    assert engine.ask("How many people will the Ostheim repair depot employ?").abstained


def test_a_question_in_lower_case_is_held_to_the_names_in_it(make_engine, tmp_path):
    """"ostheim" is a name: the articles always capitalize it. The Ostheim article does not say
    how many the depot will employ, so the others' figures are no answer."""
    articles = tmp_path / "articles"
    articles.mkdir()
    for town, staff, day in (("Kelburg", 2965, 3), ("Novulstad", 410, 9), ("Ostheim", 0, 12)):
        size = (f"The {town} repair depot is expected to employ {staff} people once it is "
                "running." if staff else f"The {town} repair depot will service armoured "
                "vehicles and trucks.")
        (articles / f"{town}.txt").write_text(
            f"Depot opens in {town}\n\nPublished 2024-05-{day:02d}\n\n"
            f"The defence ministry will open a new repair depot in {town}, officials announced "
            f"this week. {size} Construction starts in the spring.", encoding="utf-8")
    engine = make_engine(articles)
    engine.ingest()
    assert engine.ask("How many people will the Ostheim repair depot employ?").abstained
    lower = engine.ask("how many people will the ostheim repair depot employ")
    assert lower.abstained, lower.text
    found = engine.ask("how many people will the novulstad repair depot employ")
    assert "410" in found.text and "2965" not in found.text


def test_an_interviewers_question_is_not_quoted_as_the_answer(make_engine, tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "tidewell.txt").write_text(
        "Interview with the founder of Tidewell\n\nPublished 2024-03-02\n\n"
        "Tidewell is a small website that collects tide tables for sailors on the north coast. "
        "Wikinews spoke with its founder, Maren Oakes, about the project.\n\n"
        "Why did you decide to create Tidewell?\n\n"
        "I kept losing the paper tables on my boat, so I put them all on one page. "
        "Friends from the harbour started using it within a month.\n\n"
        "How many people visit the site now?\n\n"
        "About twelve thousand sailors visit it every month.", encoding="utf-8")
    engine = make_engine(articles)
    engine.ingest()
    why = engine.ask("Why did Maren Oakes create Tidewell?")  # the question was quoted
    assert all(not c.quote.rstrip().endswith("?") for c in why.citations), why.text
    visits = engine.ask("How many people visit Tidewell?")
    assert "twelve thousand" in (visits.short_answer or "")
    assert visits.citations[0].quote.startswith("About twelve thousand sailors")


def test_a_name_typed_without_its_accent_and_a_did_you_know_sentence_are_read(make_engine,
                                                                             tmp_path):
    """"Espanol" names "Español" (before, the names rule found no article naming it and the
    reply abstained); "Did you know that …?" states its clause, so it is a candidate, unlike an
    interviewer's question."""
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "video.txt").write_text(
        "Spanish video on USAGov\n\nPublished 2015-09-15\n\n"
        "The USAGov en Español channel on YouTube received more than 221,000 views over the "
        "year. Did you know that Hispanic viewers spend more than eight hours a month watching "
        "online video? The English channel received about 45,000 views in the same period.",
        encoding="utf-8")
    engine = make_engine(articles)
    engine.ingest()
    views = engine.ask("How many views did the USAGov en Espanol channel receive?")
    assert not views.abstained and "221,000" in views.text, views.text
    hours = engine.ask("How many hours a month do Hispanic viewers spend watching online video?")
    assert "eight" in (hours.short_answer or ""), hours.text  # before: the next sentence led
    assert hours.citations[0].quote.startswith("Did you know that Hispanic viewers")


def test_a_count_or_time_question_is_not_answered_by_a_sentence_without_one(make_engine,
                                                                          tmp_path):
    """"How many …?" needs a sentence with a figure in it and "When …?" one with a time: the
    on-topic sentences here hold neither, and the reader alone accepted one of them."""
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "cranes.txt").write_text(
        "Harbour crane repairs\n\nPublished 2016-04-11\n\n"
        "The port of Brest has reopened its harbour cranes after repairs. The repair of the "
        "harbour cranes was paid for by the regional council. Dock workers welcomed the "
        "return of the cranes.", encoding="utf-8")
    (articles / "gullwatch.txt").write_text(
        "Gullwatch app for coastal birds\n\nPublished 2016-04-11\n\n"
        "The Gullwatch app lets beach visitors report sightings of injured seabirds to "
        "volunteers. Downloads of the Gullwatch app have grown steadily since its launch. "
        "Rescue centres use the app to plan their patrols along the coast.", encoding="utf-8")
    engine = make_engine(articles)
    engine.ingest()
    for question in ("How much did the harbour crane repair cost?",  # before: the council
                     "When was the Gullwatch app launched?",  # before: "since its launch"
                     "When did the port of Brest reopen its cranes?"):  # "after repairs"
        answer = engine.ask(question)
        assert answer.abstained, f"{question} -> {answer.text}"
    paid = engine.ask("Who paid for the repair of the harbour cranes?")
    assert "regional council" in paid.text and not paid.abstained, paid.text


def test_an_acronym_names_the_body_an_article_spells_out():
    """Asked about "NOAA", an article that only writes "National Oceanic and Atmospheric
    Administration" names it: before, the names rule found no article naming NOAA and the reply
    abstained without reading it."""
    import re

    from qa.reading import acronyms, named_by, names_in

    def words(text: str) -> set[str]:
        found = re.findall(r"[\w'’-]+", text)
        return {w.lower() for w in found} | acronyms(found)

    spelled = words("The National Oceanic and Atmospheric Administration built a tornado alert "
                    "service. The Department of Energy and the U.S. Department of Agriculture "
                    "helped.")
    for question in ("What did NOAA build?", "What did the DOE do?", "Did USDA help?"):
        assert named_by(names_in(question), spelled), question
    assert not named_by(names_in("What did NASA build?"), spelled)
    assert not named_by({"noaa"}, words("The national weather service built an alert."))


def test_names_a_question_holds_it_to_and_their_spellings():
    from qa.reading import named_by, names_in, names_in_lower_case

    assert names_in("Where will the Ukraine support command be based?") == {"ukraine"}
    assert names_in("Which agency reported Stoltenberg's comments?") == {"stoltenberg"}
    assert names_in("what city is the nato ukraine hq in") == set()  # lower case: see below
    retrieved = ["A dedicated NATO command will be based at a U.S. facility in Wiesbaden.",
                 "Ukraine's report was read. The report on Ukraine is long."]
    assert names_in_lower_case("what city is the nato ukraine hq in", retrieved) == {
        "nato", "ukraine"}  # "report": written in lower case too; "what": a question word
    assert names_in_lower_case("where is the report on nato", retrieved) == {"nato"}
    assert names_in_lower_case("Where is the report on nato", retrieved) == set()
    assert named_by({"ukraine"}, {"ukrainian", "forces"})  # an inflection
    assert named_by({"stoltenbrg"}, {"stoltenberg"})  # a typo
    assert not named_by({"novgraselport"}, {"novgrakaport", "novulstad"})  # another place
    assert names_in("How many views did USAGov en Espanol get?") == {"usagov", "espanol"}
    assert named_by(names_in("Who leads Español?"), names_in("Who leads Espanol?"))  # accents
    assert names_in("How many people downloaded the mPing app?") == {"mping"}  # mixed case


def test_answering_mode_is_a_checked_setting():
    from core.config import Settings
    from core.errors import InvalidSetting

    with pytest.raises(InvalidSetting, match="QA_ANSWERING='llm' is not a mode"):
        Settings(answering="llm").validate()


def test_the_hand_weighted_scorer_is_still_there_as_a_baseline(seed_engine):
    from qa.baselines import HandWeightedBaseline

    answer, retrieved = HandWeightedBaseline(seed_engine).trace(SEED_QUESTION)
    assert "Wiesbaden" in answer.text and answer.short_answer is None
    assert retrieved[0] == WIESBADEN_ID


def test_training_a_few_steps_writes_a_model_that_loads(tmp_path, capsys):
    """The training command on a tiny made-up set (tests/data/qa-train-tiny, in the qa-train
    schema), so it cannot rot (the real run takes an hour) and needs no data beside the clone."""
    from qa.train import main

    out = tmp_path / "out"
    args = ["--steps", "3", "--eval-every", "2", "--save-every", "2", "--data",
            str(ROOT / "tests" / "data" / "qa-train-tiny"), "--work", str(tmp_path / "work"),
            "--out", str(out)]
    assert main(args) == 0
    card = json.loads((out / "reader.json").read_text())
    assert card["sha256"] == file_sha256(out / "reader-int8.onnx")
    assert (out / "reader-training.md").read_text().startswith("# The reader's training run")
    reader = Reader(out / "reader-int8.onnx", card=card)
    (r,) = reader.read(SEED_QUESTION, [(WIESBADEN, TITLE, BEFORE, AFTER)])
    assert 0.0 <= r.p_answer <= 1.0
    assert "sha256" in (out / "README.md").read_text()
    # run again: it resumes from its checkpoint instead of starting over
    capsys.readouterr()
    assert main(args) == 0
    assert "resuming at step 3" in capsys.readouterr().err
    # --average: the mean of runs' weights, exported, measured and carded as a run is
    soup = tmp_path / "soup"
    ckpt = str(tmp_path / "work" / "checkpoint.pt")
    assert main(["--average", ckpt, ckpt, "--data", args[args.index("--data") + 1],
                 "--work", str(tmp_path / "soup-work"), "--out", str(soup)]) == 0
    card = json.loads((soup / "reader.json").read_text())
    assert [m["steps"] for m in card["average_of"]] == [3, 3]
    assert card["sha256"] == file_sha256(soup / "reader-int8.onnx")
    assert "--average" in (soup / "README.md").read_text()
    (again,) = Reader(soup / "reader-int8.onnx", card=card).read(
        SEED_QUESTION, [(WIESBADEN, TITLE, BEFORE, AFTER)])
    assert again.p_answer == pytest.approx(r.p_answer, abs=0.05)  # the mean of one run is it


def test_hard_negatives_are_mined_with_a_trained_reader():
    """--mine-with: the sentences the shipped reader takes for answers although they are not
    join training as "does not answer"; never a sentence holding the answer's text."""
    import random

    from qa.train import examples_of, load_records, mined_negatives, neighbours_by_title

    records = [r for r in load_records(data_dir=ROOT / "tests" / "data" / "qa-train-tiny")
               if not r.get("is_impossible")]
    rng = random.Random(0)
    nears = neighbours_by_title(records, rng)
    chosen = [ex for r, near in zip(records, nears, strict=True)
              for ex in examples_of(r, rng, negatives=0, elsewhere=near)]  # answers only
    mined = mined_negatives(records, nears, chosen, load_reader(), k=1)
    assert mined and all(m.label == 0 for m in mined)
    by_id = {r["id"]: r for r in records}
    already = {(ex.qid, ex.sentence) for ex in chosen}
    for m in mined:
        record = by_id[m.qid.removesuffix("/mined")]
        assert (record["id"], m.sentence) not in already
        assert all(a["text"].lower() not in m.sentence.lower() for a in record.get("answers") or [])


def test_written_news_questions_become_reader_inputs():
    """--news: a question written over a news article gives its answering sentence (the one of
    two holding "ferry times" that shares the most with the question, its span the answer) and
    the article's other on-topic sentences as "does not answer"; an unanswered question gives
    only those, one more of them; with a reader, the sentences it likes best join them."""
    import random

    from qa.train import news_articles, news_examples

    tiny = ROOT / "tests" / "data" / "news-train-tiny"
    questions = [json.loads(line) for line in (tiny / "questions.jsonl").read_text().splitlines()]
    articles = news_articles(questions, tiny / "articles.jsonl")
    assert set(articles) == {"tiny-harbour-app"}

    answered, unanswered = ([ex for ex in news_examples([q], articles, random.Random(0))]
                            for q in questions)
    (yes,) = [ex for ex in answered if ex.label]
    assert yes.sentence == "The app shows ferry times for the twelve piers of the harbour."
    assert yes.sentence[slice(*yes.span)] == "ferry times"
    assert yes.title == "Port Alvane launches a harbour app"
    assert yes.before.startswith("The harbour authority of Port Alvane released")
    noes = [ex for ex in answered if not ex.label]
    assert len(noes) == 3 and all("ferry times" not in ex.sentence.lower() for ex in noes)
    assert not any(ex.label for ex in unanswered) and len(unanswered) == 4

    mined = news_examples(questions[1:], articles, random.Random(0), reader=load_reader())
    assert len(mined) == 6 and len({ex.sentence for ex in mined}) == 6  # 4 by words, 2 mined


def test_listwise_training_groups_a_question_and_prefers_its_answer():
    """--listwise: a question's inputs stay together (whole questions per batch, replayed whole),
    and the listwise loss is small when the answering sentence outscores its question's other
    sentences and "none", and for an unanswered question when every sentence scores under
    "none"; it grows when the order is the wrong way round."""
    import random

    import torch

    from qa.train import (
        group_batches,
        grouped,
        listwise_loss,
        news_articles,
        news_examples,
        replay_groups,
    )

    tiny = ROOT / "tests" / "data" / "news-train-tiny"
    questions = [json.loads(line) for line in (tiny / "questions.jsonl").read_text().splitlines()]
    examples = news_examples(questions, news_articles(questions, tiny / "articles.jsonl"),
                             random.Random(0))
    ids, answered = grouped(examples)
    assert len(answered) == 2 and answered == [True, False]  # answered first, then not
    whole = replay_groups(examples, 1, random.Random(0))
    assert len(whole) in (4, 5) and len(set(grouped(whole)[0])) == 1  # one whole question
    feats = [(None, 0, 0, ex.label, g) for ex, g in zip(examples, ids, strict=True)]
    for batch in group_batches(feats, 2, random.Random(0)):
        assert len({feats[i][4] for i in batch}) == 1  # never half a question

    labels = torch.tensor([float(ex.label) for ex in examples])
    groups = torch.tensor(ids)
    answerable = torch.tensor([answered[g] for g in ids])
    right = torch.where(labels > 0, 4.0, -4.0)  # the answer high, the others and "none" low
    wrong = torch.where(labels > 0, -4.0, 4.0)
    assert listwise_loss(right, labels, groups, answerable) < 0.05
    assert listwise_loss(wrong, labels, groups, answerable) > 4.0
