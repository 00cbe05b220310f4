"""The chat page, tested as people and programs use it: a real server, a real API client,
and Debian's chromium driven by playwright."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import ARTICLES, ROOT, SEED_QUESTION, WIESBADEN_ID, free_port, stop

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# questions timed in the browser (warm), each answered with a marker [1]
TIMED = [("How many personnel will the operation involve?", "700"),
         ("How much money is dedicated to the NATO Innovation Fund?", "billion"),
         ("Who is the alliance's deputy supreme allied commander?", "Stringer"),
         ("Where will the Ukraine support command be based?", "Wiesbaden"),
         ("How many modern aircraft are planned for acquisition across Europe and Canada?",
          "850")]
NEW_ARTICLE = """Harbour Bridge Reopens After Storm Repairs

The Kestrel Harbour bridge reopened on Tuesday after eleven weeks of storm repairs.
Engineers replaced 42 steel cables and resurfaced the deck at a cost of 18 million euros.
The port authority said ferry traffic will return to its normal timetable next month.
"""


PAYLOAD_ARTICLE = """Zorvik Budget Vote <img src=x onerror="window.__pwned='title'">

The Zorvik council approved a budget of 77 million euros <script>window.__pwned='script'</script> on Monday.
Officials said <img src=x onerror="window.__pwned='img'"> the vote was close, with 9 members against.
"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The app started as `python app.py` on a free loopback port; stopped afterwards."""
    root = tmp_path_factory.mktemp("app")
    articles = root / "articles"
    shutil.copytree(ARTICLES, articles)
    (articles / "zorvik.txt").write_text(PAYLOAD_ARTICLE)
    port = free_port()
    env = dict(os.environ, QA_ARTICLES_DIR=str(articles), QA_INDEX_DIR=str(root / "index"))
    log = open(root / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app exited: {(root / 'app.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("app did not start in 240 s")
    yield url, articles, root
    stop(proc)
    log.close()


def test_log_says_where_the_page_is(app_url):
    url, _, root = app_url
    assert f"serving on {url.rstrip('/')}" in (root / "app.log").read_text()


def test_the_apps_start_brings_the_index_up_to_date_and_prunes(tmp_path, seed_engine):
    """`python app.py` (and so `make run`) indexes what changed in the folder and drops
    articles whose files are gone, and says so in its log."""
    from core.config import Settings
    from qa.engine import Engine

    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    settings = Settings(articles_dir=str(articles), index_dir=str(tmp_path / "index"))
    Engine(settings, embedder=seed_engine.embedder).ingest(progress=False)  # all five
    (articles / f"{WIESBADEN_ID}.txt").unlink()
    (articles / "added.txt").write_text(NEW_ARTICLE)
    port = free_port()
    env = dict(os.environ, QA_ARTICLES_DIR=str(articles), QA_INDEX_DIR=settings.index_dir)
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while "serving on" not in (tmp_path / "app.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "app.log").read_text()[-2000:]
            time.sleep(0.5)
        text = (tmp_path / "app.log").read_text()
        assert "index brought up to date with" in text
        assert "1 added, 0 updated, 4 unchanged, 1 removed" in text
    finally:
        stop(proc)
        log.close()


def test_api_answers_the_seed_question_for_a_program(app_url):
    from gradio_client import Client

    client = Client(app_url[0], verbose=False)
    result = client.predict(SEED_QUESTION, api_name="/ask")
    assert set(result) >= {"text", "citations", "abstained"}
    assert "Wiesbaden" in result["text"] and result["abstained"] is False
    assert result["citations"][0]["article_id"] == WIESBADEN_ID
    assert "Wiesbaden" in result["citations"][0]["quote"]
    unanswerable = client.predict("What did the Supreme Court rule about Judge Tuleya?",
                                  api_name="/ask")
    assert unanswerable["abstained"] is True and unanswerable["citations"] == []


def test_api_reports_a_bad_question_as_an_error(app_url):
    from gradio_client import Client

    client = Client(app_url[0], verbose=False)
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", api_name="/ask")


@pytest.mark.e2e
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                    "(.ci/run installs it; locally: apt-get install chromium)")
def test_browser_ask_follow_up_upload_and_screenshot(app_url, tmp_path, capsys):
    from playwright.sync_api import expect, sync_playwright

    url, articles, _ = app_url
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: outside.append(r.url)
                if urlparse(r.url).scheme in ("http", "https", "ws", "wss")
                and urlparse(r.url).hostname not in ("127.0.0.1", "localhost") else None)
        page.goto(url)
        question = page.locator("#question textarea")
        chat = page.locator("#chat")

        # warm-up, then the timed question
        question.fill("Who is the alliance's deputy supreme allied commander?")
        question.press("Enter")
        expect(chat).to_contain_text("Stringer", timeout=60_000)
        question.fill(SEED_QUESTION)
        started = time.perf_counter()
        question.press("Enter")
        expect(chat).to_contain_text("Wiesbaden", timeout=60_000)
        card = page.locator(f'#sources .source-card[data-article="{WIESBADEN_ID}"]')
        expect(card).to_be_visible()
        elapsed = time.perf_counter() - started
        expect(card.locator(".quote mark")).to_contain_text("Wiesbaden")
        expect(card.locator(".num")).to_have_text("[1]")
        card.locator("summary").click()
        expect(card.locator("details")).to_contain_text("Enhanced Long-Term Support")

        question.fill("How many people will it involve?")
        question.press("Enter")
        expect(chat).to_contain_text("700", timeout=60_000)
        expect(page.locator("#sources .quote mark")).to_contain_text("700")
        shot = tmp_path / "chat.png"
        page.screenshot(path=str(shot), full_page=True)
        if os.environ.get("NEWSQA_SCREENSHOT"):
            page.screenshot(path=os.environ["NEWSQA_SCREENSHOT"], full_page=True)

        question.fill("What was the score of the Spain-Germany World Cup match?")
        question.press("Enter")
        expect(page.locator("#sources #abstained")).to_be_visible(timeout=60_000)
        expect(page.locator("#sources .source-card")).to_have_count(0)

        page.get_by_role("tab", name="Articles").click()
        upload = tmp_path / "harbour-bridge.txt"
        upload.write_text(NEW_ARTICLE)
        page.locator("#upload input[type=file]").set_input_files(str(upload))
        page.locator("#add").click()
        expect(page.locator("#upload-status")).to_contain_text("1 added", timeout=120_000)
        expect(page.locator("#articles")).to_contain_text("Harbour Bridge Reopens")
        assert (articles / "harbour-bridge.txt").read_text() == NEW_ARTICLE

        page.get_by_role("tab", name="Ask").click()
        page.locator("#clear").click()
        question.fill("How many steel cables did engineers replace on the bridge?")
        question.press("Enter")
        expect(chat).to_contain_text("42 steel cables", timeout=60_000)
        expect(page.locator('#sources .source-card[data-article="harbour-bridge"]')).to_be_visible()
        browser.close()

    assert shot.stat().st_size > 10_000
    assert outside == [], f"the page reached outside this machine: {outside[:5]}"
    with capsys.disabled():
        print(f"\n[browser] Enter to answer on screen (warm): {elapsed * 1000:.0f} ms")


def test_eight_api_clients_at_once_while_sixteen_threads_ask(app_url, seed_engine, capsys):
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    questions = [(SEED_QUESTION, "Wiesbaden"),
                 ("How much money is dedicated to the NATO Innovation Fund?", "$1 billion"),
                 ("Who is the alliance's deputy supreme allied commander?", "Johnny Stringer"),
                 ("What budget did the Zorvik council approve?", "77 million euros")]

    def client_session(k: int) -> list[bool]:
        client = Client(app_url[0], verbose=False)
        out = []
        for i in range(5):
            q, needle = questions[(k + i) % len(questions)]
            out.append(needle in client.predict(q, api_name="/ask")["text"])
        return out

    def in_process(i: int) -> bool:
        q, needle = questions[i % 3]  # the seed engine has no Zorvik article
        return needle in seed_engine.ask(q).text

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as clients, ThreadPoolExecutor(16) as threads:
        local = threads.map(in_process, range(64))
        results = [ok for session in clients.map(client_session, range(8)) for ok in session]
        local_results = list(local)
    elapsed = time.perf_counter() - started
    assert len(results) == 40 and all(results)
    assert len(local_results) == 64 and all(local_results)
    with capsys.disabled():
        print(f"\n[load] 8 gradio_client clients and 16 ask() threads at once: "
              f"{sum(results)}/40 and {sum(local_results)}/64 answered correctly in "
              f"{elapsed:.1f} s")


@pytest.mark.e2e
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                    "(.ci/run installs it; locally: apt-get install chromium)")
def test_article_markup_is_shown_as_text_and_never_runs(app_url):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(app_url[0])
        question = page.locator("#question textarea")
        question.fill("What budget did the Zorvik council approve?")
        question.press("Enter")
        card = page.locator('#sources .source-card[data-article="zorvik"]')
        expect(card).to_be_visible(timeout=60_000)
        expect(card).to_contain_text("<script>window.__pwned='script'</script>")
        expect(card).to_contain_text('<img src=x onerror="window.__pwned=\'title\'">')
        card.locator("summary").click()
        expect(card.locator("details")).to_contain_text("onerror=")
        expect(page.locator("#chat")).to_contain_text("77 million euros")
        page.get_by_role("tab", name="Articles").click()
        expect(page.locator("#articles")).to_contain_text("Zorvik Budget Vote")
        page.wait_for_timeout(500)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#sources script, #sources img, #chat img").count() == 0
        assert dialogs == []
        browser.close()


def test_api_date_range_leaves_undated_articles_out(app_url):
    from gradio_client import Client

    client = Client(app_url[0], verbose=False)
    result = client.predict(SEED_QUESTION, "2024-01-01", "", api_name="/ask")
    assert result["abstained"] is True
    assert "undated articles were left out by the date filter" in result["text"]
    with pytest.raises(Exception, match="not a date"):
        client.predict(SEED_QUESTION, "last week", "", api_name="/ask")


def test_auth_in_the_working_folders_env_file_locks_the_page(tmp_path, seed_engine):
    """QA_AUTH, QA_PORT (and the rest) set in a .env of the folder the app is started from hold,
    though the real environment does not set them."""
    from gradio_client import Client

    port = free_port()
    (tmp_path / ".env").write_text(
        f"QA_AUTH=editor:s3cret-word\nQA_PORT={port}\n"
        f"QA_ARTICLES_DIR={seed_engine.settings.articles_dir}\n"
        f"QA_INDEX_DIR={seed_engine.settings.index_dir}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "app.log").read_text()[-2000:]
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        import httpx

        assert httpx.get(f"{url}gradio_api/info", timeout=30).status_code == 401  # locked
        result = Client(url, auth=("editor", "s3cret-word"), verbose=False).predict(
            SEED_QUESTION, api_name="/ask")
        assert "Wiesbaden" in result["text"]
    finally:
        stop(proc)
        log.close()


def _settled(page) -> None:
    """Wait until the page has loaded and gradio shows nothing as pending (its pending
    outputs are drawn translucent, which axe would measure). Not "networkidle": gradio can
    keep a request open past it, which timed the wait out now and then."""
    from playwright.sync_api import expect

    page.wait_for_load_state("load")
    expect(page.locator(".pending, .generating")).to_have_count(0, timeout=30_000)
    page.wait_for_timeout(500)
    expect(page.locator(".pending, .generating")).to_have_count(0, timeout=30_000)


def _tab_to(page, target, presses: int = 30) -> None:
    """Press Tab until target has the focus (keyboard use reaches it), or fail."""
    for _ in range(presses):
        if target.evaluate("(el) => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} is not reachable by Tab")


CONTRAST_JS = """(el) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  let bg = null, node = el;
  while (node && node.nodeType === 1) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) { bg = c; break; }
    node = node.parentElement;
  }
  return [rgb(getComputedStyle(el).color), bg || [255, 255, 255]];
}"""


def _contrast(fg, bg) -> float:
    def lum(c):
        ch = [x / 255 for x in c[:3]]
        ch = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]
    a, b = sorted((lum(fg), lum(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


@pytest.mark.e2e
def test_the_page_a_journalist_trusts(app_url, tmp_path, capsys):
    """Answer first with its own sources and linked markers, evidence strength, errors under
    their fields, a conversation that survives a reload and exports as Markdown, examples that
    ask, a focused and named question box, readable highlights in light and dark, and the
    sources right under the answer on a phone."""
    from playwright.sync_api import expect, sync_playwright

    url = app_url[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      accept_downloads=True)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = context.new_page()
        page.goto(url)
        page.wait_for_load_state("networkidle")
        question = page.get_by_role("textbox", name="Your question")
        expect(question).to_be_focused(timeout=30_000)
        chat = page.locator("#chat")

        # by keyboard alone: type, Tab to Ask, Enter
        page.keyboard.type("Who is the alliance's deputy supreme allied commander?")
        page.keyboard.press("Tab")
        expect(page.locator("#ask")).to_be_focused()
        page.keyboard.press("Enter")
        expect(chat).to_contain_text("Stringer", timeout=60_000)
        page.locator("#clear").click()
        expect(page.locator("#chat .message")).to_have_count(0)

        page.get_by_role("button", name=SEED_QUESTION).click()  # an example asks at once
        expect(chat).to_contain_text("Wiesbaden", timeout=60_000)
        marker = chat.locator('a.marker[href="#src-0-1"]')
        expect(marker).to_have_count(1)
        expect(chat.locator('[id="src-0-1"]')).to_have_count(1)
        strength = chat.locator(".evidence").first
        expect(strength).to_have_text(re.compile("(strong|weak) evidence"))
        assert "reader" in strength.get_attribute("title")
        marker.click()
        assert len(context.pages) == 1  # the marker jumps to its source, on this page
        card = page.locator(f'#sources .source-card[data-article="{WIESBADEN_ID}"]')
        card.locator("summary").click()
        expect(card.locator("details mark")).to_be_in_viewport()

        # Copy gives plain text with numbered sources, not the bubble's markdown
        chat.locator('button[aria-label="Copy message"]').last.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert "Wiesbaden" in copied and "[1]" in copied and "Sources" in copied, copied
        assert not any(mark in copied for mark in ("**", "<a", "<span", "&gt;", "\\", "`",
                                                   "evidence")), copied

        # timed (warm): Enter to the answer on screen; a marker of an earlier answer clicked to
        # its source in view
        enter, marker_to_source = [], []
        for k, (ask, expected) in enumerate(TIMED, start=1):
            question.fill(ask)
            started = time.perf_counter()
            question.press("Enter")
            expect(chat.locator(".message-row")).to_have_count(2 * (k + 1), timeout=60_000)
            expect(chat).to_contain_text(expected, timeout=60_000)
            enter.append(time.perf_counter() - started)
        for k in range(len(TIMED)):
            source = chat.locator(f'p:has([id="src-{k}-1"])')  # the source's line
            link = chat.locator(f'a.marker[href="#src-{k}-1"]').first
            link.scroll_into_view_if_needed()
            started = time.perf_counter()
            link.click()
            expect(source).to_be_in_viewport()
            marker_to_source.append(time.perf_counter() - started)
        with capsys.disabled():
            print(f"\n[browser] Enter to answer on screen (warm), p50 of {len(enter)}: "
                  f"{statistics.median(enter) * 1000:.0f} ms; marker click to source in view, "
                  f"p50 of {len(marker_to_source)}: "
                  f"{statistics.median(marker_to_source) * 1000:.0f} ms")

        # errors stay under their fields; nothing covers the conversation
        page.locator("#since input").first.fill("2024-13-45")
        question.fill("How many personnel will the operation involve?")
        question.press("Enter")
        expect(page.locator("#date-error")).to_contain_text("is not a date", timeout=30_000)
        expect(page.locator(".toast-body")).to_have_count(0)
        expect(question).to_have_value("How many personnel will the operation involve?")
        page.locator("#since input").first.fill("")
        long = "why " * 600
        question.fill(long)
        question.press("Enter")
        expect(page.locator("#question-error")).to_contain_text("the limit is 2000",
                                                                timeout=30_000)
        expect(question).to_have_value(long)  # refused, not cut
        assert chat.locator(".message").count() >= 2

        # the conversation survives a reload and exports with its citations and quotes
        rows = chat.locator(".message-row").count()
        page.reload()
        expect(page.locator("#chat")).to_contain_text("Wiesbaden", timeout=30_000)
        expect(page.locator("#chat .message-row")).to_have_count(rows)  # every turn
        with page.expect_download() as got:
            page.locator("#export").click()
        exported = Path(got.value.path()).read_text(encoding="utf-8")
        assert SEED_QUESTION in exported and "[1]" in exported and "\n> " in exported
        assert "Wiesbaden" in exported

        # readable highlight and text, light and dark; axe finds no WCAG 2 A/AA violation
        from axe_playwright_python.sync_playwright import Axe

        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.goto(url + ("?__theme=dark" if scheme == "dark" else ""))
            expect(page.locator("#chat")).to_contain_text("Wiesbaden", timeout=30_000)
            page.get_by_role("button", name=TIMED[0][0]).click()  # the sources panel, too
            expect(page.locator("#sources mark").first).to_contain_text("700", timeout=60_000)
            _settled(page)
            found = Axe().run(page, options={"runOnly": {"type": "tag",
                                                         "values": ["wcag2a", "wcag2aa"]}})
            violations = [(v["id"], v["nodes"][0]["target"])
                          for v in found.response["violations"]]
            assert violations == [], (scheme, violations)
            # the text, the quotes, and the highlight with the answer in it
            for selector in ("#chat .message p", "#chat blockquote p", "#sources mark",
                             "#sources mark strong.answer", "#chat blockquote strong"):
                el = page.locator(selector).first
                expect(el).to_be_visible()
                fg, bg = el.evaluate(CONTRAST_JS)
                assert _contrast(fg, bg) >= 4.5, (scheme, selector, fg, bg)

        # one clear action: the conversation, its sources and its browser copy go together
        page.locator("#clear").click()
        expect(page.locator("#chat .message")).to_have_count(0)
        page.reload()
        page.wait_for_timeout(1500)
        expect(page.locator("#chat .message")).to_have_count(0)

        # the Articles tab, by keyboard alone: searched on the server, and a delete that names
        # what went wrong
        page.get_by_role("tab", name="Articles").focus()
        page.keyboard.press("Enter")
        _tab_to(page, page.locator("#article-search textarea, #article-search input").first)
        page.keyboard.type("zorvik")
        page.keyboard.press("Enter")
        expect(page.locator("#articles-caption")).to_contain_text("1 article matching",
                                                                  timeout=30_000)
        expect(page.locator("#articles")).to_contain_text("Zorvik Budget Vote")
        _tab_to(page, page.locator("#delete-id textarea, #delete-id input").first)
        page.keyboard.type("no-such-article")
        _tab_to(page, page.locator("#delete"))
        page.keyboard.press("Enter")
        expect(page.locator("#upload-status")).to_contain_text("no article with id",
                                                               timeout=30_000)

        # the Articles tab in light and dark: axe finds no WCAG 2 A/AA violation
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.goto(url + ("?__theme=dark" if scheme == "dark" else ""))
            page.get_by_role("tab", name="Articles").click()
            expect(page.locator("#articles")).to_contain_text("Zorvik Budget Vote",
                                                              timeout=30_000)
            _settled(page)
            found = Axe().run(page, options={"runOnly": {"type": "tag",
                                                         "values": ["wcag2a", "wcag2aa"]}})
            violations = [(v["id"], v["nodes"][0]["target"])
                          for v in found.response["violations"]]
            assert violations == [], ("Articles", scheme, violations)
        page.emulate_media(color_scheme="light")

        # on a phone the sources sit right under the answer
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto(url)
        phone.get_by_role("button", name=SEED_QUESTION).click()
        expect(phone.locator("#chat")).to_contain_text("Wiesbaden", timeout=60_000)
        top = phone.locator('#chat a.marker').first.bounding_box()["y"]
        src = phone.locator('#chat [id="src-0-1"]').bounding_box()
        below = phone.locator("#chat blockquote").first.bounding_box()["y"]
        assert 0 < below - top < 600, (top, below, src)
        browser.close()
