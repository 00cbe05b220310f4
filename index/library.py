"""The article library: list, read, add (uploads), replace and delete articles, for the page and
the CLI alike. It owns the articles folder's rules:

- an upload never replaces an article: a name taken by an article already there (in any
  format) is saved under a new one, and an article id another file owns is refused;
- an upload is read (loaded, cleaned, split) from a private copy before anything is written
  into the folder, so a refused upload never lands there, and a failed copy leaves nothing;
- only `replace()` replaces an article, and it keeps the previous file under
  `.versions/` in the folder (hidden files are never indexed), so it can be restored;
- `delete()` removes an article's file and its chunks.

Written here, not taken from a library: these are this project's own folder rules.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.catalog import ArticleInfo, ArticleText, article_text, list_articles
from core.errors import InvalidSetting
from index.loaders import SUFFIXES, Article, Skip, load_file

log = logging.getLogger(__name__)
VERSIONS = ".versions"


@dataclass
class UploadReport:
    saved: list[str] = field(default_factory=list)  # file names, as saved
    notes: list[str] = field(default_factory=list)  # renames, said plainly
    refused: list[str] = field(default_factory=list)  # "name: reason"
    indexed: str = ""  # the ingest's summary line

    def lines(self) -> list[str]:
        out = [f"Indexed: {self.indexed}"] if self.indexed else []
        return out + self.notes + [f"refused {r}" for r in self.refused]


def safe_name(name: str) -> str:
    """A plain file name for an upload, or a clear refusal (no folders, no hidden files). Letters
    of any script are kept."""
    if not name or "\x00" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise InvalidSetting(f"refused file name {name!r}: absolute paths are not allowed")
    if ".." in Path(name.replace("\\", "/")).parts:
        raise InvalidSetting(f"refused file name {name!r}: '..' is not allowed")
    base = Path(name.replace("\\", "/")).name
    if base.startswith("."):
        raise InvalidSetting(f"refused file name {name!r}: hidden files are not allowed")
    clean = re.sub(r"[^\w. -]+", "_", base).strip(" .")
    if not clean or clean.startswith("."):
        raise InvalidSetting(f"refused file name {name!r}")
    if Path(clean).suffix.lower() not in SUFFIXES:
        raise InvalidSetting(f"{name!r} is not a supported type; upload {', '.join(SUFFIXES)}")
    return clean


def free_name(root: Path, name: str) -> str:
    """`name`, or `stem-2.ext`, `stem-3.ext` … when an article of that stem (the article id,
    in any format) is already in the folder."""
    stems = {p.stem.casefold() for p in root.iterdir()}
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, k = name, 1
    while Path(candidate).stem.casefold() in stems:
        k += 1
        candidate = f"{stem}-{k}{suffix}"
    return candidate


class Library:
    """The articles of one engine: its folder, its store, its ingest."""

    def __init__(self, engine) -> None:  # noqa: ANN001 - qa.engine.Engine (no import cycle)
        self.engine = engine
        self.settings = engine.settings
        self.root = Path(self.settings.articles_dir)

    # -- reading -----------------------------------------------------------------------------
    def page(self, query: str = "", page: int = 0) -> tuple[list[ArticleInfo], int]:
        """One page of the articles whose title or id holds `query` (any case), newest first,
        and how many match in all."""
        q = (query or "").strip().casefold()
        rows = [a for a in list_articles(self.engine.store)
                if not q or q in a.title.casefold() or q in a.article_id.casefold()]
        size = self.settings.articles_page_size
        page = max(0, min(page, (len(rows) - 1) // size if rows else 0))
        return rows[page * size:(page + 1) * size], len(rows)

    def get(self, article_id: str) -> ArticleText | None:
        return article_text(self.engine.store, article_id)

    # -- adding ------------------------------------------------------------------------------
    def add(self, uploads: list[tuple[str, str]]) -> UploadReport:
        """Add uploaded files, given as (where the upload is, the name it was sent with)."""
        report = UploadReport()
        self.root.mkdir(parents=True, exist_ok=True)
        root = self.root.resolve()
        saved: list[Path] = []
        for src, original in uploads:
            try:
                dest = self._add_one(root, src, original, report)
            except (InvalidSetting, OSError) as e:
                reason = e if isinstance(e, InvalidSetting) else "could not be saved (disk full?)"
                log.warning("upload %r not saved: %s", original, e)
                report.refused.append(f"{original}: {reason}")
                continue
            saved.append(dest)
            report.saved.append(dest.name)
        if saved:
            ingest = self.engine.ingest([str(p) for p in saved], progress=False)
            report.indexed = ingest.summary()
            for s in ingest.skipped:  # checked before saving; a file is never left unindexed
                Path(s["path"]).unlink(missing_ok=True)
                report.refused.append(f"{Path(s['path']).name} (not kept): {s['reason']}")
        return report

    def _add_one(self, root: Path, src: str, original: str, report: UploadReport) -> Path:
        name = safe_name(original)
        limit = self.settings.max_upload_mb * 1024 * 1024
        size = os.path.getsize(src)
        if size > limit:
            raise InvalidSetting(f"{original!r} is {size / 1e6:.1f} MB; the limit is "
                                 f"{self.settings.max_upload_mb} MB (QA_MAX_UPLOAD_MB)")
        with tempfile.TemporaryDirectory(dir=root, prefix=".upload-") as tmp:
            copy = Path(tmp) / name
            shutil.copyfile(src, copy)
            self._check_upload(copy, original)
            for _ in range(100):
                dest = root / free_name(root, name)
                try:
                    os.link(copy, dest)  # fails if the name was taken meanwhile
                    break
                except FileExistsError:
                    continue
            else:
                raise InvalidSetting(f"no free name for {original!r}")
        if dest.name != name:
            report.notes.append(f"{original} saved as {dest.name}: an article named {name} is "
                                "already there and was kept")
        return dest

    def _check_upload(self, copy: Path, original: str) -> None:
        """Refuse an upload that would be skipped, is too many articles, or takes an id that
        another file owns; reading it here is the same reading ingest does."""
        articles: list[Article] = []
        for item in load_file(copy):
            if isinstance(item, Skip):
                raise InvalidSetting(f"{original!r}: {item.reason}")
            articles.append(item)
            if len(articles) > self.settings.max_upload_records:
                raise InvalidSetting(
                    f"{original!r} holds more than {self.settings.max_upload_records} articles "
                    "(QA_MAX_UPLOAD_RECORDS); split it, or put it in the articles folder and "
                    "run `python -m index`")
        if not articles:
            raise InvalidSetting(f"{original!r} holds no article")
        if copy.suffix.lower() in (".json", ".jsonl"):  # records carry their own ids
            owned = self.owners([a.id for a in articles])
            if owned:
                aid, path = next(iter(owned.items()))
                raise InvalidSetting(
                    f"{original!r}: article id {aid!r} belongs to {Path(path).name}"
                    + (f" (and {len(owned) - 1} more ids to other files)" if len(owned) > 1
                       else "") + "; give the records ids of their own")

    def owners(self, ids: list[str]) -> dict[str, str]:
        """The stored articles among ids whose file is still there: id -> its path."""
        out = {}
        for i in range(0, len(ids), 500):
            got = self.engine.store.get(where={"article_id": {"$in": ids[i:i + 500]}})
            for meta in got["metadatas"]:
                path = meta.get("path", "")
                if path and Path(path).exists():
                    out[meta["article_id"]] = path
        return out

    # -- replacing and deleting --------------------------------------------------------------
    def _file_of(self, article_id: str) -> Path:
        stored = list_articles(self.engine.store)
        info = next((a for a in stored if a.article_id == article_id), None)
        if info is None:
            raise InvalidSetting(f"no article with id {article_id!r}")
        path = Path(info.path)
        if not path.is_file():
            raise InvalidSetting(f"the file of article {article_id!r} is gone; run "
                                 "`python -m index --prune`")
        if path.suffix.lower() in (".json", ".jsonl"):
            others = [a for a in stored if a.path == info.path and a.article_id != article_id]
            if others:
                raise InvalidSetting(
                    f"article {article_id!r} is one of {len(others) + 1} records in "
                    f"{path.name}; edit that file, then run `python -m index --prune`")
        return path

    def _keep_version(self, path: Path) -> Path:
        versions = path.parent / VERSIONS
        versions.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for k in range(1, 1000):
            kept = versions / f"{path.stem}.{stamp}{f'-{k}' if k > 1 else ''}{path.suffix}"
            try:
                os.link(path, kept)  # never over an earlier kept version
            except FileExistsError:
                continue
            path.unlink()
            return kept
        raise InvalidSetting(f"no free name under {versions} to keep {path.name}")

    def replace(self, article_id: str, src: str, original: str) -> UploadReport:
        """Replace an article's text with an upload's (the explicit action); the previous file
        is kept under .versions/ in the folder."""
        path = self._file_of(article_id)
        report = UploadReport()
        if Path(original).suffix.lower() != path.suffix.lower():
            raise InvalidSetting(f"replace {path.name} with a {path.suffix} file")
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".upload-") as tmp:
            copy = Path(tmp) / path.name
            shutil.copyfile(src, copy)
            items = list(load_file(copy))
            bad = next((i for i in items if isinstance(i, Skip)), None)
            if bad is not None or not items:
                raise InvalidSetting(f"{original!r}: {bad.reason if bad else 'no article'}")
            kept = self._keep_version(path)
            os.link(copy, path)
        ingest = self.engine.ingest([str(path)], progress=False)
        report.saved.append(path.name)
        report.indexed = ingest.summary()
        report.notes.append(f"{path.name} replaced; the previous version is kept as "
                            f"{kept.relative_to(path.parent)}")
        return report

    def delete(self, article_id: str) -> str:
        """Remove an article's file (kept under .versions/ for restoring) and its chunks."""
        path = self._file_of(article_id)
        from index.pipeline import Ingestor

        kept = self._keep_version(path)
        Ingestor(self.engine.store, self.engine.embedder, progress=False).remove([article_id])
        self.engine.refresh(force=True)
        return (f"deleted {article_id}; its file is kept as {kept.relative_to(path.parent)}, "
                "to restore it move it back and run `python -m index`")
