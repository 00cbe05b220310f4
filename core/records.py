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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.dates import day_number

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


def article_fields(article_id: str, title: str, content_hash: str, n_chunks: int, path: str,
                   story_id: str, *, url: str | None = None, published: str | None = None,
                   source: str | None = None) -> dict:
    """The keys every chunk record of one article version carries."""
    fields = {"article_id": article_id, "title": title, "content_hash": content_hash,
              "n_chunks": n_chunks, "path": path, "story_id": story_id}
    for key, value in (("url", url), ("published", published), ("source", source)):
        if value:
            fields[key] = value
    if published:
        fields["published_ts"] = day_number(published)
    return fields


def chunk_metadata(article: dict, text: str, *, chunk_index: int, sent_start: int,
                   n_sentences: int, sentences: Sequence[str], paragraphs: Sequence[int],
                   hashes: Sequence[str]) -> dict:
    """A chunk record's metadata (all but its sentence vectors, see pack_vectors): the
    article's fields (article_fields), the chunk's, its sentences', and llama-index's copy of
    the node (`_node_content`), which carries the text and only the keys that describe the
    article (NODE_KEYS): every key is stored once, flat."""
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    meta = dict(article, chunk_index=chunk_index, sent_start=sent_start,
                sent_end=sent_start + len(sentences),
                n_sentences=n_sentences,  # the story size a later copy is held to
                **sentence_fields(text, sentences, paragraphs, hashes))
    described = {k: meta[k] for k in NODE_KEYS if k in meta}
    hidden = [k for k in described if k != "title"]
    node = TextNode(id_=chunk_record_id(meta["article_id"], meta["content_hash"], chunk_index),
                    text=text, metadata=described, excluded_embed_metadata_keys=hidden,
                    excluded_llm_metadata_keys=hidden)
    return node_to_metadata_dict(node, remove_text=False, flat_metadata=True) | meta


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


def current_versions(metas: Iterable[dict]) -> dict[str, str]:
    """The current version of each article (its content hash), from its chunk records'
    metadata in the store's order: a version all of whose n_chunks records are there, the
    one stored last when two are (an update writes the new version, then deletes the old).
    An article with no complete version (its first version still being written) has none."""
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    wanted: dict[tuple[str, str], int] = {}
    order: dict[tuple[str, str], int] = {}
    for at, meta in enumerate(metas):
        key = (meta.get("article_id"), meta.get("content_hash"))
        seen[key].add(int(meta.get("chunk_index", -1)))
        wanted[key] = int(meta.get("n_chunks", -1))
        order[key] = at
    current: dict[str, str] = {}
    for key in sorted(seen, key=order.__getitem__):
        if len(seen[key]) == wanted[key]:
            current[key[0]] = key[1]
    return current


def complete_version(rows: list[tuple[dict, str]]) -> list[tuple[dict, str]]:
    """Of an article's (metadata, text) chunk rows, those of one version, in chunk order: the
    current one (current_versions, as answers read it) when one is complete (mid-update two
    may be stored), else the first stored."""
    current = current_versions(meta for meta, _ in rows)
    want = next(iter(current.values()), rows[0][0].get("content_hash"))
    chosen = [r for r in rows if r[0].get("content_hash") == want]
    return sorted(chosen, key=lambda r: int(r[0].get("chunk_index", 0)))
