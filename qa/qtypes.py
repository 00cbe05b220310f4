"""What kind of answer a question wants (a number, a place, a time, a person) and whether a
sentence holds one: the cue a reader uses to skip sentences that are on topic but no answer."""

from __future__ import annotations

import re

_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|"
                 r"hundreds?|thousands?|millions?|billions?|half|third|quarter|several")
_MONTHS = (r"january|february|march|april|may|june|july|august|september|october|november|"
           r"december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")

_WANTS = [
    ("number", re.compile(r"\b(how (many|much|large|big|long|far)|what (number|percentage|"
                          r"share|proportion|amount|fraction)|how much money)\b", re.I)),
    ("time", re.compile(r"\b(when|what (year|date|month|day|time)|how soon|by when)\b", re.I)),
    ("place", re.compile(r"\b(where|what (city|country|place|location|region|town)|"
                         r"in which (city|country|place|region))\b", re.I)),
    ("person", re.compile(r"\b(who|whom|whose|which (official|person|leader|general))\b", re.I)),
]

_HAS = {
    "number": re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I),
    "time": re.compile(rf"\b(({_MONTHS})\b|(19|20)\d\d\b|yesterday|today|tomorrow|"
                       r"(this|next|last|coming) (week|month|year|spring|summer|autumn|fall|"
                       r"winter)|upcoming|monday|tuesday|wednesday|thursday|friday|saturday|"
                       r"sunday)", re.I),
    "place": re.compile(r"\b(in|at|from|near|to|based|headquartered|located)\s+(the\s+|a\s+)?"
                        r"(U\.S\.\s+\w+\s+in\s+)?[A-Z][a-z]+|\b(headquartered|based|located|"
                        r"hosted)\b"),
    "person": re.compile(r"\b[A-Z][a-z]+\s+[A-Z][a-z]+\b|\b(Secretary|General|President|"
                         r"Minister|Chancellor|Commander|Chief)\b"),
}


def wanted(question: str) -> str | None:
    """The answer type a question asks for, or None when it asks for none in particular."""
    for kind, pattern in _WANTS:
        if pattern.search(question):
            return kind
    return None


def holds(kind: str | None, sentence: str) -> bool:
    return kind is not None and bool(_HAS[kind].search(sentence))
