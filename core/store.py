"""The Chroma store: an embedded folder by default, a `chroma run` server when QA_CHROMA_URL is set.
The only module that speaks to Chroma; the record format itself is core.records'.

One collection holds the index, one record per chunk: its embedding (the mean of its sentences'),
the article's metadata, its text inside llama-index's `_node_content` (where plain llama-index reads
it), and for each of its sentences where it lies in the text, its paragraph, its hash and its own
vector (`sent_vecs`, float16). Sentence vectors are not records of their own: a Chroma record costs
its HNSW insertion and a metadata row per key, which at 10,000 articles cost ingest more CPU than
the int8 model did. No record stores a Chroma document: Chroma puts every document into a
full-text index nothing here queries. The collection's metadata records the model and the layout
that built the index.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from core.config import Settings
from core.errors import IndexDamaged, IndexMismatch, StoreUnavailable
from core.memory import release_freed_memory

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# 3: sentence vectors inside chunk records (1 and 2 had a `<name>_sentences` collection)
LAYOUT_VERSION = "3"
# HNSW graph built with a search breadth of 50 while inserting (Chroma's default: 100). On 57,878
# sentence vectors of the bench corpus: 0.30 against 0.46 CPU-ms a record, and the 16 nearest
# found for 1,000 questions 99.85 against 99.92 % of the exact 16. Searching is unchanged.
DB_FILE = "chroma.sqlite3"
HNSW = {"hnsw:space": "cosine", "hnsw:construction_ef": 50}


# Tests name a step of the commit sequence here to have the process SIGKILLed on reaching it
# (tests/test_faults.py): a kill at a chosen instruction, not at a moment chosen by a timer.
KILL_AT = "NEWSQA_KILL_AT"
PENDING = "pending-"


def commit_step(name: str) -> None:
    """A named step of a write sequence (see KILL_AT)."""
    if os.environ.get(KILL_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def collection_metadata(model_label: str) -> dict:
    """What a new collection is created with: its HNSW settings, model and layout."""
    return {**HNSW, "embed_model": model_label, "layout": LAYOUT_VERSION}


FIX_DAMAGE = ("check it with `python -m index --check`; rebuild it with `python -m index "
              "--reset` (the damaged files are moved aside, the articles are read again)")


def _is_store_error(e: BaseException) -> bool:
    """An error Chroma raises for what it finds on disk or on the server (its Rust core panics
    with pyo3's PanicException, a BaseException, on a malformed database)."""
    import sqlite3

    from chromadb.errors import ChromaError

    return (isinstance(e, ChromaError | sqlite3.Error)
            or type(e).__name__ == "PanicException")


def damaged(where: str, e: BaseException) -> IndexDamaged:
    detail = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
    return IndexDamaged(f"the index at {where} is damaged or unreadable ({detail}); {FIX_DAMAGE}")


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
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt | SystemExit):
            raise
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()  # the next attempt starts afresh
        if not isinstance(e, OSError) and os.path.exists(os.path.join(settings.index_dir,
                                                                       DB_FILE)):
            raise damaged(settings.index_dir, e) from None
        raise StoreUnavailable(
            f"cannot open the index folder {settings.index_dir!r} ({e}); set QA_INDEX_DIR to a "
            "writable folder"
        ) from e


_PROBE = """
import sys
import chromadb
from chromadb.config import Settings
try:
    client = chromadb.PersistentClient(path=sys.argv[1],
                                       settings=Settings(anonymized_telemetry=False))
    try:
        col = client.get_collection(sys.argv[2])
    except Exception as e:
        if type(e).__name__ != "NotFoundError":
            raise
        print("ok")
        raise SystemExit(0)
    col.count()
    got = col.get(limit=1, include=["embeddings"])
    if got["ids"]:
        col.query(query_embeddings=[list(got["embeddings"][0])], n_results=1, include=[])
    print("ok")
except BaseException as e:
    if isinstance(e, SystemExit):
        raise
    print(str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__)
"""


def probe_damage(settings: Settings) -> str | None:
    """Whether an embedded store's files read: None if they do (or there are none), else what
    is wrong. It runs in a child process: Chroma's native core can corrupt the memory of a
    process that met damaged files, so the process that rebuilds the store never opens them."""
    import subprocess
    import sys

    if settings.chroma_url or not os.path.exists(os.path.join(settings.index_dir, DB_FILE)):
        return None
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, settings.index_dir,
                               settings.collection], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, RUST_BACKTRACE="0"))
    except subprocess.TimeoutExpired:
        return "reading it took over 5 minutes"
    said = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode == 0 and said == "ok":
        return None
    return said or f"reading it crashed the process (exit status {done.returncode})"


