"""Turn scraped article text into clean paragraphs: boilerplate, placeholders, tags and heading
ids removed.

Every paragraph kept is a stretch of the original text (trimmed at its ends only), so every
sentence later quoted from it can be found verbatim in the article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.sentences import sentence_spans

# Lines that are site furniture, not reporting.
_BOILERPLATE_LINES = {
    "no time to read?",
    "get a summary",
    "share this article",
    "share",
    "advertisement",
    "read more",
    "related articles",
    "subscribe",
}
# Navigation markers: the marker and the headline after it belong to other stories.
_NAVIGATION_LINES = {"previous article", "next article", "previous post", "next post",
                     "read next", "up next"}
_PLACEHOLDER = re.compile(r"\{[A-Z][A-Z0-9_]*\}")
_CITATION_TAG = re.compile(r"\s*\((?:Citation|Source|Sources):[^)]*\)")
# a Markdown heading's id left in converted text ("What We Learned {#toc3}")
_HEADING_ID = re.compile(r"\s*\{#[A-Za-z][\w:.-]*\}")
# "BRUSSELS, Belgium. ", "KYIV (Reuters) - ", "WASHINGTON — "
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z'.\- ]{2,}(?:,\s*[A-Z][A-Za-z'.\- ]+)?)\s*(?:\([^)]{1,40}\))?"
    r"\s*(?:\.|—|–|-{1,2})\s+(?=[A-Z“\"‘'])"
)
_TERMINAL = tuple(".!?…:;,\"”’)]")


@dataclass(frozen=True)
class Paragraph:
    text: str
    heading: bool = False


@dataclass(frozen=True)
class CleanText:
    paragraphs: list[Paragraph]
    title: str | None  # a headline found at the top of the text
    dateline: str | None


def is_heading_like(line: str) -> bool:
    """A short line with no closing punctuation: a headline or a section heading."""
    words = line.split()
    return (
        0 < len(words) <= 16
        and not line.endswith(_TERMINAL)
        and (line[0].isupper() or line[0].isdigit() or line[0] in "“\"'")
    )


_ENDS_SENTENCE = re.compile(r"[.!?…][\"”’)\]]*$")


def run_in_heading(line: str) -> tuple[str, str] | None:
    """A short line that ends a paragraph with a full sentence and then runs the next section's
    heading into it ("Purshable won 1st place in CNT's Urban Sustainability Apps Challenge.
    TechSpaces", as converted posts do), split into that text and the heading; None for any
    other line. Taken whole for a heading, the line's sentence was never indexed."""
    spans = sentence_spans(line)
    if len(spans) < 2:
        return None
    body, head = line[:spans[-1][0]].rstrip(), line[spans[-1][0]:].strip()
    last = line[spans[-2][0]:spans[-2][1]]
    if (_ENDS_SENTENCE.search(body) and len(last.split()) >= 4 and is_heading_like(head)
            and not _ENDS_SENTENCE.search(head)):
        return body, head
    return None


def _strip_markdown_heading(line: str) -> tuple[str, bool]:
    m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
    return (m.group(1), True) if m else (line, False)


def clean_text(raw: str, *, markdown: bool = False) -> CleanText:
    """Split into paragraphs (one per non-empty line) and drop what is not the article."""
    lines = [line.strip() for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept: list[Paragraph] = []
    skip_next_headline = False
    for line in lines:
        if not line:
            continue
        lowered = line.lower().rstrip(":")
        if lowered in _NAVIGATION_LINES:
            skip_next_headline = True
            continue
        if skip_next_headline:
            skip_next_headline = False
            if is_heading_like(_PLACEHOLDER.sub("", line).strip() or "X"):
                continue  # the linked headline of another story
        if lowered in _BOILERPLATE_LINES:
            continue
        heading = False
        if markdown:
            line, heading = _strip_markdown_heading(line)
        line = _HEADING_ID.sub("", _CITATION_TAG.sub("", _PLACEHOLDER.sub("", line))).strip()
        if not line or not any(ch.isalnum() for ch in line):
            continue
        if not heading and is_heading_like(line) and (parts := run_in_heading(line)):
            kept += [Paragraph(parts[0]), Paragraph(parts[1], True)]
            continue
        kept.append(Paragraph(line, heading or is_heading_like(line)))

    title = None
    if kept and kept[0].heading and len(kept) > 1:
        title = kept.pop(0).text
    dateline = None
    for i, para in enumerate(kept):
        if para.heading:
            continue
        m = _DATELINE.match(para.text)
        if m:
            dateline = m.group("place").strip()
            kept[i] = Paragraph(para.text[m.end():].strip())
        break
    return CleanText(kept, title, dateline)


_LEAD_IN = re.compile(r"^(?:(?:this|last|next|earlier this|later this) (?:week|month|year)|"
                      r"on \w+day|yesterday|today|earlier|recently|meanwhile|however),\s+",
                      re.IGNORECASE)
_CLAUSE_END = re.compile(r",\s|;\s|:\s|\s[—–]\s|\s(?:that|which|who|where|while|after|"
                         r"because|as|when|amid|despite|following)\s")
_TRAILING = {"a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "with", "and", "or",
             "from", "its", "their", "his", "her", "that", "this", "as", "is", "are", "was"}


def derive_title(first_sentence: str, max_words: int = 12) -> str:
    """A title for an article that has none, as a headline-length phrase from its first
    sentence: without a lead-in ("This week, …"), ended at a clause boundary (a comma, "that",
    "which" …) within max_words, else at a word that can end a phrase. Never "…"."""
    text = _LEAD_IN.sub("", first_sentence.strip()).rstrip(".!? ")
    text = text[:1].upper() + text[1:]
    words = text.split()
    if len(words) <= max_words:
        return text
    room = len(" ".join(words[:max_words]))
    cuts = [m.start() for m in _CLAUSE_END.finditer(text)
            if m.start() <= room and len(text[:m.start()].split()) >= 4]
    if cuts:
        return text[:cuts[-1]].rstrip(",;: ")
    kept = words[:max_words]
    while len(kept) > 4 and kept[-1].lower().strip(",;:") in _TRAILING:
        kept.pop()
    return " ".join(kept).rstrip(",;:")
