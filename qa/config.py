"""Settings from QA_ environment variables (a .env file in the working folder may set them)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from qa.errors import InvalidSetting

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COLLECTION = "newsqa"
MAX_QUESTION_CHARS = 2000
EMBED_BACKENDS = ("torch", "onnx-int8")
ANSWERING = ("hand", "reader")


def _default_index_dir() -> str:
    return str(PROJECT_ROOT / ".index")


def load_env_file() -> None:
    """Load `.env` from the working folder (not from beside this module, where python-dotenv
    looks by default), never overriding the real environment."""
    try:
        from dotenv import find_dotenv, load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a pinned dependency
        return
    path = find_dotenv(usecwd=True)
    if path:
        load_dotenv(path, override=False)


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved once. Pass one to Engine to override the environment."""

    articles_dir: str = "articles"
    index_dir: str = field(default_factory=_default_index_dir)
    chroma_url: str | None = None
    collection: str = DEFAULT_COLLECTION
    embed_model: str | None = None  # None: the packaged all-MiniLM-L6-v2
    embed_backend: str = "torch"  # or "onnx-int8": an int8 copy exported on this machine
    answering: str = "hand"  # or "reader": the trained reader chooses the sentence and abstains

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read QA_* variables (after loading .env without overriding the real environment)."""
        load_env_file()
        settings = cls(
            articles_dir=_env("QA_ARTICLES_DIR", "articles"),
            index_dir=_env("QA_INDEX_DIR") or _default_index_dir(),
            chroma_url=_env("QA_CHROMA_URL"),
            collection=_env("QA_COLLECTION", DEFAULT_COLLECTION),
            embed_model=_env("QA_EMBED_MODEL"),
            embed_backend=_env("QA_EMBED_BACKEND", "torch"),
            answering=_env("QA_ANSWERING", "hand"),
        )
        settings = replace(settings, **overrides) if overrides else settings
        settings.validate()
        return settings

    def validate(self) -> None:
        name = self.collection
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,48}[A-Za-z0-9]", name):
            raise InvalidSetting(
                f"QA_COLLECTION={name!r} is not a valid collection name: use 3-50 letters, "
                "digits, '.', '-' or '_', starting and ending with a letter or digit"
            )
        if self.embed_backend not in EMBED_BACKENDS:
            raise InvalidSetting(
                f"QA_EMBED_BACKEND={self.embed_backend!r} is not a backend: use torch (the "
                "default) or onnx-int8"
            )
        if self.answering not in ANSWERING:
            raise InvalidSetting(
                f"QA_ANSWERING={self.answering!r} is not a mode: use hand (the default) or reader"
            )
        if self.chroma_url and not self.chroma_url.startswith(("http://", "https://")):
            raise InvalidSetting(
                f"QA_CHROMA_URL={self.chroma_url!r} is not a URL: use http://host:port"
            )
