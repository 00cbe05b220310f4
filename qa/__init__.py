"""newsqa: answers from news articles, every claim cited to the sentence it came from.

    from qa import ask
    a = ask("Where will the Ukraine support command be based?")
    a.text, a.citations, a.abstained
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from core.errors import (
    ArticlesNotFound,
    IndexDamaged,
    IndexMismatch,
    InvalidQuestion,
    InvalidSetting,
    NewsQAError,
    StoreUnavailable,
)
from qa.models import Answer, Citation

if TYPE_CHECKING:
    from qa.engine import Engine

__all__ = [
    "Answer", "ArticlesNotFound", "Citation", "IndexDamaged", "IndexMismatch", "InvalidQuestion",
    "InvalidSetting", "NewsQAError", "StoreUnavailable", "ask", "default_engine",
]

_engine: Engine | None = None
_engine_lock = threading.Lock()


def default_engine() -> Engine:
    """The one engine behind ask(), made from the QA_ settings on first use."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                from qa.engine import Engine

                _engine = Engine()
    return _engine


def ask(question: str, *, history: list[dict] | None = None, since: str | None = None,
        until: str | None = None) -> Answer:
    """Answer a question from the articles; see Answer and Citation for what comes back.
    `since`/`until` (ISO dates, inclusive) keep to articles published in that range."""
    return default_engine().ask(question, history=history, since=since, until=until)
