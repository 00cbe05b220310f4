"""Sentence splitting and packing sentences into chunks that respect paragraphs."""

from __future__ import annotations

from dataclasses import dataclass

from core.sentences import split_sentences
from index.cleaning import Paragraph

MAX_CHUNK_WORDS = 110


@dataclass(frozen=True)
class Sentence:
    index: int  # position in the article
    paragraph: int
    text: str
    heading: str | None = None  # the section heading above it, if any


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    sentences: tuple[Sentence, ...]  # empty only for a chunk that is all headings


def sentences_of(paragraphs: list[Paragraph]) -> list[Sentence]:
    out: list[Sentence] = []
    heading = None
    for p, para in enumerate(paragraphs):
        if para.heading:
            heading = para.text
            continue
        for text in split_sentences(para.text):
            out.append(Sentence(len(out), p, text, heading))
    return out


def chunk_article(paragraphs: list[Paragraph], max_words: int = MAX_CHUNK_WORDS) -> list[Chunk]:
    """Pack whole sentences into chunks of at most ~max_words, starting a new chunk at a
    heading or where the next paragraph would not fit; a heading stays with what follows it."""
    sentences = sentences_of(paragraphs)
    by_para: dict[int, list[Sentence]] = {}
    for s in sentences:
        by_para.setdefault(s.paragraph, []).append(s)

    chunks: list[Chunk] = []
    lines: list[str] = []
    current: list[Sentence] = []
    words = 0

    def flush() -> None:
        nonlocal lines, current, words
        if current:
            chunks.append(Chunk(len(chunks), "\n".join(lines), tuple(current)))
        lines, current, words = [], [], 0

    for p, para in enumerate(paragraphs):
        if para.heading:
            if current:
                flush()
            lines.append(para.text)
            continue
        para_sents = by_para.get(p, [])
        para_words = sum(len(s.text.split()) for s in para_sents)
        if current and words + para_words > max_words:
            flush()
        piece: list[str] = []
        for s in para_sents:
            n = len(s.text.split())
            if current and words + n > max_words:
                if piece:
                    lines.append(" ".join(piece))
                    piece = []
                flush()
            piece.append(s.text)
            current.append(s)
            words += n
        if piece:
            lines.append(" ".join(piece))
    flush()
    return chunks
