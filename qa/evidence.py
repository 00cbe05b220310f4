"""Candidate sentences: the sentences of the retrieved chunks, with their neighbours and vectors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llama_index.core.schema import NodeWithScore

from core.keyword import chunk_node
from core.records import ChunkSentences, neighbour_ids
from core.store import Store


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


def gather(store: Store, nodes: list[NodeWithScore]) -> list[Evidence]:
    """Sentences of the chunks (in chunk order), linked to their neighbours, which may come
    from an adjacent chunk of the same article. One read brings the chunks' records with
    their sentence vectors."""
    own = {n.node.node_id: (rank, n) for rank, n in enumerate(nodes)}
    wanted = list(own) + [cid for n in nodes for cid in neighbour_ids(n.node.metadata)]
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        return []
    got = store.get(wanted, documents=True)
    by_key: dict[tuple[str, int], Evidence] = {}
    owned: list[Evidence] = []
    for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
        if not meta:  # deleted by another process meanwhile: not evidence any more
            continue
        if cid in own:
            rank, hit = own[cid]
            node, score = hit.node, float(hit.score or 0.0)
        else:  # a neighbour's chunk: its sentences are context, not candidates
            rank, node, score = -1, chunk_node(cid, doc, meta), 0.0
        sentences = ChunkSentences.from_record(node.get_content(), meta)
        for k, text in enumerate(sentences.texts):
            ev = Evidence(meta["article_id"], sentences.start + k, sentences.paragraphs[k], text,
                          sentences.vectors[k], rank, score, node.metadata, sentences.hashes[k])
            by_key[(ev.article_id, ev.index)] = ev
            if cid in own:
                owned.append(ev)
    for ev in by_key.values():
        ev.prev = by_key.get((ev.article_id, ev.index - 1))
        ev.next = by_key.get((ev.article_id, ev.index + 1))
    owned.sort(key=lambda e: (e.chunk_rank, e.index))
    return owned
