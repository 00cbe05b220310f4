"""The embedding model in a child process, for ingests of many articles.

A Chroma write holds Python's GIL for the whole call (chroma-core/chroma#3873), and the model
needs the GIL between batches, so in one process the model waits while a group is written: at
10,000 articles the int8 model ran at 0.805x its own speed inside ingest. A child process has an
interpreter of its own, so it embeds the next group while this one writes the last.
IngestEmbedding decides, group by group, whether the child or this process embeds.

The child is `python -m index.embed_worker`, not a multiprocessing spawn (which would import the
parent's `__main__`, the whole chat app for app.py): it imports only the model's code. Requests
and replies are pickles over its stdin and stdout; it exits when its stdin closes, so it does not
outlive its parent, however that one ends.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


class WorkerFailed(RuntimeError):
    """The child could not load the model or stopped answering; ingest embeds in-process."""


class EmbedWorker:
    """One child process running the model `source` names: (model name, backend, cache dir),
    as core.sentence_model.load_model takes them. One request at a time: submit, then result."""

    def __init__(self, source: tuple[str | None, str, str | None]) -> None:
        # the offline settings: core.sentence_model sets them on import, in the child too
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "index.embed_worker", json.dumps(list(source)),
             str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=str(PROJECT_ROOT))
        self._send = Connection(os.dup(self._proc.stdin.fileno()), readable=False)
        self._recv = Connection(os.dup(self._proc.stdout.fileno()), writable=False)
        self._proc.stdin.close()
        self._proc.stdout.close()
        self._ready = False
        self.model_seconds = 0.0  # the child's own time in the model

    @property
    def pid(self) -> int:
        return self._proc.pid

    def ready(self) -> bool:
        """True once the child has loaded the model (never blocks)."""
        if not self._ready and self._recv.poll(0):
            self._ready = self._reply() == "ready"
        return self._ready

    def submit(self, texts: list[str], batch_size: int) -> None:
        try:
            self._send.send((texts, batch_size))
        except OSError as e:
            raise WorkerFailed(f"the embedding process stopped ({e})") from e

    def result(self) -> np.ndarray:
        vectors, seconds = self._reply()
        self.model_seconds += seconds
        return vectors

    def _reply(self):
        try:
            kind, value = self._recv.recv()
        except (EOFError, OSError) as e:
            raise WorkerFailed(f"the embedding process stopped ({e or 'no reply'})") from e
        if kind == "error":
            raise WorkerFailed(value)
        return value

    def close(self) -> None:
        """Stop the child and wait for it."""
        for conn in (self._send, self._recv):
            conn.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class IngestEmbedding:
    """Where a group's sentences are embedded: in a child process once it is ready (when one
    is wanted and the model can be loaded again there), else here. start() returns a call
    that gives the vectors: the child's is waited for when called, one group at a time."""

    def __init__(self, embedder: Any, batch_size: int, want_child: bool) -> None:
        self.embedder = embedder  # a core.embeddings.SentenceEmbedder
        self.batch_size = batch_size
        self.worker: EmbedWorker | None = None
        self._here = 0.0  # seconds in the model: here, and in children that have stopped
        self.in_child = 0  # texts the child embedded
        if want_child and embedder.source is not None:
            try:
                self.worker = EmbedWorker(embedder.source)
            except OSError as e:  # no process could be started: embed here
                log.warning("could not start the embedding process (%s); embedding in this "
                            "process", e)

    @property
    def seconds(self) -> float:
        """Time spent in the model, here and in the child."""
        return self._here + (self.worker.model_seconds if self.worker else 0.0)

    def start(self, texts: list[str]):
        """Begin embedding texts; the call returned gives their vectors. The child starts at
        once; here, the work is done by that call (while the previous group is written)."""
        if self.worker is not None:
            try:
                if self.worker.ready():
                    self.worker.submit(texts, self.batch_size)
                    return lambda: self._from_worker(texts)
            except WorkerFailed as e:
                self._drop_worker(e)
        return lambda: self._here_now(texts)

    def _here_now(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.embedder.encode(texts, batch_size=self.batch_size)
        finally:
            self._here += time.perf_counter() - started

    def _from_worker(self, texts: list[str]) -> np.ndarray:
        try:
            vectors = self.worker.result()
            self.in_child += len(vectors)
            return vectors
        except WorkerFailed as e:  # the child died: this group, and the rest, are done here
            self._drop_worker(e)
            return self._here_now(texts)

    def _drop_worker(self, error: Exception) -> None:
        log.warning("%s; embedding in this process instead", error)
        self.close()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self._here += self.worker.model_seconds
            self.worker = None


def _die_with(parent: int) -> None:
    """Be killed the moment the parent is (Linux), not after the group under way."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: stdin's end still stops the loop
        pass
    if os.getppid() != parent:  # it was gone before the line above
        sys.exit(0)


def _serve(source: list) -> None:
    """The child: load the model, say so, then embed each request until stdin closes."""
    requests = Connection(os.dup(0), writable=False)
    replies = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # a library's stray print must not land in the replies
    try:
        from core.sentence_model import encode, load_model

        model = load_model(*source)
        encode(model, ["warm up"])
    except Exception as e:  # noqa: BLE001 - any failure to load is reported, not raised
        replies.send(("error", f"the embedding process could not load the model ({e})"))
        return
    replies.send(("ok", "ready"))
    while True:
        try:
            texts, batch_size = requests.recv()
        except (EOFError, OSError):  # the parent closed its end, or is gone
            return
        started = time.perf_counter()
        try:
            vectors = encode(model, texts, batch_size)
        except Exception as e:  # noqa: BLE001
            replies.send(("error", f"the embedding process failed ({type(e).__name__}: {e})"))
            return
        try:
            replies.send(("ok", (vectors, time.perf_counter() - started)))
        except OSError:
            return


if __name__ == "__main__":
    _die_with(int(sys.argv[2]))
    _serve(json.loads(sys.argv[1]))
