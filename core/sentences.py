"""Sentence splitting, shared by ingest (index.chunking) and the reader's training (qa.train), so
the reader learns on sentences cut the way the index cuts them."""

from __future__ import annotations

import os
import re
from functools import lru_cache


@lru_cache(maxsize=1)
def _punkt():
    """NLTK's Punkt English model, from the copy llama-index-core ships (nothing downloaded)."""
    import llama_index.core
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    cache = os.path.join(os.path.dirname(llama_index.core.__file__), "_static", "nltk_cache")
    if cache not in nltk.data.path:
        nltk.data.path.append(cache)
    tokenizer = PunktTokenizer("english")
    tokenizer._params.abbrev_types.update({"u.s", "u.k", "u.n", "gen", "lt", "col", "sgt",
                                          "gov", "sen", "rep", "dr", "mr", "mrs", "ms", "st"})
    return tokenizer


WINDOW = 8000  # characters Punkt reads at a time: its regular expressions have a time limit
_FALLBACK = re.compile(r"[^.!?]*(?:[.!?]+|$)")


def _windows(text: str) -> list[tuple[int, str]]:
    """A long run-on paragraph in pieces of at most WINDOW characters, cut at whitespace."""
    out, at = [], 0
    while len(text) - at > WINDOW:
        cut = text.rfind(" ", at + WINDOW // 2, at + WINDOW)
        cut = cut if cut > at else at + WINDOW
        out.append((at, text[at:cut]))
        at = cut
    out.append((at, text[at:]))
    return out


def _spans(text: str) -> list[tuple[int, int]]:
    try:
        return list(_punkt().span_tokenize(text))
    except Exception:  # nltk's regex time limit (nltk/redos.py) on pathological text
        return [m.span() for m in _FALLBACK.finditer(text) if m.group().strip()]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a paragraph, whitespace trimmed. A paragraph longer
    than WINDOW characters is split in pieces first, so one run-on upload cannot stall or
    break an ingest."""
    out = []
    for offset, part in _windows(text):
        for a, b in _spans(part):
            piece = part[a:b]
            if piece.strip():
                lead = len(piece) - len(piece.lstrip())
                out.append((offset + a + lead, offset + a + len(piece.rstrip())))
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, each an exact substring of it."""
    return [text[a:b] for a, b in sentence_spans(text)]
