"""Choose the sentences that answer a question and compose a cited reply, or abstain.

No language model: each candidate sentence is scored on meaning (embedding similarity, judged
with the sentence before it, since "the effort" takes its sense from there), on the question's
weighted words found in it and around it, on holding the kind of answer asked for (a number, a
place, a time, a person), and on how well its chunk was retrieved. The reply is built from the
best sentences, verbatim, each followed by its marker.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from core.keyword import KeywordIndex
from qa import qtypes
from qa.evidence import Evidence, story_of
from qa.models import Answer, Citation
from qa.terms import content_terms

# Sentences opening with these lean on the one before; the quote then includes it.
_LEANS_BACK = re.compile(
    r"^(?:it|its|this|that|these|those|they|their|he|she|his|her|such|the (?:effort|move|plan|"
    r"initiative|program|programme|operation|decision|proposal|measure|step|goal|aim)s?)\b",
    re.IGNORECASE,
)
ABSTAIN_TEXT = (
    "The articles don't cover this: none of them has a sentence that answers the question."
)


@dataclass(frozen=True)
class Weights:
    """How a sentence is scored. `threshold` is the support below which we abstain; it is
    calibrated on eval_questions/ (see README, "How the threshold was set")."""

    dense: float = 0.60
    lexical: float = 0.35
    retrieval: float = 0.10
    answer_type: float = 0.10
    support_dense: float = 0.6
    support_lexical: float = 0.4
    near: float = 0.5  # a question word found next to the sentence counts this much
    threshold: float = 0.395
    adjacent_within: float = 0.05  # a neighbour this close in score joins the quote
    second_within: float = 0.06  # a second citation must score this close to the first
    disagree_within: float = 0.12  # a differing source is reported this close to the first
    same_claim: float = 0.6  # sentences this similar speak of the same thing
    max_citations: int = 2


@dataclass
class Scored:
    evidence: Evidence
    dense: float  # similarity, judged with the previous sentence
    vouched: float  # the same, or with the conversation's context when higher
    own: float  # share of the question's word weight in the sentence
    near: float  # share found only in its neighbours or the title
    typed: float  # 1 when it holds the kind of answer asked for
    prior: float  # its chunk's retrieval score relative to the best chunk
    score: float = 0.0
    support: float = 0.0

    def rate(self, w: Weights) -> None:
        lexical = self.own + w.near * self.near
        self.score = (w.dense * self.dense + w.lexical * lexical + w.retrieval * self.prior
                      + w.answer_type * self.typed)
        self.support = w.support_dense * self.vouched + w.support_lexical * lexical


class Answerer:
    def __init__(self, keyword: KeywordIndex | None, weights: Weights | None = None):
        self.keyword = keyword
        self.weights = weights or Weights()

    def _term_weights(self, question: str) -> dict[str, float]:
        terms = set(content_terms(question))
        if self.keyword is None:
            return {t: 1.0 for t in terms}
        return {t: self.keyword.idf(t) for t in terms}

    def features(self, question: str, q_vec: np.ndarray, evidence: list[Evidence],
                 context_vec: np.ndarray | None = None) -> list[Scored]:
        """Every candidate with its features (unrated). For a follow-up, `context_vec` embeds
        the question with the one before it: it vouches for support, not for ranking."""
        if not evidence:
            return []
        weights = self._term_weights(question)
        total = sum(weights.values()) or 1.0
        top_chunk = max(e.chunk_score for e in evidence) or 1.0
        kind = qtypes.wanted(question)
        sims: dict[int, float] = {}

        def sim(e: Evidence) -> float:
            if id(e) not in sims:
                sims[id(e)] = float(np.dot(q_vec, e.vector))
            return sims[id(e)]

        out = []
        for e in evidence:
            dense = sim(e)
            if e.prev is not None:
                dense = max(dense, (dense + sim(e.prev)) / 2)
            vouched = dense
            if context_vec is not None:
                vouched = max(dense, float(np.dot(context_vec, e.vector)))
            own_terms = set(content_terms(e.text))
            around = set(content_terms(e.meta.get("title", "")))
            for n in (e.prev, e.next):
                if n is not None:
                    around.update(content_terms(n.text))
            own = sum(wt for t, wt in weights.items() if t in own_terms) / total
            near = sum(wt for t, wt in weights.items()
                       if t not in own_terms and t in around) / total
            typed = 1.0 if qtypes.holds(kind, e.text) else 0.0
            out.append(Scored(e, dense, vouched, own, near, typed, e.chunk_score / top_chunk))
        return out

    def score(self, question: str, q_vec: np.ndarray, evidence: list[Evidence],
              context_vec: np.ndarray | None = None) -> list[Scored]:
        """Every candidate rated, best first."""
        scored = self.features(question, q_vec, evidence, context_vec)
        for s in scored:
            s.rate(self.weights)
        scored.sort(key=lambda s: s.score, reverse=True)
        return scored

    def compose(self, scored: list[Scored], question: str = "",
                copies: Callable[[list[Evidence]], list[str]] | None = None) -> Answer:
        """The reply from rated candidates (best first), or an abstention. `copies` names the
        other articles of a cited story, listed as "also in"."""
        w = self.weights
        if not scored or scored[0].support < w.threshold:
            best = scored[0].support if scored else 0.0
            return Answer(ABSTAIN_TEXT, [], True, round(best, 4))
        best = scored[0]
        chosen = [(best, _span(best, scored, w))]
        differ = False
        rival = self._rival(question, scored, chosen[0][1])
        if rival is not None:
            chosen.append((rival, _span(rival, scored, w)))
            differ = True
        else:
            for s in scored[1:]:
                if len(chosen) >= w.max_citations or s.score < best.score - w.second_within:
                    break
                if s.support < w.threshold or any(
                        _overlaps(s.evidence, g) or story_of(s.evidence) == story_of(g[0])
                        for _, g in chosen):
                    continue
                if any(float(np.dot(s.evidence.vector, e.vector)) > 0.9
                       for _, g in chosen for e in g):
                    continue  # says the same thing again
                chosen.append((s, _span(s, scored, w)))
        if len(chosen) > 1 and all(g[0].meta.get("published_ts") is not None for _, g in chosen):
            # equally supported (or disagreeing): the newest leads
            chosen.sort(key=lambda c: c[1][0].meta.get("published_ts", -1), reverse=True)
        parts, citations = [], []
        for n, (s, group) in enumerate(chosen, start=1):
            part, citation = cite(n, group, s.support, copies)
            parts.append(part)
            citations.append(citation)
        text = " ".join(parts)
        if differ:
            text = f"The sources differ. {text}"
        return Answer(text, citations, False, round(best.support, 4), differ)

    def _rival(self, question: str, scored: list[Scored], best: list[Evidence]) -> Scored | None:
        """A nearly-as-good sentence from another story that says the same thing with other
        figures or names (700 vs 600 personnel), or None."""
        w = self.weights
        kind = qtypes.wanted(question)
        if kind not in ("number", "place", "person"):
            return None  # only figures and names are compared
        mine = _figures(quote_for(best), question, kind)
        if not mine:
            return None
        lead = scored[0]
        for s in scored[1:]:
            if s.score < lead.score - w.disagree_within:
                break
            if s.support < w.threshold or story_of(s.evidence) == story_of(best[0]):
                continue
            if (float(np.dot(s.evidence.vector, best[0].vector)) < w.same_claim
                    or s.own < w.same_claim * lead.own):
                continue  # not a claim about the same thing
            theirs = _figures(s.evidence.text, question, kind)
            if theirs and not (theirs & mine):
                return s
        return None


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")


def _figures(text: str, question: str, kind: str | None) -> set[str]:
    """The figures a sentence states for a number question (numbers, not years), or for a
    question about a place or a person, the names it gives that the question does not."""
    if kind == "number":
        return {n.replace(",", "") for n in _NUMBER.findall(text)
                if not re.fullmatch(r"(19|20)\d\d", n)} - set(_NUMBER.findall(question))
    asked = set(re.findall(r"\w+", question.lower()))
    return {m for m in _NAME.findall(text)[1:]
            if not set(re.findall(r"\w+", m.lower())) & asked}


def _span(best: Scored, scored: list[Scored], w: Weights) -> list[Evidence]:
    """The best sentence, joined by the next one when that one carries it on ("This
    includes …", "The goal is …"), or by a neighbour in its paragraph that scores nearly as
    well: an answer often runs over two sentences. In article order."""
    group = [best.evidence]
    follower = best.evidence.next
    if (follower is not None and follower.paragraph == best.evidence.paragraph
            and _LEANS_BACK.match(follower.text)):
        return [best.evidence, follower]
    for s in scored:
        e = s.evidence
        if (s is not best and s.score >= best.score - w.adjacent_within
                and e.article_id == best.evidence.article_id
                and e.paragraph == best.evidence.paragraph
                and abs(e.index - best.evidence.index) == 1):
            group.append(e)
            break
    return sorted(group, key=lambda e: e.index)


def cite(n: int, group: list[Evidence], score: float,
         copies: Callable[[list[Evidence]], list[str]] | None = None,
         span: tuple[int, int] | None = None, sentence: str = "") -> tuple[str, Citation]:
    """The reply's part for one cited group ("As of <date>: <quote> [n]") and its Citation.
    `span` is a short answer's characters in `sentence`, one of the group's sentences; it is
    located in the quote."""
    quote = quote_for(group)
    start = end = None
    if span is not None and (at := quote.find(sentence)) >= 0:
        start, end = at + span[0], at + span[1]
    m = group[0].meta
    date = m.get("published")
    part = f"As of {date}: {quote} [{n}]" if date else f"{quote} [{n}]"
    also = tuple(copies(group)) if copies else ()
    return part, Citation(number=n, article_id=group[0].article_id, title=m.get("title", ""),
                          quote=quote, url=m.get("url"), published=date, score=round(score, 4),
                          also_in=also, answer_start=start, answer_end=end,
                          source=m.get("source"))


def _overlaps(a: Evidence, group: list[Evidence]) -> bool:
    """In the group already, or next to it, where quotes would repeat each other."""
    return any(a.article_id == b.article_id and abs(a.index - b.index) <= 1 for b in group)


def quote_for(group: list[Evidence]) -> str:
    """The sentences verbatim, with the one before the first when it cannot stand alone."""
    first = group[0]
    sentences = [e.text for e in group]
    if (first.prev is not None and first.prev.paragraph == first.paragraph
            and _LEANS_BACK.match(first.text)):
        sentences.insert(0, first.prev.text)
    return " ".join(sentences)


def clip_quotes(answer: Answer, limit: int) -> Answer:
    """Quotes longer than limit characters (QA_MAX_QUOTE_CHARS: a run-on "sentence" of a
    badly formatted article) cut to a window around the short answer, or to their start, at
    word boundaries and marked with "…", in the citations and in the reply alike."""
    if all(len(c.quote) <= limit for c in answer.citations):
        return answer
    text, citations = answer.text, []
    for c in answer.citations:
        if len(c.quote) <= limit:
            citations.append(c)
            continue
        q = c.quote
        if c.answer_start is not None and c.answer_end is not None:
            a = max(0, c.answer_start - (limit - (c.answer_end - c.answer_start)) // 2)
        else:
            a = 0
        b = min(len(q), a + limit)
        a = max(0, b - limit)
        if a > 0 and (sp := q.find(" ", a, a + 40)) >= 0:
            a = sp + 1
        if b < len(q) and (sp := q.rfind(" ", b - 40, b)) > a:
            b = sp
        start = end = None
        if c.answer_start is not None and a <= c.answer_start and c.answer_end <= b:
            lead = 1 if a > 0 else 0
            start, end = c.answer_start - a + lead, c.answer_end - a + lead
        clipped = ("…" if a > 0 else "") + q[a:b] + ("…" if b < len(q) else "")
        text = text.replace(q, clipped, 1)
        citations.append(replace(c, quote=clipped, answer_start=start, answer_end=end))
    return replace(answer, text=text, citations=citations)
