"""Candidate sentences: the sentences of the retrieved chunks, with their neighbours and vectors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llama_index.core.schema import NodeWithScore

from qa.keyword import chunk_node
from qa.store import Store


def story_of(e: Evidence) -> str:
    return e.meta.get("story_id") or e.article_id


@dataclass
class Evidence:
    """One sentence of a retrieved chunk, ready to be judged."""

    article_id: str
    index: int  # position in the article
    paragraph: int
    text: str
    vector: np.ndarray
    chunk_rank: int
    chunk_score: float
    meta: dict  # the chunk's metadata: title, url, published, story_id, ...
    shash: str = ""  # the sentence's normalised hash: copies of a story share it
    prev: Evidence | None = None
    next: Evidence | None = None


def sentence_id(article_id: str, content_hash: str, index: int) -> str:
    """The id of a sentence record: ingest writes it, answering reads it."""
    return f"{article_id}#{content_hash}:s{index}"


def _sentence_texts(store: Store, nodes: list[NodeWithScore], got: dict) -> list[str | None]:
    """The words of each sentence record in `got`, cut from its chunk's text at its span. A
    neighbour's chunk may not be among the nodes: those chunks are read in one call. (An index
    written before sentences lost their text still has it in the record.)"""
    chunks = {n.node.node_id: (n.node.get_content(), n.node.metadata) for n in nodes}
    missing = {m["chunk_id"] for m in got["metadatas"]} - set(chunks)
    if missing:
        more = store.chunks.get(ids=list(missing), include=["documents", "metadatas"])
        chunks.update((cid, (chunk_node(cid, doc, meta).get_content(), meta)) for cid, doc, meta
                      in zip(more["ids"], more["documents"], more["metadatas"], strict=True))
    texts: list[str | None] = []
    for doc, meta in zip(got["documents"], got["metadatas"], strict=True):
        chunk = chunks.get(meta["chunk_id"])
        if doc is not None or chunk is None:
            texts.append(doc)
            continue
        text, cmeta = chunk
        span = cmeta["sent_spans"].split(",")[int(meta["index"]) - int(cmeta["sent_start"])]
        start, end = (int(x) for x in span.split(":"))
        texts.append(text[start:end])
    return texts


def gather(store: Store, nodes: list[NodeWithScore]) -> list[Evidence]:
    """Sentences of the chunks (in chunk order), linked to their neighbours, which may come
    from an adjacent chunk of the same article."""
    wanted: dict[str, tuple[int, int, NodeWithScore, bool]] = {}
    for rank, n in enumerate(nodes):
        m = n.node.metadata
        start, end, total = int(m["sent_start"]), int(m["sent_end"]), int(m["n_sentences"])
        for i in range(max(0, start - 1), min(total, end + 1)):
            sid = sentence_id(m["article_id"], m["content_hash"], i)
            own = start <= i < end
            if sid not in wanted or (own and not wanted[sid][3]):
                wanted[sid] = (rank, i, n, own)
    if not wanted:
        return []
    got = store.sentences.get(ids=list(wanted), include=["embeddings", "documents", "metadatas"])
    texts = _sentence_texts(store, nodes, got)
    by_key: dict[tuple[str, int], Evidence] = {}
    owned: list[Evidence] = []
    for sid, text, meta, vec in zip(got["ids"], texts, got["metadatas"], got["embeddings"],
                                    strict=True):
        if text is None:  # its chunk went between the two reads (an update)
            continue
        rank, i, node, own = wanted[sid]
        ev = Evidence(meta["article_id"], i, int(meta.get("paragraph", 0)), text,
                      np.asarray(vec, dtype=np.float32), rank, float(node.score or 0.0),
                      node.node.metadata, meta.get("shash", ""))
        by_key[(ev.article_id, i)] = ev
        if own:
            owned.append(ev)
    for ev in by_key.values():
        ev.prev = by_key.get((ev.article_id, ev.index - 1))
        ev.next = by_key.get((ev.article_id, ev.index + 1))
    owned.sort(key=lambda e: (e.chunk_rank, e.index))
    return owned
