"""What the index holds, article by article: for the article list and the source viewer."""

from __future__ import annotations

from dataclasses import dataclass

from core.keyword import chunk_node
from core.records import complete_version
from core.store import Store


@dataclass(frozen=True)
class ArticleInfo:
    article_id: str
    title: str
    published: str | None
    url: str | None
    chunks: int
    path: str


@dataclass(frozen=True)
class ArticleText:
    info: ArticleInfo
    paragraphs: list[str]  # as indexed: cleaned, in order

    def paragraph_with(self, quote: str) -> str | None:
        """The paragraph holding the quote (or its first sentence), for showing it in context."""
        for para in self.paragraphs:
            if quote in para:
                return para
        head = quote.split(". ")[0]
        return next((p for p in self.paragraphs if head in p), None)


def list_articles(store: Store) -> list[ArticleInfo]:
    """One entry per stored article, newest first, then by title."""
    seen: dict[str, dict] = {}
    counts: dict[str, int] = {}
    for _, meta in store.all_metadatas():
        aid = meta["article_id"]
        if aid in seen and seen[aid].get("content_hash") != meta.get("content_hash"):
            continue  # another version mid-update
        counts[aid] = counts.get(aid, 0) + 1
        seen.setdefault(aid, meta)
    infos = [ArticleInfo(aid, m.get("title", ""), m.get("published"), m.get("url"), counts[aid],
                         m.get("path", "")) for aid, m in seen.items()]
    infos.sort(key=lambda a: (a.published or "", a.title), reverse=True)
    infos.sort(key=lambda a: a.published is None)
    return infos


def article_text(store: Store, article_id: str) -> ArticleText | None:
    got = store.get(where={"article_id": article_id}, documents=True)
    if not got["ids"]:
        return None
    rows = [(meta, chunk_node(cid, doc, meta).get_content())
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]
    rows = complete_version(rows)  # mid-update two versions may be stored
    m = rows[0][0]
    info = ArticleInfo(article_id, m.get("title", ""), m.get("published"), m.get("url"),
                       len(rows), m.get("path", ""))
    paragraphs = [line for _, doc in rows for line in doc.split("\n") if line.strip()]
    return ArticleText(info, paragraphs)
