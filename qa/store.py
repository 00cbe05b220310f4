"""The Chroma store: an embedded folder by default, a `chroma run` server when QA_CHROMA_URL is set.

Two collections hold the index: `<name>` has one record per chunk (embedding, the article's
metadata, where each sentence lies in the text, and the text inside llama-index's `_node_content`,
where plain llama-index reads it), `<name>_sentences` one record per sentence of a chunk (its
embedding and metadata, no text: answering never embeds article text at question time, and cuts a
sentence's words from its chunk). Neither stores a Chroma document: Chroma puts every document
into a full-text index nothing here queries, which cost more than half of a chunk's write. The
chunk collection's metadata records the model that built the index.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from qa.config import Settings
from qa.errors import IndexMismatch, StoreUnavailable
from qa.memory import release_freed_memory

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

LAYOUT_VERSION = "2"  # 2: no Chroma documents (chunk text in _node_content); 1 is read too
# HNSW graph built with a search breadth of 50 while inserting (Chroma's default: 100). On 57,878
# sentence vectors of the bench corpus: 0.30 against 0.46 CPU-ms a record, and the 16 nearest
# found for 1,000 questions 99.85 against 99.92 % of the exact 16. Searching is unchanged.
HNSW = {"hnsw:space": "cosine", "hnsw:construction_ef": 50}


def collection_metadata(model_label: str) -> dict:
    """What a new collection is created with: its HNSW settings, model and layout."""
    return {**HNSW, "embed_model": model_label, "layout": LAYOUT_VERSION}


def open_client(settings: Settings) -> Any:
    """A Chroma client for the settings, with telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as e:
            raise StoreUnavailable(
                f"cannot reach the Chroma server at {settings.chroma_url} ({e}); start one with "
                "`chroma run --host 127.0.0.1 --port 8000 --path DIR` or unset QA_CHROMA_URL"
            ) from e
        return client
    try:
        os.makedirs(settings.index_dir, exist_ok=True)
        return chromadb.PersistentClient(path=settings.index_dir, settings=chroma_settings)
    except Exception as e:
        raise StoreUnavailable(
            f"cannot open the index folder {settings.index_dir!r} ({e}); set QA_INDEX_DIR to a "
            "writable folder"
        ) from e


@dataclass
class Store:
    """The chunk and sentence collections of one index, and the model that built them."""

    client: Any
    chunks: Any
    sentences: Any
    model_label: str

    @classmethod
    def open(cls, settings: Settings, model_label: str, *, create: bool = True) -> Store:
        client = open_client(settings)
        meta = collection_metadata(model_label)
        try:
            if create:
                chunks = client.get_or_create_collection(
                    settings.collection, metadata=meta, embedding_function=None
                )
                sentences = client.get_or_create_collection(
                    f"{settings.collection}_sentences", metadata=meta, embedding_function=None
                )
            else:
                chunks = client.get_collection(settings.collection, embedding_function=None)
                sentences = client.get_collection(
                    f"{settings.collection}_sentences", embedding_function=None
                )
        except Exception as e:
            if not create:
                raise
            raise StoreUnavailable(f"cannot open collection {settings.collection!r}: {e}") from e
        store = cls(client, chunks, sentences, model_label)
        store.check_model()
        return store

    def check_model(self) -> None:
        built_with = (self.chunks.metadata or {}).get("embed_model")
        if built_with and built_with != self.model_label and self.chunks.count() > 0:
            raise IndexMismatch(
                f"the index in collection {self.chunks.name!r} was built with embedding model "
                f"{built_with!r}, but QA_EMBED_MODEL and QA_EMBED_BACKEND select "
                f"{self.model_label!r}; rebuild it "
                "with `python -m index --reset`, or use another QA_COLLECTION / QA_INDEX_DIR"
            )

    @property
    def max_batch(self) -> int:
        try:
            return max(1, int(self.client.get_max_batch_size()))
        except Exception:  # older servers do not say
            return 1000

    def batches(self, n: int, step: int = 2000) -> Iterator[slice]:
        step = min(self.max_batch, step)
        for start in range(0, n, step):
            yield slice(start, min(n, start + step))

    def upsert(self, collection: Any, ids: Sequence[str], embeddings: Any,
               documents: Sequence[str] | None, metadatas: Sequence[dict],
               step: int = 2000) -> None:
        """Write records in batches of `step`, under the store's limit (a call costs less per
        record the more it carries: 0.72 ms at 100, 0.53 at 500). documents=None: none."""
        for s in self.batches(len(ids), step):
            collection.upsert(
                ids=list(ids[s]),
                embeddings=embeddings[s],
                metadatas=list(metadatas[s]),
                **({"documents": list(documents[s])} if documents is not None else {}),
            )

    def all_metadatas(self, collection: Any, page: int = 5000) -> Iterator[tuple[str, dict]]:
        """Every (id, metadata) of a collection, paged so memory stays flat."""
        offset = 0
        while True:
            got = collection.get(include=["metadatas"], limit=page, offset=offset)
            release_freed_memory()
            ids = got["ids"]
            if not ids:
                return
            yield from zip(ids, got["metadatas"], strict=True)
            offset += len(ids)

    def revision(self) -> str:
        """Changes whenever an ingest changes the index; readers use it to notice new data."""
        fresh = self.client.get_collection(self.chunks.name)
        return str((fresh.metadata or {}).get("revision", "0"))

    def mark_changed(self) -> None:
        meta = {k: v for k, v in (self.chunks.metadata or {}).items() if not k.startswith("hnsw:")}
        meta["revision"] = uuid.uuid4().hex
        self.chunks.modify(metadata=meta)

    def reset(self) -> None:
        """Drop both collections and create them empty."""
        names = (self.chunks.name, self.sentences.name)
        meta = collection_metadata(self.model_label)
        for name in names:
            try:
                self.client.delete_collection(name)
            except Exception:  # not there: nothing to drop
                pass
        self.chunks = self.client.get_or_create_collection(
            names[0], metadata=meta, embedding_function=None
        )
        self.sentences = self.client.get_or_create_collection(
            names[1], metadata=meta, embedding_function=None
        )
