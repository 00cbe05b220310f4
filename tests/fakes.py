"""Fakes for the fast test tier, each a subclass of the real interface it stands in for.

FakeEmbedder is SentenceEmbedder with a hashed bag of words for a model: no torch, no weights,
instant to load. Two texts sharing words get near vectors, so retrieval still finds the article a
question's words come from; nothing about answer quality is measured with it.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from core.embeddings import SentenceEmbedder

DIM = 384


class _HashedWords:
    """The part of a sentence-transformers model SentenceEmbedder calls."""

    def get_embedding_dimension(self) -> int:
        return DIM

    def encode(self, texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
               show_progress_bar=False):
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[row, h % DIM] += 1.0 if h & 1 << 31 else -1.0
            out[row, 0] += 1e-3  # no zero vector for a text with no words
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class FakeEmbedder(SentenceEmbedder):
    def __init__(self) -> None:
        super().__init__(_HashedWords(), model_label="fake-hashed-words")
