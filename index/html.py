"""Main text and metadata (title, date, url) of an HTML article page."""

from __future__ import annotations

from dataclasses import dataclass

_DROP = ("script", "style", "noscript", "template", "iframe", "svg", "nav", "header", "footer",
         "aside", "form", "button", "figure")
_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre", "td")
_DATE_META = ("article:published_time", "og:published_time", "datePublished", "date",
              "pubdate", "publish-date", "dc.date", "dc.date.issued", "sailthru.date")


@dataclass(frozen=True)
class HtmlPage:
    title: str | None
    url: str | None
    published: str | None
    blocks: list[str]
    source: str | None = None  # the outlet (og:site_name)


def _meta(soup, names: tuple[str, ...]) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            tag = soup.find("meta", attrs={attr: name})
            if tag and tag.get("content", "").strip():
                return tag["content"].strip()
    return None


def extract_html(html: str) -> HtmlPage:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = _meta(soup, ("og:title", "twitter:title"))
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ", strip=True) if h1 else None
    if not title and soup.title:
        title = soup.title.get_text(" ", strip=True)
    published = _meta(soup, _DATE_META)
    if not published:
        t = soup.find("time", attrs={"datetime": True})
        published = t["datetime"] if t else None
    url = _meta(soup, ("og:url",))
    if not url:
        link = soup.find("link", attrs={"rel": "canonical"})
        url = link.get("href") if link else None

    for tag in soup(list(_DROP)):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    blocks = []
    for el in root.find_all(_BLOCKS):
        if el.find(_BLOCKS):  # the inner blocks carry the text
            continue
        text = " ".join(el.get_text(" ", strip=True).split())
        if text and not (title and el.name == "h1" and text == title):
            blocks.append(text)
    if not blocks:
        text = root.get_text("\n", strip=True)
        blocks = [line for line in text.split("\n") if line.strip()]
    source = _meta(soup, ("og:site_name", "application-name", "publisher"))
    return HtmlPage(title or None, url, published, blocks, source)
