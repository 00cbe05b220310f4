"""The stored record's ids: what ingest writes and answering reads back."""

from __future__ import annotations


def chunk_record_id(article_id: str, content_hash: str, position: int) -> str:
    """The id of a chunk record: ingest writes it, answering reads a neighbour chunk by it."""
    return f"{article_id}#{content_hash}:{position}"
