"""`python -m bench.screenshots`: the README's pictures of the page, made again.

    python -m bench.screenshots [--out docs]

Serves the page over a copy of the seed articles (the real model and reader, a temporary
Chroma store), asks the seed question and a follow-up in Debian's chromium, and saves
screenshot.png (light, 1400 px wide), screenshot-dark.png (dark) and screenshot-phone.png
(390 px wide).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from core.config import PROJECT_ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUESTIONS = [("Where will the Ukraine support command be based?", "Wiesbaden"),
             ("How many people will it involve?", "700")]


def take(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    saved = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        for name, scheme, width in (("screenshot.png", "light", 1400),
                                    ("screenshot-dark.png", "dark", 1400),
                                    ("screenshot-phone.png", "light", 390)):
            page = browser.new_page(viewport={"width": width, "height": 1000 if width > 600
                                              else 844}, color_scheme=scheme)
            page.goto(url + ("?__theme=dark" if scheme == "dark" else ""))
            question = page.get_by_role("textbox", name="Your question")
            for text, expected in QUESTIONS:
                question.fill(text)
                question.press("Enter")
                expect(page.locator("#chat")).to_contain_text(expected, timeout=60_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / name), full_page=width > 600)
            saved.append(out / name)
            page.close()
        browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ap = argparse.ArgumentParser(prog="python -m bench.screenshots",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print("error: Debian's chromium is needed (apt-get install chromium)", file=sys.stderr)
        return 2
    from bench.live import Served
    from core.config import Settings
    from qa.engine import Engine

    work = Path(tempfile.mkdtemp(prefix="newsqa-shots-"))
    try:
        shutil.copytree(PROJECT_ROOT / "articles", work / "articles")
        engine = Engine(Settings(articles_dir=str(work / "articles"),
                                 index_dir=str(work / "index")))
        served = Served(engine)
        try:
            for path in take(served.url, args.out):
                print(path)
        finally:
            served.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
