"""Domain errors. Only the edges (CLI, app) translate them for people; nothing else catches them."""

from __future__ import annotations


class NewsQAError(Exception):
    """Base of every error newsqa raises on purpose."""


class InvalidQuestion(NewsQAError, ValueError):
    """The question cannot be asked (empty, too long, not text)."""


class InvalidSetting(NewsQAError, ValueError):
    """A QA_ setting or an argument has a value that cannot be used."""


class ArticlesNotFound(NewsQAError, FileNotFoundError):
    """The articles folder (or a path given to ingest) does not exist."""


class IndexMismatch(NewsQAError):
    """The stored index was built with another embedding model or layout."""


class StoreUnavailable(NewsQAError):
    """The Chroma store (embedded folder or server) cannot be opened or reached."""


class IndexDamaged(NewsQAError):
    """The stored index cannot be read as it should: a damaged or foreign file in its folder."""
