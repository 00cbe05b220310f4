"""Read article files (.txt .md .html .json .jsonl) into Articles; a bad file becomes a Skip."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from core.dates import date_from_text, normalise_date
from core.errors import ArticlesNotFound
from index.chunking import Chunk, chunk_article, split_sentences
from index.cleaning import CleanText, Paragraph, clean_text, derive_title

SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
MAX_FILE_BYTES = 20 * 1024 * 1024
# Bump when cleaning or chunking changes, so every article is re-indexed once.
PIPELINE_VERSION = "4"  # 4: the file's path is not part of an article's content hash


@dataclass(frozen=True)
class Skip:
    path: str
    reason: str


@dataclass(frozen=True)
class Article:
    """One cleaned article, ready to chunk."""

    id: str
    title: str
    paragraphs: tuple[Paragraph, ...]
    path: str
    url: str | None = None
    published: str | None = None  # ISO date
    source: str | None = None
    title_derived: bool = False

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs)

    def chunks(self) -> list[Chunk]:
        """Split anew on each call (ingest splits once and keeps the result for the group)."""
        return chunk_article(list(self.paragraphs))

    @cached_property
    def content_hash(self) -> str:
        """What the article says: a moved or renamed file is the same article (ingest then
        rewrites the stored path, and embeds nothing)."""
        h = hashlib.sha256()
        for part in (PIPELINE_VERSION, self.title, self.url or "", self.published or "",
                     self.source or "", self.text):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()[:16]


def build_article(article_id: str, clean: CleanText, path: str, *, title: str | None = None,
                  url: str | None = None, published: Any = None,
                  source: str | None = None) -> Article | Skip:
    paragraphs = [p for p in clean.paragraphs]
    body = [p for p in paragraphs if not p.heading]
    if not body:
        return Skip(path, f"article {article_id!r} has no text to index")
    derived = False
    title = (title or clean.title or "").strip()
    if not title:
        first = split_sentences(body[0].text)
        title, derived = derive_title(first[0] if first else body[0].text), True
    return Article(
        id=article_id,
        title=title,
        paragraphs=tuple(paragraphs),
        path=path,
        url=_web_url(url),
        published=normalise_date(published) or date_from_text(
            [clean.dateline or ""] + [p.text for p in body[:2]]),
        source=(str(source).strip() or None) if source else None,
        title_derived=derived,
    )


def _web_url(url: Any) -> str | None:
    """An article's url only when it is http(s): a `javascript:` or `file:` one is dropped, so
    no interface ever hands one on."""
    text = str(url).strip() if url else ""
    return text if re.match(r"https?://[^\s]+$", text, re.IGNORECASE) else None


def _read_text(path: Path) -> str | Skip:
    try:
        size = path.stat().st_size
    except OSError as e:
        return Skip(str(path), f"cannot read: {e.strerror or e}")
    if size == 0:
        return Skip(str(path), "empty file")
    if size > MAX_FILE_BYTES:
        return Skip(str(path), f"file too large ({size / 1e6:.1f} MB > "
                               f"{MAX_FILE_BYTES / 1e6:.0f} MB limit)")
    try:
        data = path.read_bytes()
    except OSError as e:
        return Skip(str(path), f"cannot read: {e.strerror or e}")
    if b"\x00" in data[:8192]:
        return Skip(str(path), "binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return Skip(str(path), f"not valid UTF-8 text (bad byte at offset {e.start})")
    if not text.strip():
        return Skip(str(path), "empty file")
    return text


def _load_plain(path: Path, text: str) -> Iterator[Article | Skip]:
    clean = clean_text(text, markdown=path.suffix.lower() == ".md")
    yield build_article(path.stem, clean, str(path))


def _load_html(path: Path, text: str) -> Iterator[Article | Skip]:
    from index.html import extract_html

    page = extract_html(text)
    clean = clean_text("\n".join(page.blocks))
    yield build_article(path.stem, clean, str(path), title=page.title, url=page.url,
                        published=page.published, source=page.source)


def _record_to_article(record: Any, fallback_id: str, path: Path, where: str) -> Article | Skip:
    if not isinstance(record, dict):
        return Skip(str(path), f"{where}: expected an object with a 'text' field")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        return Skip(str(path), f"{where}: no 'text' field with article text")
    article_id = str(record.get("id") or fallback_id).strip()
    clean = clean_text(text)
    title = record.get("title")
    return build_article(article_id, clean, str(path),
                         title=title if isinstance(title, str) else None,
                         url=record.get("url"), published=record.get("published"),
                         source=record.get("source"))


def _load_json(path: Path, text: str) -> Iterator[Article | Skip]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        yield Skip(str(path), f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}")
        return
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    if isinstance(data, dict):
        yield _record_to_article(data, path.stem, path, "record")
        return
    if not isinstance(data, list):
        yield Skip(str(path), "expected an object or a list of article objects")
        return
    for n, record in enumerate(data, start=1):
        yield _record_to_article(record, f"{path.stem}-{n}", path, f"record {n}")


def _load_jsonl(path: Path, text: str) -> Iterator[Article | Skip]:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            yield Skip(str(path), f"line {n}: invalid JSON ({e.msg})")
            continue
        yield _record_to_article(record, f"{path.stem}-{n}", path, f"line {n}")


_LOADERS = {".txt": _load_plain, ".md": _load_plain, ".html": _load_html, ".htm": _load_html,
            ".json": _load_json, ".jsonl": _load_jsonl}


def load_file(path: Path) -> Iterator[Article | Skip]:
    """Articles of one file; anything wrong with it comes out as a Skip with its reason."""
    loader = _LOADERS.get(path.suffix.lower())
    if loader is None:
        yield Skip(str(path), f"unsupported file type {path.suffix or '(none)'!r}; "
                              f"supported: {', '.join(SUFFIXES)}")
        return
    text = _read_text(path)
    if isinstance(text, Skip):
        yield text
        return
    try:
        yield from loader(path, text)
    except Exception as e:  # a parser failing on one file must not stop the batch
        yield Skip(str(path), f"could not parse: {type(e).__name__}: {e}")


def canonical(path: str | os.PathLike) -> Path:
    """One spelling of a file's path however it was given (relative, absolute, through a
    linked folder): the real path of its folder, then its own name. An article's stored path,
    and so whether it counts as unchanged, does not depend on how its folder was named."""
    p = Path(path)
    return Path(os.path.realpath(p.parent)) / p.name


def discover(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Skip]]:
    """Files to load under the given files and folders (hidden files ignored), by their
    canonical paths."""
    files: list[Path] = []
    skipped: list[Skip] = []
    for raw in paths:
        given = Path(raw)
        if not given.exists():
            raise ArticlesNotFound(f"articles path {str(given)!r} does not exist")
        if given.is_file():
            files.append(canonical(given))
            continue
        p = root = Path(os.path.realpath(given))
        for f in sorted(p.rglob("*")):
            rel = f.relative_to(p)
            if any(part.startswith(".") for part in rel.parts) or not f.is_file():
                continue
            if f.is_symlink() and not f.resolve().is_relative_to(root):
                skipped.append(Skip(str(f), "a link to a file outside the articles folder"))
                continue
            if f.suffix.lower() in SUFFIXES:
                files.append(f)
            else:
                skipped.append(Skip(str(f), f"unsupported file type {f.suffix or '(none)'!r}; "
                                            f"supported: {', '.join(SUFFIXES)}"))
    return files, skipped


def load_articles(paths: Iterable[str | os.PathLike]
                  ) -> tuple[list[Article], list[Skip], list[Path]]:
    """All articles under paths, the skips, and the files read. Duplicate ids keep the first."""
    files, skipped = discover(paths)
    articles: list[Article] = []
    seen: dict[str, str] = {}
    for f in files:
        for item in load_file(f):
            if isinstance(item, Skip):
                skipped.append(item)
            elif item.id in seen:
                skipped.append(Skip(item.path, f"duplicate article id {item.id!r} "
                                               f"(already read from {seen[item.id]})"))
            else:
                seen[item.id] = item.path
                articles.append(item)
    return articles, skipped, files
