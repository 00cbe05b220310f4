"""The public result types: small frozen dataclasses that cross every boundary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    number: int  # the [n] marker it backs
    article_id: str
    title: str
    quote: str  # verbatim sentence(s) from the article
    url: str | None = None
    published: str | None = None  # ISO date
    score: float = 0.0
    also_in: tuple[str, ...] = ()  # other articles carrying the same story (copies, re-posts)
    # the short answer inside `quote`: quote[answer_start:answer_end], when the reader marked one
    answer_start: int | None = None
    answer_end: int | None = None
    source: str | None = None  # the outlet, when the article says (JSON `source`, site name)

    @property
    def answer(self) -> str | None:
        """The short answer the reader marked in the quote, or None."""
        if self.answer_start is None or self.answer_end is None:
            return None
        return self.quote[self.answer_start:self.answer_end]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["also_in"] = list(self.also_in)
        return d


@dataclass(frozen=True)
class Answer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    support: float = 0.0  # how well the best sentence answers; compared with the threshold
    sources_differ: bool = False  # the best sources give different figures or names
    short_answer: str | None = None  # the reader's short answer ("Wiesbaden, Germany"), if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "support": self.support,
            "sources_differ": self.sources_differ,
            "short_answer": self.short_answer,
        }
