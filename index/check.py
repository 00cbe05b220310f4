"""`python -m index --check`: verify the stored index against the articles, and say how to fix
what is wrong.

What it checks, in order, each finding with the command that fixes it:

- the store opens and reads (else: damaged, `python -m index --reset`);
- no ingest was left unfinished (a kill between the revision marks, see core.store);
- every chunk record decodes (its metadata keys and sentence vectors) and every article has
  exactly one complete version;
- the vector index finds a sample of chunks by their own vectors (a truncated or foreign
  vector-index file answers with the wrong chunks, silently);
- the stored articles are the files' current versions (none missing, outdated or gone);
- the keyword cache is readable, the store's changes since it small enough for a delta, and
  no folder is left by a cache writer that died.

`--repair` runs the fix: a reset for a damaged store or records, else an ingest with pruning;
a dead writer's folders are removed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.config import Settings
from core.errors import IndexDamaged, IndexMismatch
from core.keyword import STAMP, KeywordIndex, cache_dir_for, dead_writers
from core.records import REQUIRED, StoredArticle, sentence_vectors
from core.sentence_model import model_label
from core.store import Store
from index.loaders import load_articles

PROBES = 64  # chunks looked up by their own vectors
RESET, INGEST = "python -m index --reset", "python -m index --prune"
REPAIR = "python -m index --check --repair"


@dataclass
class Finding:
    what: str
    fix: str  # the command that repairs it


@dataclass
class CheckReport:
    chunks: int = 0
    articles: int = 0
    probes_found: str = ""
    problems: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def needs_reset(self) -> bool:
        return any(p.fix == RESET for p in self.problems)

    @property
    def needs_ingest(self) -> bool:
        return any(p.fix in (RESET, INGEST) for p in self.problems)

    def lines(self) -> list[str]:
        head = (f"{self.articles} articles, {self.chunks} chunks"
                + (f"; vector lookups {self.probes_found}" if self.probes_found else ""))
        if self.ok:
            return [f"index ok: {head}"]
        return [f"index has {len(self.problems)} problem(s): {head}"] + [
            f"- {p.what}; fix: `{p.fix}`" for p in self.problems]

    def to_dict(self) -> dict:
        return asdict(self) | {"ok": self.ok}


def check_index(settings: Settings, paths: list[str] | None = None,
                label: str | None = None) -> CheckReport:
    """label: the embedding model's (default: the one the settings select)."""
    report = CheckReport()
    label = label or model_label(settings.embed_model, settings.embed_backend)
    try:
        store = Store.open(settings, label, create=False, check=False)
    except IndexDamaged as e:
        report.problems.append(Finding(str(e).split("; check it")[0], RESET))
        return report
    except Exception as e:  # noqa: BLE001 - no collection yet: nothing is indexed
        if type(e).__name__ != "NotFoundError":
            raise
        report.problems.append(Finding("nothing is indexed yet", "python -m index"))
        return report
    try:
        store.check_model()
    except IndexMismatch as e:
        report.problems.append(Finding(str(e).split("; rebuild it")[0], RESET))
    try:
        versions = _check_records(store, report)
        _check_vectors(store, report)
    except IndexDamaged as e:
        report.problems.append(Finding(str(e).split("; check it")[0], RESET))
        return report
    if store.change_pending():
        report.problems.append(Finding("an ingest was stopped before it finished", INGEST))
    _check_articles(versions, paths or [settings.articles_dir], report)
    _check_keyword_cache(store, settings, report)
    return report


def _check_records(store: Store, report: CheckReport) -> dict[str, StoredArticle]:
    """Every record decodes, and each article has one complete version; returns what is
    stored, article by article (one pass over the records)."""
    versions: dict[str, StoredArticle] = defaultdict(StoredArticle)
    bad = 0
    for cid, meta in store.all_metadatas():
        report.chunks += 1
        try:
            if any(k not in meta for k in REQUIRED):
                raise KeyError
            vecs = sentence_vectors(meta)
            if not np.isfinite(vecs).all():
                raise ValueError
        except (KeyError, ValueError, TypeError):
            bad += 1
            continue
        versions[meta["article_id"]].add(cid, meta)
    report.articles = len(versions)
    if bad:
        report.problems.append(Finding(f"{bad} chunk record(s) cannot be decoded", RESET))
    partial = [a for a, st in versions.items()
               if len(st.ids_by_hash) != 1 or not all(map(st.complete, st.ids_by_hash))]
    if partial:
        report.problems.append(Finding(
            f"{len(partial)} article(s) with an incomplete or extra version "
            f"(e.g. {partial[0]!r})", INGEST))
    return versions


def _check_vectors(store: Store, report: CheckReport) -> None:
    """A sample of chunks spread over the collection, each looked up by its own vector."""
    if report.chunks == 0:
        return
    offsets = sorted({int(x) for x in np.linspace(0, report.chunks - 1, min(PROBES,
                                                                             report.chunks))})
    found = 0
    for at in offsets:
        got = store.get(embeddings=True, limit=1, offset=at)
        if not got["ids"]:
            continue
        hits = store.nearest(got["embeddings"][0], 5, documents=False)
        found += got["ids"][0] in [cid for cid, _, _ in hits]
    report.probes_found = f"{found}/{len(offsets)} found"
    if found < len(offsets):
        report.problems.append(Finding(
            f"the vector index does not find {len(offsets) - found} of {len(offsets)} chunks by "
            "their own vectors (a damaged vector-index file)", RESET))


def _check_articles(versions: dict[str, StoredArticle], paths: list[str],
                    report: CheckReport) -> None:
    articles, _skips, _files = load_articles(paths)
    stored = {aid: set(st.ids_by_hash) for aid, st in versions.items()}
    missing = [a.id for a in articles if a.id not in stored]
    outdated = [a.id for a in articles if a.id in stored and a.content_hash not in stored[a.id]]
    on_disk = {a.id for a in articles}
    gone = [aid for aid in stored if aid not in on_disk]
    for ids, what in ((missing, "not indexed yet"), (outdated, "changed since indexed"),
                      (gone, "indexed, but no longer among the articles")):
        if ids:
            report.problems.append(Finding(f"{len(ids)} article(s) {what} (e.g. {ids[0]!r})",
                                           INGEST))


def _check_keyword_cache(store: Store, settings: Settings, report: CheckReport) -> None:
    """No folder is left by a cache writer that died; the cached keyword base is readable, and
    the store's changes since it small enough to be read as a delta (else the next question's
    snapshot rebuilds it)."""
    cache = Path(cache_dir_for(settings))
    if left := dead_writers(cache):
        size = sum(f.stat().st_size for d in left for f in d.rglob("*") if f.is_file())
        report.problems.append(Finding(
            f"{len(left)} folder(s) left by keyword-cache writers that died "
            f"({size / 1e6:.1f} MB, e.g. {left[0].name!r})", REPAIR))
    if not (cache / STAMP).exists():
        return  # built on first use
    base = KeywordIndex.cached(cache, top_k=8)
    if base is None:
        report.problems.append(Finding("the keyword cache is unreadable (it is rebuilt on the "
                                       "next question)", INGEST))
    elif base.at(store, store.revision()) is None:
        report.problems.append(Finding("the keyword cache is far behind the index (it is "
                                       "rebuilt on the next question)", INGEST))
