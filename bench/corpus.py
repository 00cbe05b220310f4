"""Synthetic news corpora for benchmarks and fault tests: article-length texts made by
recombining the seed articles' sentences around planted facts, each fact unique to one article
(its town, its numbers), so every planted question has exactly one right answer."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

SEEDS = Path(__file__).resolve().parent.parent / "articles"
_SYLLABLES = ["ka", "lo", "mir", "ten", "vas", "dor", "bel", "sun", "gra", "pol", "ri", "ven",
              "tor", "mal", "nes", "quin", "bra", "del", "fos", "hal", "jur", "kel", "lin",
              "mor", "nov", "ost", "par", "rud", "sel", "tav", "ul", "zen"]
_SUFFIX = ["burg", "grad", "ford", "ovo", "ice", "dal", "heim", "port", "ville", "stad"]
_ORGS = ["NATO", "the European Union", "the regional council", "the defence ministry",
         "the port authority", "the energy agency"]
_FACILITY = ["logistics hub", "training centre", "repair depot", "air defence site",
             "supply base", "command post"]
_FIRST = ["Anna", "Piotr", "Lena", "Marek", "Ines", "Tomas", "Sofia", "Jonas", "Maja", "Karl"]
_LAST = ["Kowal", "Berger", "Novak", "Lindqvist", "Moreau", "Varga", "Dumitru", "Keller"]


@dataclass(frozen=True)
class Planted:
    question: str
    answer: str
    article_id: str


def _filler() -> list[str]:
    """Seed sentences without digits: realistic background that answers no planted question.
    The Wiesbaden article is left out, so the seed question keeps one source."""
    from index.loaders import load_articles

    articles, _, _ = load_articles([SEEDS])
    out = []
    for a in articles:
        if a.id == "002_97a7c6ca049e9223":
            continue
        for c in a.chunks():
            out += [s.text for s in c.sentences if not re.search(r"\d", s.text)]
    return out


def town_names(n: int, rng: random.Random) -> list[str]:
    names: set[str] = set()
    while len(names) < n:
        k = rng.choice((2, 3))
        name = "".join(rng.choice(_SYLLABLES) for _ in range(k)) + rng.choice(_SUFFIX)
        names.add(name.capitalize())
    return sorted(names, key=lambda _: rng.random())


def make_corpus(n: int, seed: int = 7, filler: tuple[int, int] = (9, 14)
                ) -> tuple[list[dict], list[Planted]]:
    """n article records (id, title, text, url, published, source) and one planted question
    for each; each article holds its three facts among `filler` (fewest, most) background
    sentences."""
    rng = random.Random(seed)
    background = _filler()
    towns = town_names(n, rng)
    start = date(2024, 1, 1)
    records, planted = [], []
    for i, town in enumerate(towns):
        aid = f"syn-{i:05d}"
        org, facility = rng.choice(_ORGS), rng.choice(_FACILITY)
        staff, cost = rng.randint(120, 9800), rng.randint(11, 990)
        person = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        title = f"{org[0].upper() + org[1:]} to open {facility} in {town}"
        facts = [
            f"{org[0].upper() + org[1:]} will open a new {facility} in {town}, officials "
            f"announced this week.",
            f"The {town} {facility} is expected to employ {staff} people once it is running.",
            f"{person}, who leads the project, said construction would cost {cost} million "
            f"euros.",
        ]
        body = rng.sample(background, k=min(len(background), rng.randint(*filler)))
        for j, fact in enumerate(facts):
            body.insert(min(len(body), 2 + 3 * j + rng.randint(0, 2)), fact)
        paragraphs = [" ".join(body[k:k + 3]) for k in range(0, len(body), 3)]
        records.append({
            "id": aid, "title": title, "text": "\n\n".join(paragraphs),
            "url": f"https://news.example/{aid}",
            "published": (start + timedelta(days=i % 700)).isoformat(), "source": "synthetic",
        })
        planted.append(Planted(f"How many people will the {town} {facility} employ?",
                               str(staff), aid))
    return records, planted


def write_jsonl(records: list[dict], path: Path, per_file: int = 1000) -> list[Path]:
    """The records as JSONL files of per_file lines each."""
    path.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(0, len(records), per_file):
        f = path / f"part-{k // per_file:04d}.jsonl"
        f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                             for r in records[k:k + per_file]))
        files.append(f)
    return files
