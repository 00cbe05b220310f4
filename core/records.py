"""The stored record format, in one place: what ingest writes into a chunk record and what
answering, the catalogue and `--check` read back.

A chunk record has the id `<article>#<content hash>:<n>`, a vector (the mean of its
sentences'), and flat metadata: the article's (`article_id`, `title`, `content_hash`,
`n_chunks`, `path`, `story_id`, `url`, `published`, `published_ts`, `source`), the chunk's
(`chunk_index`, `sent_start`, `sent_end`, `n_sentences`) and its sentences' (`sent_spans`
"start:end,…" in the chunk's text, `sent_paras`, `sent_hashes`, `sent_vecs` float16 base64),
plus llama-index's `_node_content` with the text. An article's version is complete when all
`n_chunks` of its records are stored.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# The keys llama-index's own copy of a node (`_node_content`) carries: what describes the
# article, so plain llama-index over the collection knows where a chunk comes from. Every key,
# these too, is stored flat once; node_metadata() gives the nodes this project reads the rest.
NODE_KEYS = ("article_id", "title", "url", "published", "source", "chunk_index")
_NOT_NODE = ("sent_vecs", "document_id", "doc_id", "ref_doc_id")


def node_metadata(flat: dict) -> dict:
    """A record's metadata as the nodes answering reads carry it: every flat key but the
    sentence vectors (read apart, as needed) and llama-index's own bookkeeping."""
    return {k: v for k, v in flat.items() if not k.startswith("_") and k not in _NOT_NODE}


# Keys every chunk record carries (index.check verifies them).
REQUIRED = ("article_id", "content_hash", "n_chunks", "chunk_index", "sent_start", "sent_end",
            "sent_spans", "sent_vecs", "_node_content")


def chunk_record_id(article_id: str, content_hash: str, position: int) -> str:
    """The id of a chunk record: ingest writes it, answering reads a neighbour chunk by it."""
    return f"{article_id}#{content_hash}:{position}"


def neighbour_ids(meta: dict) -> list[str]:
    """The chunks before and after one, where a sentence next to its own may lie."""
    position, ids = int(meta["chunk_index"]), []
    if int(meta["sent_start"]) > 0:
        ids.append(chunk_record_id(meta["article_id"], meta["content_hash"], position - 1))
    if int(meta["sent_end"]) < int(meta["n_sentences"]):
        ids.append(chunk_record_id(meta["article_id"], meta["content_hash"], position + 1))
    return ids


# -- the sentences of a chunk ------------------------------------------------------------------
def pack_vectors(vectors: np.ndarray) -> str:
    """Sentence vectors as a metadata string (float16, base64): 1 KB a sentence of 384 dims."""
    return base64.b64encode(np.ascontiguousarray(vectors, dtype=np.float16).tobytes()).decode()


def unpack_vectors(packed: str, n: int) -> np.ndarray:
    """The n float32 rows pack_vectors wrote."""
    flat = np.frombuffer(base64.b64decode(packed), dtype=np.float16)
    return flat.reshape(n, -1).astype(np.float32)


def sentence_vectors(chunk_meta: dict) -> np.ndarray:
    """The vectors of a chunk record's sentences, one row each, in order."""
    n = int(chunk_meta["sent_end"]) - int(chunk_meta["sent_start"])
    return unpack_vectors(chunk_meta["sent_vecs"], n)


def sentence_fields(text: str, sentences: Sequence[str], paragraphs: Sequence[int],
                    hashes: Sequence[str]) -> dict[str, str]:
    """The sentence keys of a chunk record (all but the vectors): where each sentence lies in
    the chunk's text, its paragraph and its hash."""
    spans, at = [], 0
    for s in sentences:
        start = text.index(s, at)
        at = start + len(s)
        spans.append(f"{start}:{at}")
    return {"sent_spans": ",".join(spans), "sent_paras": ",".join(str(p) for p in paragraphs),
            "sent_hashes": ",".join(hashes)}


@dataclass(frozen=True)
class ChunkSentences:
    """The sentences a chunk record holds: their words (cut from the chunk's text at their
    spans), paragraphs, hashes and vectors."""

    start: int  # the first sentence's position in the article
    texts: list[str]
    paragraphs: list[int]
    hashes: list[str]
    vectors: np.ndarray

    @classmethod
    def from_record(cls, text: str, meta: dict) -> ChunkSentences:
        spans = [span.split(":") for span in meta["sent_spans"].split(",")]
        texts = [text[int(a):int(b)] for a, b in spans]
        return cls(int(meta["sent_start"]), texts,
                   [int(p) for p in meta["sent_paras"].split(",")],
                   meta["sent_hashes"].split(","),
                   sentence_vectors(meta))


# -- which version of an article is stored and complete -----------------------------------------
@dataclass
class StoredArticle:
    """What the store holds of one article: chunk ids by content hash, the count each version
    expects, and the files it was read from."""

    ids_by_hash: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    expected: dict[str, int] = field(default_factory=dict)
    paths: set[str] = field(default_factory=set)

    def add(self, chunk_id: str, meta: dict) -> None:
        self.ids_by_hash[meta["content_hash"]].append(chunk_id)
        self.expected[meta["content_hash"]] = int(meta.get("n_chunks", -1))
        self.paths.add(meta.get("path", ""))

    def complete(self, content_hash: str) -> bool:
        return len(self.ids_by_hash.get(content_hash, ())) == self.expected.get(content_hash, -1)


def complete_version(rows: list[tuple[dict, str]]) -> list[tuple[dict, str]]:
    """Of an article's (metadata, text) chunk rows, those of one version, a complete one when
    there is one (mid-update two may be stored), in chunk order."""
    by_hash: dict[str, list] = {}
    for meta, text in rows:
        by_hash.setdefault(meta.get("content_hash", ""), []).append((meta, text))
    chosen = max(by_hash.values(), key=lambda rs: len(rs) == int(rs[0][0].get("n_chunks", -1)))
    return sorted(chosen, key=lambda r: int(r[0].get("chunk_index", 0)))
