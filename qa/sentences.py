"""Sentence splitting, shared by ingest (index.chunking) and the reader's training (qa.train), so
the reader learns on sentences cut the way the index cuts them."""

from __future__ import annotations

import os
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


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a paragraph, whitespace trimmed."""
    out = []
    for a, b in _punkt().span_tokenize(text):
        piece = text[a:b]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            out.append((a + lead, a + len(piece.rstrip())))
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, each an exact substring of it."""
    return [text[a:b] for a, b in sentence_spans(text)]
