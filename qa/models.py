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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    support: float = 0.0  # how well the best sentence answers; compared with the threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "support": self.support,
        }
