"""Scraped boilerplate never reaches the index; what does is verbatim article text."""

from __future__ import annotations

import pytest

from index.chunking import chunk_article, split_sentences
from index.cleaning import clean_text
from index.loaders import load_articles
from tests.conftest import ARTICLES

NOISE = ["No time to read?", "Get a summary", "Previous Article", "Next Article",
         "{REWRITE_TITLE}", "(Citation:", "Supreme Court Ruling on Judge Tuleya",
         "Azov Flag Incident", "Aftermath of a Major Fire in La Cala"]


@pytest.fixture(scope="module")
def seed_articles():
    articles, skipped, _ = load_articles([ARTICLES])
    assert not skipped
    return articles


def test_boilerplate_and_links_to_other_stories_are_dropped(seed_articles):
    assert len(seed_articles) == 5
    for article in seed_articles:
        for chunk in article.chunks():
            for noise in NOISE:
                assert noise not in chunk.text, (article.id, noise)


def test_every_sentence_is_verbatim_text_of_its_file(seed_articles):
    for article in seed_articles:
        raw = (ARTICLES / f"{article.id}.txt").read_text(encoding="utf-8")
        sentences = [s for c in article.chunks() for s in c.sentences]
        assert len(sentences) > 10
        for s in sentences:
            assert s.text in raw


def test_headline_becomes_title_and_missing_title_is_derived(seed_articles):
    by_id = {a.id: a for a in seed_articles}
    assert by_id["003_b47ef3f2e68c73b9"].title == (
        "NATO to Deepen Ties With Ukraine and Expand Regional Security Efforts")
    assert not by_id["003_b47ef3f2e68c73b9"].title_derived
    derived = by_id["002_97a7c6ca049e9223"]
    # a headline-length phrase: no lead-in, cut at a clause boundary, never "…"
    assert derived.title_derived and derived.title == (
        "NATO Secretary General Jens Stoltenberg hosted Allied Defence Ministers in Brussels, "
        "Belgium")
    titles = [a.title for a in seed_articles if a.title_derived]
    assert titles and all("…" not in t and len(t.split()) <= 12 for t in titles)


def test_dateline_is_removed_from_the_text():
    clean = clean_text("BRUSSELS, Belgium. This week, ministers met.\nThey agreed on a plan.")
    assert clean.dateline == "BRUSSELS, Belgium"
    assert clean.paragraphs[0].text == "This week, ministers met."


def test_heading_ids_left_by_markdown_conversion_are_dropped():
    """DigitalGov posts carry Markdown heading ids ("Why We Did It {#toc0}"): the id is no
    text, and with it the heading read as a five-word sentence a reader could quote."""
    clean = clean_text("Classroom iPads\nThe district gave every student an iPad, and teachers "
                       "chose an app because it was the cheapest option. Why We Did It {#toc0}\n"
                       "What We Learned {#toc-3}\nThe app saved six weeks of work.")
    text = " ".join(p.text for p in clean.paragraphs)
    assert "{#" not in text and "toc" not in text
    assert clean.paragraphs[0].text.endswith("the cheapest option. Why We Did It")
    assert clean.paragraphs[1].text == "What We Learned" and clean.paragraphs[1].heading


def test_a_sentence_with_the_next_heading_run_into_it_is_indexed():
    """Converted posts run a section's heading into the paragraph before it. A short line that
    holds a full sentence and then a heading was taken whole for a heading, and the sentence
    was never a candidate: "Which CitySDK project won first place?" found nothing to read."""
    clean = clean_text("CitySDK in Chicago\nThe Chicago launch was focused on sustainability and "
                       "brought two projects to the challenge.\nPurshable won 1st place in CNT’s "
                       "Urban Sustainability Apps Challenge. TechSpaces\nThe TechSpaces project "
                       "seeks to understand city innovation hotspots.\n2. Privacy\n"
                       "Mobile Web Vs. Mobile Apps")
    texts = [(p.text, p.heading) for p in clean.paragraphs]
    assert ("Purshable won 1st place in CNT’s Urban Sustainability Apps Challenge.", False) in texts
    assert ("TechSpaces", True) in texts
    sentences = [s.text for c in chunk_article(clean.paragraphs) for s in c.sentences]
    assert "Purshable won 1st place in CNT’s Urban Sustainability Apps Challenge." in sentences
    assert "TechSpaces" not in sentences
    assert ("2. Privacy", True) in texts and ("Mobile Web Vs. Mobile Apps", True) in texts


def test_section_headings_are_kept_out_of_sentences_but_stay_with_their_chunk():
    clean = clean_text("Intro sentence one here. Another one.\nSection Heading Here\n"
                       "The command will be based in Wiesbaden. It involves 700 people.")
    chunks = chunk_article(clean.paragraphs, max_words=8)
    sentences = [s for c in chunks for s in c.sentences]
    assert "Section Heading Here" not in [s.text for s in sentences]
    assert any(c.text.startswith("Section Heading Here") for c in chunks)
    assert sentences[2].heading == "Section Heading Here"


def test_abbreviations_do_not_split_sentences():
    text = "The command sits at a U.S. facility in Wiesbaden. Former U.S. Secretary Blinken spoke."
    assert split_sentences(text) == [
        "The command sits at a U.S. facility in Wiesbaden.",
        "Former U.S. Secretary Blinken spoke.",
    ]


def test_chunks_respect_the_word_budget_and_keep_sentences_whole(seed_articles):
    for article in seed_articles:
        for chunk in article.chunks():
            words = sum(len(s.text.split()) for s in chunk.sentences)
            assert words <= 110 or len(chunk.sentences) == 1
