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


def _first(kinds: list[tuple[str, re.Pattern]], question: str) -> str | None:
    return next((kind for kind, pattern in kinds if pattern.search(question)), None)


def wanted(question: str) -> str | None:
    """The answer type a question asks for, or None when it asks for none in particular."""
    return _first(_WANTS, question)


def holds(kind: str | None, sentence: str) -> bool:
    return kind is not None and bool(_HAS[kind].search(sentence))


# The gate (qa.reading): a question whose own wh-phrase asks for a count or an amount ("How many
# …", "How much …") or a time ("When …", "What year …") is not answered by a sentence holding
# no figure or no time at all: "The NIH 3D Print Exchange enhances learning and research" is on
# the topic of "How many models had been downloaded …?", and the reader scores on-topic
# sentences high. Narrower than `wanted` on the question side (the wh-phrase opens it: "Which
# website shows how much they would save …" and "How old was she when …" ask no such thing) and
# broader on the sentence side (any figure, "twenty percent", "a few", "ago", "soon", "later
# this year"), so that it drops only sentences that cannot hold the answer. "After repairs" and
# "since its launch" hold no time: before, after, since or until are not enough on their own;
# "at nine" is a time.
_LEAD = (r"^\W*(?:(?:and|so|but|in|by|since|about|roughly|approximately|exactly|on|at|from|"
         r"until)\s+)?")
_ASKS = [
    ("number", re.compile(_LEAD + r"how (many|much)\b", re.I)),
    ("time", re.compile(_LEAD + r"(when\b|(what|which) (year|date|month|day|time)\b|"
                        r"how soon\b)", re.I)),
]
_COUNTS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
           r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
           r"eighty|ninety|hundreds?|thousands?|millions?|billions?|trillions?|dozens?|half|"
           r"thirds?|quarters?|several|few|percent|once|twice|single|double|triple|none|zero|"
           r"no one|nobody|nothing|free")
_UNITS = (r"hours?|days?|weeks?|months?|years?|decades?|century|centuries|weekends?|nights?|"
          r"mornings?|evenings?|afternoons?")
_GIVES = {
    "number": re.compile(rf"\d|\b({_COUNTS})\b", re.I),
    "time": re.compile(rf"\d|\b({_MONTHS}|yesterday|today|tonight|tomorrow|ago|"
                       r"soon|later|earlier|recently|now|currently|annual|annually|daily|weekly|"
                       r"monthly|yearly|spring|summer|autumn|fall|winter|season|monday|tuesday|"
                       r"wednesday|thursday|friday|saturday|sunday|upcoming|previous|former|"
                       rf"formerly|next|past|future|eventually|already|yet|noon|midnight|dawn|"
                       rf"dusk|o'clock|{_UNITS})\b|\b[ap]\.m\.|\b(at|by|from|until|till|before|"
                       r"after) (one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                       r"twelve)\b", re.I),
}


def asked(question: str) -> str | None:
    """"number" or "time" when the question's opening wh-phrase asks for one, else None."""
    return _first(_ASKS, question)


def can_answer(kind: str | None, sentence: str) -> bool:
    """Whether a sentence holds anything of the kind asked (any sentence, when none is)."""
    return kind is None or bool(_GIVES[kind].search(sentence))
