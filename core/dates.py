"""Publication dates: read from metadata when given, else from the article's opening text when
exactly one date appears there; otherwise none (a wrong date is worse than no date)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], start=1)}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_M = r"(January|February|March|April|May|June|July|August|September|October|November|" \
     r"December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
_PATTERNS = [
    (re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b"), ("y", "m", "d")),
    (re.compile(rf"\b{_M}\s+(\d{{1,2}}),?\s+((?:19|20)\d\d)\b", re.I), ("mon", "d", "y")),
    (re.compile(rf"\b(\d{{1,2}})\s+{_M},?\s+((?:19|20)\d\d)\b", re.I), ("d", "mon", "y")),
]


def normalise_date(value: Any) -> str | None:
    """An ISO date (YYYY-MM-DD) from common forms, or None when it cannot be read."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value)).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    for fmt in ("%Y/%m/%d", "%d %B %Y", "%B %d, %Y", "%b %d, %Y", "%d %b %Y",
                "%a, %d %b %Y %H:%M:%S %z", "%Y%m%d"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    found = dates_in(text)
    return found.pop() if len(found) == 1 else None


def dates_in(text: str) -> set[str]:
    """Every full calendar date written in the text, as ISO strings."""
    out = set()
    for pattern, order in _PATTERNS:
        for m in pattern.finditer(text):
            parts = dict(zip(order, m.groups(), strict=True))
            month = int(parts["m"]) if "m" in parts else _MONTHS[parts["mon"].lower().rstrip(".")]
            try:
                out.add(date(int(parts["y"]), month, int(parts["d"])).isoformat())
            except ValueError:
                continue
    return out


def date_from_text(opening: list[str]) -> str | None:
    """The date of an article from its first paragraphs (dateline included), when exactly one
    date appears there."""
    found = dates_in("\n".join(opening))
    return found.pop() if len(found) == 1 else None


def day_number(iso: str) -> int:
    """Days since 1970-01-01: a number Chroma can range-filter on."""
    return (date.fromisoformat(iso) - date(1970, 1, 1)).days