def move_aside(index_dir: str) -> str:
    """Move an embedded store's files (its database and vector-index folders) into a new
    `damaged-<time>` folder beside them, so that a new store can be made; returns that folder.
    The keyword caches and the exported models stay (they are checked on use)."""
    import shutil
    import time

    target = os.path.join(index_dir, time.strftime("damaged-%Y%m%d-%H%M%S"))
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(index_dir):
        path = os.path.join(index_dir, name)
        is_segment = os.path.isdir(path) and _is_uuid(name)
        if name.startswith(DB_FILE) or is_segment:
            shutil.move(path, os.path.join(target, name))
    return target


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True


@dataclass
class Store:
    """The chunk collection of one index, and the model that built it."""

    client: Any
    chunks: Any
    model_label: str
    where: str = "the index"  # the folder or server, for messages

    @classmethod
    def open(cls, settings: Settings, model_label: str, *, create: bool = True,
             check: bool = True) -> Store:
        """The index of the settings; check=False skips the model and layout check (for a
        reset, which drops whatever is there)."""
        from chromadb.errors import NotFoundError

        client = open_client(settings)
        meta = collection_metadata(model_label)
        where = settings.chroma_url or settings.index_dir
        try:
            if create:
                chunks = client.get_or_create_collection(
                    settings.collection, metadata=meta, embedding_function=None
                )
            else:
                chunks = client.get_collection(settings.collection, embedding_function=None)
            chunks.count()  # a damaged store fails here, not at the first question
        except BaseException as e:
            if _is_store_error(e) and not isinstance(e, NotFoundError):
                raise damaged(where, e) from None
            if not create or not isinstance(e, Exception):
                raise
            raise StoreUnavailable(f"cannot open collection {settings.collection!r}: {e}") from e
        store = cls(client, chunks, model_label, where)
        if check:
            store.check_model()
        return store

    # -- reads and writes: every other module goes through these ---------------------------------
    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Chroma's errors about what it found on disk become one clear IndexDamaged."""
        try:
            yield
        except BaseException as e:
            if _is_store_error(e):
                raise damaged(self.where, e) from None
            raise

    def count(self) -> int:
        with self._guarded():
            return int(self.chunks.count())

    def nearest(self, vector: Sequence[float], n: int, where: dict | None = None,
                documents: bool = True) -> list[tuple[str, str | None, dict | None]]:
        """The n chunks whose vectors are nearest, as (id, document, metadata), nearest first.
        A metadata of None: deleted by another process since this one loaded its vectors."""
        include = ["documents", "metadatas"] if documents else ["metadatas"]
        with self._guarded():
            got = self.chunks.query(query_embeddings=[list(vector)], n_results=n, where=where,
                                    include=include)
        docs = got["documents"][0] if documents else [None] * len(got["ids"][0])
        return list(zip(got["ids"][0], docs, got["metadatas"][0], strict=True))

    def get(self, ids: Sequence[str] | None = None, where: dict | None = None, *,
            documents: bool = False, embeddings: bool = False, limit: int | None = None,
            offset: int | None = None) -> dict:
        """Chroma's get, guarded: {"ids", "metadatas"[, "documents", "embeddings"]}."""
        include = ["metadatas"] + (["documents"] if documents else []) + (
            ["embeddings"] if embeddings else [])
        with self._guarded():
            return self.chunks.get(ids=list(ids) if ids is not None else None, where=where,
                                   include=include, limit=limit, offset=offset)

    def set_path(self, ids: Sequence[str], path: str) -> None:
        """Record that these chunks' article now lives in the file at path (in the flat
        metadata and in llama-index's copy inside `_node_content`)."""
        import json

        got = self.get(ids)
        metas = []
        for meta in got["metadatas"]:
            node = json.loads(meta["_node_content"])
            node.setdefault("metadata", {})["path"] = path
            metas.append(dict(meta, path=path, _node_content=json.dumps(node)))
        with self._guarded():
            self.chunks.update(ids=got["ids"], metadatas=metas)

    def delete(self, where: dict) -> None:
        with self._guarded():
            self.chunks.delete(where=where)

    def check_model(self) -> None:
        """An index is read only with the model and the record layout that wrote it."""
        meta = self.chunks.metadata or {}
        built_with, layout = meta.get("embed_model"), meta.get("layout")
        if built_with and built_with != self.model_label and self.chunks.count() > 0:
            raise IndexMismatch(
                f"the index in collection {self.chunks.name!r} was built with embedding model "
                f"{built_with!r}, but QA_EMBED_MODEL and QA_EMBED_BACKEND select "
                f"{self.model_label!r}; rebuild it "
                "with `python -m index --reset`, or use another QA_COLLECTION / QA_INDEX_DIR"
            )
        if layout != LAYOUT_VERSION and self.chunks.count() > 0:
            raise IndexMismatch(
                f"the index in collection {self.chunks.name!r} was written by an earlier newsqa "
                f"(record layout {layout or '1'}, this one reads layout {LAYOUT_VERSION}); "
                "rebuild it with `python -m index --reset`"
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

    def upsert(self, ids: Sequence[str], embeddings: Any, documents: Sequence[str] | None,
               metadatas: Sequence[dict], step: int = 2000, collection: Any = None) -> None:
        """Write records in batches of `step`, under the store's limit (a call costs less per
        record the more it carries: 0.72 ms at 100, 0.53 at 500). documents=None: none."""
        collection = self.chunks if collection is None else collection
        for s in self.batches(len(ids), step):
            with self._guarded():
                collection.upsert(
                    ids=list(ids[s]),
                    embeddings=embeddings[s],
                    metadatas=list(metadatas[s]),
                    **({"documents": list(documents[s])} if documents is not None else {}),
                )

    def all_metadatas(self, collection: Any = None, page: int = 5000
                      ) -> Iterator[tuple[str, dict]]:
        """Every (id, metadata) of the chunks, paged so memory stays flat."""
        collection = self.chunks if collection is None else collection
        offset = 0
        while True:
            with self._guarded():
                got = collection.get(include=["metadatas"], limit=page, offset=offset)
            release_freed_memory()
            ids = got["ids"]
            if not ids:
                return
            yield from zip(ids, got["metadatas"], strict=True)
            offset += len(ids)

    def ids(self, page: int = 20000) -> list[str]:
        """The id of every chunk record, in the store's order (nothing else is read)."""
        out: list[str] = []
        while True:
            with self._guarded():
                got = self.chunks.get(include=[], limit=page, offset=len(out))
            if not got["ids"]:
                return out
            out += got["ids"]

    def vector_store(self) -> Any:
        """The collection as a plain llama-index vector store (ChromaVectorStore), for code
        that reads it the llama-index way (the dense baseline of `qa.eval --compare`)."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.chunks)

    def revision(self) -> str:
        """Changes whenever an ingest changes the index; readers use it to notice new data.

        A write goes: begin_change() (the revision becomes "pending-…"), the chunk writes and
        deletes, mark_changed() (a new plain revision). So a keyword index stamped with a plain
        revision that is still current was read from a store no write has touched since, and
        a kill anywhere in between leaves a pending revision that the next ingest sees and
        closes (Ingestor.run)."""
        fresh = self.client.get_collection(self.chunks.name)
        return str((fresh.metadata or {}).get("revision", "0"))

    def change_pending(self) -> bool:
        """A write began and has not been marked finished (running, or killed)."""
        return self.revision().startswith(PENDING)

    def begin_change(self) -> None:
        self._set_revision(PENDING + uuid.uuid4().hex)

    def mark_changed(self) -> None:
        self._set_revision(uuid.uuid4().hex)

    def _set_revision(self, revision: str) -> None:
        fresh = self.client.get_collection(self.chunks.name)
        meta = {k: v for k, v in (fresh.metadata or {}).items() if not k.startswith("hnsw:")}
        meta["revision"] = revision
        self.chunks.modify(metadata=meta)

    def reset(self) -> None:
        """Drop the collection (and an earlier layout's sentence collection) and create it
        empty."""
        name = self.chunks.name
        for old in (name, f"{name}_sentences"):
            try:
                self.client.delete_collection(old)
            except Exception:  # not there: nothing to drop
                pass
        self.chunks = self.client.get_or_create_collection(
            name, metadata=collection_metadata(self.model_label), embedding_function=None
        )
