"""The sentence model as a llama-index embedding (loading it: core.sentence_model)."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from core.sentence_model import PACKAGED_MODEL, encode, load_model, model_label


class SentenceEmbedder(BaseEmbedding):
    """A llama-index embedding over a sentence-transformers model, normalised for cosine."""

    model_label: str = PACKAGED_MODEL
    _model: Any = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _source: tuple | None = PrivateAttr(default=None)

    def __init__(self, model: Any, model_label: str = PACKAGED_MODEL,
                 source: tuple[str | None, str, str | None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(model_name=model_label, model_label=model_label, **kwargs)
        self._model = model
        self._lock = threading.Lock()
        self._source = source

    @property
    def source(self) -> tuple[str | None, str, str | None] | None:
        """(name, backend, cache_dir): how from_name loads this model again, in another
        process (index.embed_worker); None for a model passed in."""
        return self._source

    @classmethod
    def from_name(cls, name: str | None = None, backend: str = "torch",
                  cache_dir: str | None = None) -> SentenceEmbedder:
        """The model `name` (None: the packaged one) run by `backend`; onnx-int8 keeps its
        exported copy in cache_dir."""
        return cls(load_model(name, backend, cache_dir), model_label=model_label(name, backend),
                   source=(name, backend, cache_dir))

    @classmethod
    def from_settings(cls, settings: Any) -> SentenceEmbedder:
        return cls.from_name(settings.embed_model, settings.embed_backend,
                             os.path.join(settings.index_dir, "models"))

    @classmethod
    def class_name(cls) -> str:
        return "SentenceEmbedder"

    @property
    def dimension(self) -> int:
        return int(self._model.get_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:  # torch on 2 cores gains nothing from parallel calls
            return encode(self._model, texts, batch_size)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.encode([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
