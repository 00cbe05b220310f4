"""Choose the sentences that answer a question and compose a cited reply, or abstain.

No language model: each candidate sentence is scored on meaning (embedding similarity, judged
with the sentence before it, since "the effort" takes its sense from there), on the question's
weighted words it contains, and on how well its chunk was retrieved. The reply is built from
the best sentences, verbatim, each followed by its marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa import qtypes
from qa.evidence import Evidence
from qa.keyword import KeywordIndex
from qa.models import Answer, Citation
from qa.terms import content_terms

# Sentences opening with these lean on the one before; the quote then includes it.
_LEANS_BACK = re.compile(
    r"^(?:it|its|this|that|these|those|they|their|he|she|his|her|such|the (?:effort|move|plan|"
    r"initiative|program|programme|operation|decision|proposal|measure|step)s?)\b",
    re.IGNORECASE,
)
ABSTAIN_TEXT = (
    "The articles don't cover this: none of them has a sentence that answers the question."
)


@dataclass(frozen=True)
class Weights:
    """How a sentence is scored. `threshold` is the support below which we abstain;
    it is calibrated on eval_questions/ (see README)."""

    dense: float = 0.50
    lexical: float = 0.25
    retrieval: float = 0.15
    answer_type: float = 0.10
    support_dense: float = 0.55
    support_lexical: float = 0.35
    support_answer_type: float = 0.10
    threshold: float = 0.42
    second_within: float = 0.06  # a second citation must score this close to the first
    max_citations: int = 2


@dataclass
class Scored:
    evidence: Evidence
    dense: float
    lexical: float
    score: float
    support: float


class Answerer:
    def __init__(self, keyword: KeywordIndex | None, weights: Weights | None = None):
        self.keyword = keyword
        self.weights = weights or Weights()

    def _term_weights(self, question: str) -> dict[str, float]:
        terms = set(content_terms(question))
        if self.keyword is None:
            return {t: 1.0 for t in terms}
        return {t: self.keyword.idf(t) for t in terms}

    def score(self, question: str, q_vec: np.ndarray, evidence: list[Evidence],
              context_vec: np.ndarray | None = None) -> list[Scored]:
        """Every candidate scored, best first. For a follow-up, `context_vec` embeds the
        question together with the one before it: it vouches for support, not for ranking."""
        if not evidence:
            return []
        w = self.weights
        weights = self._term_weights(question)
        total = sum(weights.values())
        top_chunk = max(e.chunk_score for e in evidence) or 1.0
        kind = qtypes.wanted(question)
        sims: dict[int, float] = {}

        def sim(e: Evidence) -> float:
            key = id(e)
            if key not in sims:
                sims[key] = float(np.dot(q_vec, e.vector))
            return sims[key]

        out = []
        for e in evidence:
            dense = sim(e)
            if e.prev is not None:
                dense = max(dense, (dense + sim(e.prev)) / 2)
            if total > 0:
                own = set(content_terms(e.text))
                around = set(content_terms(e.meta.get("title", "")))
                for n in (e.prev, e.next):
                    if n is not None:
                        around.update(content_terms(n.text))
                hit = sum(wt for t, wt in weights.items() if t in own)
                near = sum(wt for t, wt in weights.items() if t not in own and t in around)
                lexical = (hit + 0.5 * near) / total
            else:
                lexical = 0.0
            prior = e.chunk_score / top_chunk
            typed = 1.0 if qtypes.holds(kind, e.text) else 0.0
            score = (w.dense * dense + w.lexical * lexical + w.retrieval * prior
                     + w.answer_type * typed)
            vouched = dense
            if context_vec is not None:
                vouched = max(dense, float(np.dot(context_vec, e.vector)))
            support = (w.support_dense * vouched + w.support_lexical * lexical
                       + w.support_answer_type * typed)
            out.append(Scored(e, dense, lexical, score, support))
        out.sort(key=lambda s: s.score, reverse=True)
        return out

    def compose(self, scored: list[Scored]) -> Answer:
        w = self.weights
        if not scored or scored[0].support < w.threshold:
            best = scored[0].support if scored else 0.0
            return Answer(ABSTAIN_TEXT, [], True, round(best, 4))
        chosen = [scored[0]]
        for s in scored[1:]:
            if len(chosen) >= w.max_citations or s.score < scored[0].score - w.second_within:
                break
            if s.support < w.threshold or any(_overlaps(s.evidence, c.evidence) for c in chosen):
                continue
            if any(float(np.dot(s.evidence.vector, c.evidence.vector)) > 0.9 for c in chosen):
                continue  # says the same thing again
            chosen.append(s)
        parts, citations = [], []
        for n, s in enumerate(chosen, start=1):
            quote = quote_for(s.evidence)
            parts.append(f"{quote} [{n}]")
            m = s.evidence.meta
            citations.append(Citation(
                number=n, article_id=s.evidence.article_id, title=m.get("title", ""),
                quote=quote, url=m.get("url"), published=m.get("published"),
                score=round(s.support, 4),
            ))
        return Answer(" ".join(parts), citations, False, round(scored[0].support, 4))


def _overlaps(a: Evidence, b: Evidence) -> bool:
    """Same sentence, or neighbours whose quotes would repeat each other."""
    return a.article_id == b.article_id and abs(a.index - b.index) <= 1


def quote_for(e: Evidence) -> str:
    """The sentence, with the one before it when it cannot stand alone."""
    if e.prev is not None and e.prev.paragraph == e.paragraph and _LEANS_BACK.match(e.text):
        return f"{e.prev.text} {e.text}"
    return e.text
