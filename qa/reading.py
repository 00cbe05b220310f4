"""Answering with the trained reader: which retrieved sentence answers, its short answer, or an
abstention.

The hand-weighted scorer (qa.answering) ranks the retrieved sentences cheaply; the reader
(qa.reader) then reads the best `candidates` of them with their neighbours and title and says
how likely each is to answer. The reply is built only from sentences the reader accepts
(probability at or above its calibrated threshold): the best one leads, with its short answer
first when the reader marked one; a second source joins only when the reader accepts it too.
"The sources differ" and "newest first" are decided between accepted sentences only. A year in
the question ("in 2019") keeps to articles published that year and sentences that name it, and
a question that asks "How many …?" or "When …?" to sentences holding a figure or a time.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from qa import qtypes
from qa.answering import ABSTAIN_TEXT, Answerer, Scored, _overlaps, _span, cite
from qa.evidence import Evidence, story_of
from qa.models import Answer
from qa.reader import Reader, Reading

_YEAR = re.compile(r"(?<![\d$.,])(1[89]\d\d|20\d\d)(?![\d,])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
MIN_WORDS = 5
# an attribution line under a quotation ("– NATO Secretary General Jens Stoltenberg")
_ATTRIBUTION = re.compile(r"^\s*[–—-]\s*(\S+\s+){0,7}\S+\s*$")
# a question in the text (an interviewer's "Why did you decide to create wikiHow?"): it asks,
# it does not answer. Only a whole sentence that opens as a question and ends with "?", so a
# heading run into the sentence before it ("… screenshots of Inside the Board: What is …?")
# stays a candidate.
# "Did you know that Wikipedia articles with NARA images saw over 1 billion page views in FY13?"
# asks nothing: it states its clause, so it stays a candidate.
_ASKS = re.compile(r"^\W*(?!did you know\b)(what|which|who|whom|whose|when|where|why|how|is|are|"
                   r"was|were|do|does|did|can|could|would|will|should|have|has)\b[^.!]*\?\W*$",
                   re.I)


def years_in(question: str) -> set[str]:
    return set(_YEAR.findall(question))


def of_time(e: Evidence, years: set[str]) -> bool:
    """Published in one of the years, or naming one in the sentence, its neighbours or title."""
    if (e.meta.get("published") or "")[:4] in years:
        return True
    texts = [e.text, e.meta.get("title", "")] + [n.text for n in (e.prev, e.next) if n]
    return any(y in t for t in texts for y in years)


_CAPITALIZED = re.compile(r"\b[A-Z][\w'’-]*[A-Za-z]")
_QUESTION_WORDS = set("what which who whom whose when where why how is are was were do does did "
                      "will would can could should has have had the a an in on at of for to by "
                      "according i".split())


_MIXED_CASE = re.compile(r"\b[a-z]+[A-Z][\w'’-]*")  # mPing, iPhone, eBay


def names_in(question: str) -> set[str]:
    """The names a question asks about: its capitalized words after the first, and words
    written in mixed case ("mPing"). For a question typed in lower case, see
    names_in_lower_case."""
    words = _CAPITALIZED.findall(question) + _MIXED_CASE.findall(question)
    first = re.match(r"\W*([\w'’-]+)", question)
    out = {_bare(w) for w in words if len(w) >= 3 and w.lower() not in _QUESTION_WORDS}
    if first and first.group(1)[:1].isupper() and question.count(first.group(1)) == 1:
        out.discard(_bare(first.group(1)))
    return out


_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_INSIDE = re.compile(r"[a-z0-9,;]\s+$")  # the end of a word inside a sentence, before a word


def names_in_lower_case(question: str, texts: list[str]) -> set[str]:
    """The names a question typed all in lower case asks about: its words that the retrieved
    sentences always capitalize, at least once inside a sentence ("nato", "wiesbaden",
    "twitter"; not "report", which a sentence may begin with and another writes in lower
    case). Titles are left out: they capitalize every word."""
    if question != question.lower():
        return set()
    lower, inside = set(), set()
    for t in texts:
        for m in _WORD.finditer(t):
            w = _bare(m.group())
            if m.group()[0].islower():
                lower.add(w)
            elif _INSIDE.search(t[max(0, m.start() - 4):m.start()]):
                inside.add(w)
    asked = {_bare(w) for w in _WORD.findall(question)}
    return {w for w in asked & (inside - lower) if len(w) >= 3 and w not in _QUESTION_WORDS}


def _bare(word: str) -> str:
    """A word as names are compared: lower case, no possessive, no accents ("Espanol" and
    "Español" are one name: people type names without their accents)."""
    word = word.lower()
    if not word.isascii():  # most words are: the answering path folds every retrieved word
        word = "".join(c for c in unicodedata.normalize("NFKD", word)
                       if not unicodedata.combining(c))
    return re.sub(r"['’]s?$", "", word)


def _same_name(a: str, b: str) -> bool:
    """One name in two spellings: equal, an inflection (Ukraine / Ukrainian: a shared stem of
    three quarters of the shorter), or a typo (one edit in a long name)."""
    if a == b:
        return True
    short = min(len(a), len(b))
    stem = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), short)
    if short >= 5 and stem >= max(5, 0.75 * short) and abs(len(a) - len(b)) <= 4:
        return True
    return (short >= 6 and abs(len(a) - len(b)) <= 1 and a[0] == b[0]
            and difflib.SequenceMatcher(None, a, b).ratio() >= 0.9)


def named_by(names: set[str], words: set[str]) -> bool:
    """Whether every name is among the words (in one of its spellings)."""
    return all(n in words or any(_same_name(n, w) for w in words if w[:1] == n[:1])
               for n in names)


_JOINS = {"of", "and", "for", "the", "on", "&"}


def acronyms(words: list[str]) -> set[str]:
    """The acronyms an article's capitalized phrases can go by, in lower case and of three
    letters or more: "National Oceanic and Atmospheric Administration" gives "noaa" (and
    "noaaa", "oaa", …), "U.S. Department of Agriculture" "usda", "Department of Energy" "doe".
    A reader asks about "NOAA" where the article spells it out. No library does this small
    thing (abbreviation detectors such as scispacy's find "long form (LF)" pairs in one text,
    not the long form of an acronym the text never writes)."""
    out: set[str] = set()
    run: list[str] = []
    for w in [*words, "."]:
        if w[:1].isupper() or (run and w.lower() in _JOINS):
            run.append(w)
            continue
        while run and run[-1].lower() in _JOINS:
            run.pop()
        for i in range(len(run)):
            if run[i].lower() in _JOINS:
                continue
            for j in range(i + 2, min(len(run), i + 8) + 1):
                if run[j - 1].lower() in _JOINS:
                    continue
                part = run[i:j]
                out.add("".join(x[0] for x in part if x.lower() not in _JOINS).lower())
                out.add("".join(x[0] for x in part if x != "&").lower())
        run = []
    return {a for a in out if len(a) >= 3}


def reader_input(e: Evidence) -> tuple[str, str, str, str]:
    """What the reader reads of a candidate: its sentence, title and neighbours."""
    return (e.text, e.meta.get("title", ""), e.prev.text if e.prev else "",
            e.next.text if e.next else "")


@dataclass
class Read:
    scored: Scored
    reading: Reading

    @property
    def p(self) -> float:
        return self.reading.p_answer

    @property
    def score(self) -> float:
        """What decides: the reader's probability plus the hand-weighted support (each 0-1).
        The reader alone is too literal for paraphrase ("the Ukraine support command" for "a
        dedicated NATO command ... will oversee the effort", p = 0.08); the support alone
        cannot tell an answer from a sentence on the same topic. Measured in docs/reader.md."""
        return self.reading.p_answer + self.scored.support

    @property
    def evidence(self) -> Evidence:
        return self.scored.evidence

    @property
    def span_text(self) -> str | None:
        r = self.reading
        return self.evidence.text[r.start:r.end] if r.has_span else None


class ReaderComposer:
    """Re-scores the hand-ranked candidates with the reader and composes the reply."""

    def __init__(self, reader: Reader, answerer: Answerer, *, candidates: int = 16,
                 step: int = 2, sure: float = 0.9, others: int = 8,
                 second_within: float = 0.25, max_citations: int = 2):
        self.reader = reader
        self.answerer = answerer
        self.candidates = candidates
        self.step = step  # candidates read at a time, best hand-ranked first
        # reading stops once a sentence answers with probability `sure` and the other
        # articles' candidates among the best `others` are read too (a second source comes
        # from another story)
        self.sure = sure
        self.others = others
        self.second_within = second_within
        self.max_citations = max_citations

    @property
    def threshold(self) -> float:
        return self.reader.threshold

    def read(self, question: str, scored: list[Scored], context: str | None = None
             ) -> list[Read]:
        """The reader's verdict on the best candidates, most likely answer first. A follow-up
        is read both as asked and with the conversation's context; the likelier reading wins."""
        years = years_in(question)
        pool = [s for s in scored if of_time(s.evidence, years)] if years else list(scored)
        # a heading (fewer than MIN_WORDS words), an attribution line or a question is never
        # the answer
        pool = [s for s in pool if len(s.evidence.text.split()) >= MIN_WORDS
                and not _ATTRIBUTION.match(s.evidence.text) and not _ASKS.match(s.evidence.text)]
        # "How many …?" is not answered by a sentence with no figure, "When …?" by one with no
        # time (qa.qtypes.asked)
        kind = qtypes.asked(question)
        pool = [s for s in pool if qtypes.can_answer(kind, s.evidence.text)]
        names = names_in(question)
        if not names and question == question.lower():  # else nothing to gather the words for
            names = names_in_lower_case(question, [
                t for s in scored for t in (s.evidence.text, *(n.text for n in (
                    s.evidence.prev, s.evidence.next) if n))])
        naming: dict[str, bool] = {}

        def names_it(s: Scored) -> bool:
            aid = s.evidence.article_id
            if aid not in naming:
                words = self._article_words(s, scored)
                plain = {_bare(w) for w in words}
                # the acronyms its phrases go by only when a name is not among its words
                naming[aid] = named_by(names, plain) or named_by(names, plain | acronyms(words))
            return naming[aid]

        if names:
            # what the question names must be named in what was retrieved of the candidate's
            # article: nothing about "Ostheim" answers a question about Ostheim, and "the
            # Novulstad site employs 410" is no answer, nor a second source, about Kelburg
            pool = [s for s in pool if names_it(s)]
        pool = pool[:self.candidates]
        if not pool:
            return []

        reads: list[Read] = []
        for at in range(0, len(pool), self.step):
            part = pool[at:at + self.step]
            reads += self._read(question, context, part)
            sure = max(reads, key=lambda x: x.p)
            if sure.p >= self.sure:
                # a sure answer: the weaker-ranked rest need not be read, but for the best
                # ranked of other articles, which may be a second source or a better answer
                rest = [s for s in pool[at + self.step:self.others]
                        if s.evidence.article_id != sure.evidence.article_id]
                if rest:
                    reads += self._read(question, context, rest)
                break
        reads.sort(key=lambda x: x.score, reverse=True)
        return reads

    def _read(self, question: str, context: str | None, part: list[Scored]) -> list[Read]:
        """The reader's reading of each candidate; a follow-up's is the likelier of the
        question as asked and with the conversation's context."""
        batch = [reader_input(s.evidence) for s in part]
        readings = self.reader.read(question, batch)
        if context and context != question:
            for k, r in enumerate(self.reader.read(context, batch)):
                if r.p_answer > readings[k].p_answer:
                    readings[k] = r
        return [Read(s, r) for s, r in zip(part, readings, strict=True)]

    @staticmethod
    def _article_words(s: Scored, scored: list[Scored]) -> list[str]:
        """The words of what was retrieved of the candidate's article: its title, its sentences
        among the candidates and their neighbours."""
        aid = s.evidence.article_id
        texts = [s.evidence.meta.get("title", "")]
        for o in scored:
            e = o.evidence
            if e.article_id == aid:
                texts += [e.text] + [n.text for n in (e.prev, e.next) if n]
        return re.findall(r"[\w'’-]+", " ".join(texts))

    def mark_short_answer(self, question: str, scored: list[Scored], answer: Answer,
                          accept: float = 0.5) -> Answer:
        """The hand-weighted scorer's answer, with the reader's short answer marked in its
        first quote when the reader agrees that the chosen sentence answers (p >= accept)."""
        if answer.abstained or not answer.citations or not scored:
            return answer
        best = scored[0].evidence
        first = answer.citations[0]
        at = first.quote.find(best.text)
        if at < 0 or first.article_id != best.article_id:
            return answer
        (r,) = self.reader.read(question, [reader_input(best)])
        if r.p_answer < accept or not r.has_span:
            return answer
        marked = replace(first, answer_start=at + r.start, answer_end=at + r.end)
        short = marked.answer.strip()
        return replace(answer, text=f"{short} — {answer.text}", short_answer=short,
                       citations=[marked, *answer.citations[1:]])

    def compose(self, question: str, scored: list[Scored], reads: list[Read],
                copies: Callable[[list[Evidence]], list[str]] | None = None) -> Answer:
        if not reads or reads[0].score < self.threshold:
            best = reads[0].score if reads else 0.0
            text = ABSTAIN_TEXT
            years = years_in(question)
            if years and not reads:
                text = (f"The articles don't cover this for {', '.join(sorted(years))}: none "
                        "of them from that time has a sentence that answers the question.")
            return Answer(text, [], True, round(best, 4))
        accepted = [r for r in reads if r.score >= self.threshold]
        lead = accepted[0]
        chosen = [lead]
        for r in accepted[1:]:
            if len(chosen) >= self.max_citations or r.score < lead.score - self.second_within:
                break
            if any(_overlaps(r.evidence, [c.evidence]) or story_of(r.evidence) ==
                   story_of(c.evidence) for c in chosen):
                continue
            if any(float(np.dot(r.evidence.vector, c.evidence.vector)) > 0.9 for c in chosen):
                continue  # says the same thing again
            chosen.append(r)
        differ = len(chosen) > 1 and _differ(question, chosen[0], chosen[1])
        if len(chosen) > 1 and all(c.evidence.meta.get("published_ts") is not None
                                   for c in chosen):
            chosen.sort(key=lambda c: c.evidence.meta.get("published_ts", -1), reverse=True)
        weights = self.answerer.weights
        parts, citations = [], []
        for n, r in enumerate(chosen, start=1):
            group = _span(r.scored, scored, weights)
            if r.evidence not in group:
                group = [r.evidence]
            span = (r.reading.start, r.reading.end) if r.reading.has_span else None
            part, citation = cite(n, group, r.score, copies, span, r.evidence.text)
            parts.append(part)
            citations.append(citation)
        short = citations[0].answer if not differ else None
        text = " ".join(parts)
        if short:
            text = f"{short.strip()} — {text}"
        if differ:
            text = f"The sources differ. {text}"
        return Answer(text, citations, False, round(lead.score, 4), differ, short)


def _differ(question: str, a: Read, b: Read) -> bool:
    """Two accepted answers from different stories that give other figures or names for the
    same question (700 vs 600 personnel)."""
    kind = qtypes.wanted(question)
    sa, sb = a.span_text, b.span_text
    if kind not in ("number", "place", "person", "time") or not sa or not sb:
        return False
    if kind == "number":
        na = {x.replace(",", "") for x in _NUMBER.findall(sa)}
        nb = {x.replace(",", "") for x in _NUMBER.findall(sb)}
        return bool(na) and bool(nb) and not (na & nb)
    wa = set(re.findall(r"\w+", sa.lower()))
    wb = set(re.findall(r"\w+", sb.lower()))
    return bool(wa) and bool(wb) and not (wa & wb)
