"""The newsqa chat page: ask, read the short answer, check every claim against its article.

    python app.py [--host 127.0.0.1] [--port 7860] [--auth user:password]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import html
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from core.catalog import article_text  # noqa: E402
from core.config import Settings, load_env_file  # noqa: E402
from core.errors import NewsQAError  # noqa: E402
from index.library import Library  # noqa: E402
from index.loaders import SUFFIXES  # noqa: E402
from qa.engine import Engine, parse_range  # noqa: E402
from qa.models import Answer  # noqa: E402

log = logging.getLogger("newsqa.app")
SEED_QUESTION = "Where will the Ukraine support command be based?"
EXAMPLES = [
    SEED_QUESTION,
    "How many personnel will the operation involve?",
    "Who is the alliance's deputy supreme allied commander?",
    "How much money is dedicated to the NATO Innovation Fund?",
]
CSS = """
.source-card { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 10px 12px; margin-bottom: 10px; }
.source-card .num { display: inline-block; min-width: 1.8em; font-weight: 700; }
.source-card .meta { color: var(--body-text-color-subdued); font-size: 0.85em; }
.source-card mark { background: #fff3a3; color: #1f2328; padding: 0 2px; }
.source-card mark *, .reply-sources mark * { color: #1f2328 !important; }
.source-card mark strong.answer { text-decoration: underline; text-underline-offset: 2px; }
.source-card details { margin-top: 6px; font-size: 0.9em; }
.abstained, .abstained-reply { border-left: 4px solid #6b6b6b; padding: 6px 12px;
  font-style: italic; }
.evidence { font-size: 0.8em; border: 1px solid currentColor; border-radius: 10px;
  padding: 0 6px; cursor: help; }
.reply-sources { font-size: 0.92em; }
.reply-sources mark, .source-card mark { background: #fff3a3; color: #1f2328; }
a.marker { font-weight: 700; text-decoration: none; }
.flash { outline: 2px solid currentColor; outline-offset: 2px; border-radius: 4px; }
.field-error { color: #b3261e; font-size: 0.9em; min-height: 0; }
.dark .field-error { color: #ffb4ab; }
.example { font-size: 0.85em !important; }
/* the upload area's "- or -" is gradio's pale grey (below AA) */
.or { color: var(--body-text-color) !important; }
/* AA contrast for white text on the action buttons (gradio's orange and red are 2.8:1) */
button.primary, #ask { background: #c2410c !important; border-color: #c2410c !important;
  color: #ffffff !important; }
button.stop, #delete { background: #b91c1c !important; border-color: #b91c1c !important;
  color: #ffffff !important; }
"""
# What the page does in the browser, run once it has loaded (gradio's `js`; a <script> in `head`
# is inserted after load and never runs): name the date pickers' buttons, copy a message as
# plain text, and open an article at its quote.
JS = r"""() => {
// gradio's date pickers have an unnamed calendar button: name it for screen readers
new MutationObserver(() => {
  for (const b of document.querySelectorAll("button.calendar:not([aria-label])")) {
    b.setAttribute("aria-label", "Choose a date");
  }
}).observe(document.documentElement, {childList: true, subtree: true});
// a message's copy button copies what the reader sees, as plain text: the reply, then its
// numbered sources with their quotes (not the markdown and HTML the bubble is written in)
document.addEventListener("click", async (e) => {
  const btn = e.target.closest && e.target.closest('#chat button[aria-label="Copy message"]');
  if (!btn) return;
  let el = btn;
  while (el && !el.previousElementSibling?.querySelector?.(".message-content")) {
    el = el.parentElement;
  }
  if (!el) return;
  e.stopPropagation();
  e.preventDefault();
  const content = el.previousElementSibling.querySelector(".message-content");
  const quiet = [...content.querySelectorAll(".evidence")];
  quiet.forEach((x) => { x.style.display = "none"; });
  const text = content.innerText.replace(/\n{3,}/g, "\n\n").trim();
  quiet.forEach((x) => { x.style.display = ""; });
  try {
    await navigator.clipboard.writeText(text);
  } catch (err) {  // no clipboard API (a page not served from a secure origin)
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  btn.setAttribute("title", "Copied as plain text");
  setTimeout(() => btn.setAttribute("title", "Copy message"), 2000);
}, true);
// a marker scrolls its source line into the middle of the conversation and marks it briefly
// (a plain #fragment link does nothing when the address already ends with that fragment).
// While it is marked, the line is kept in view: the chat's own scroll to its newest message
// (when a reply's last update lands just after the click) would otherwise carry it away.
document.addEventListener("click", (e) => {
  const link = e.target.closest && e.target.closest("#chat a.marker");
  const target = link && document.getElementById(link.getAttribute("href").slice(1));
  if (!target) return;
  e.preventDefault();
  const line = target.closest("p") || target;
  line.scrollIntoView({block: "center"});
  line.classList.add("flash");
  let pane = line.parentElement;  // the conversation's scrolling box
  while (pane && !(pane.scrollHeight > pane.clientHeight
                   && /auto|scroll/.test(getComputedStyle(pane).overflowY))) {
    pane = pane.parentElement;
  }
  const until = performance.now() + 1500;
  const hold = () => {
    const r = line.getBoundingClientRect();
    const box = (pane || document.documentElement).getBoundingClientRect();
    if (r.bottom <= box.top || r.top >= box.bottom) line.scrollIntoView({block: "center"});
    if (performance.now() < until) requestAnimationFrame(hold);
    else line.classList.remove("flash");
  };
  requestAnimationFrame(hold);
}, true);
document.addEventListener("toggle", (e) => {
  const d = e.target;
  if (d.tagName === "DETAILS" && d.open) {
    const m = d.querySelector("mark");
    if (m) m.scrollIntoView({block: "center"});
  }
}, true);
}"""
STRENGTH = {
    True: ("strong evidence", "The trained reader agrees that the quoted sentence answers the "
           "question and marked the answer in it."),
    False: ("weak evidence", "The quoted sentence is the best match found, but the trained reader "
            "did not confirm that it answers the question: check the quote."),
}
MAX_TURNS = 50  # kept in the browser (and exported) per conversation
EXPORT_KEEP_S = 3600  # an exported conversation's file is kept this long on the server


# -- rendering (everything from articles is escaped) ---------------------------------------------
def _esc(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def source_cards(engine: Engine, answer: Answer) -> str:
    """HTML cards for an answer's sources: the quote highlighted in its paragraph, and the
    whole article one click away."""
    if answer.abstained:
        return ('<div class="abstained" id="abstained">No sources: the articles don\'t '
                "cover this question.</div>")
    cards = []
    for c in answer.citations:
        full = article_text(engine.store, c.article_id)
        paragraph = full.paragraph_with(c.quote) if full else None
        quote = _esc(c.quote)
        if c.answer is not None:  # the reader's short answer, set off inside the quote
            quote = (f"{_esc(c.quote[:c.answer_start])}<strong class=\"answer\">"
                     f"{_esc(c.answer)}</strong>{_esc(c.quote[c.answer_end:])}")
        if paragraph and c.quote in paragraph:
            before, _, after = paragraph.partition(c.quote)
            context = f"{_esc(before)}<mark>{quote}</mark>{_esc(after)}"
        else:
            context = f"<mark>{quote}</mark>"
        meta = " · ".join(_esc(x) for x in (c.source, c.published) if x)
        meta += f' <small class="id">{_esc(c.article_id)}</small>'
        if c.also_in:
            meta += " · also in " + ", ".join(_esc(a) for a in c.also_in)
        link = (f' · <a href="{_esc(c.url)}" rel="noopener noreferrer" target="_blank">link</a>'
                if c.url and c.url.startswith(("http://", "https://")) else "")
        body = "".join(
            (f"<p>{_esc(p.partition(c.quote)[0])}<mark>{quote}</mark>"
             f"{_esc(p.partition(c.quote)[2])}</p>" if p == paragraph and c.quote in p
             else f"<p>{_esc(p)}</p>") for p in (full.paragraphs if full else []))
        cards.append(
            f'<div class="source-card" data-article="{_esc(c.article_id)}">'
            f'<div><span class="num">[{c.number}]</span><b>{_esc(c.title)}</b></div>'
            f'<div class="meta">{meta}{link}</div>'
            f'<p class="quote">{context}</p>'
            f"<details><summary>Open the whole article</summary>{body}</details></div>"
        )
    return "".join(cards)


_MARKER = re.compile(r"\[(\d+)\]")


def reply_markdown(answer: Answer, turn: int = 0) -> str:
    """The chat bubble: the short answer first, the quoted sentences with markers that link to
    their sources, how strong the evidence is, and the sources themselves (title, date, the
    quote with the answer set off, the id small), so each answer keeps its own sources and a
    phone shows them right under it. An abstention looks plainly different."""
    if answer.abstained:
        return f'<div class="abstained-reply">ⓘ {_esc(answer.text)}</div>'
    text = _md_escape(answer.text)
    text = _MARKER.sub(lambda m: f'<a class="marker" href="#src-{turn}-{m.group(1)}">'
                                 f"[{m.group(1)}]</a>", text)
    lead = ""
    if answer.short_answer:  # the short answer leads the reply, in bold
        short = _md_escape(answer.short_answer.strip())
        if text.startswith(short):
            text = text[len(short):].lstrip(" —-")
        lead = f"**{short}**\n\n"
    label, tip = STRENGTH[answer.short_answer is not None]
    strength = (f'<span class="evidence" title="{_esc(tip)}">{label}</span>')
    cards = []
    for c in answer.citations:
        quote = _md_escape(c.quote)
        if c.answer is not None:
            quote = (f"{_md_escape(c.quote[:c.answer_start])}**{_md_escape(c.answer)}**"
                     f"{_md_escape(c.quote[c.answer_end:])}")
        meta = " · ".join(_md_escape(x) for x in (c.source, c.published) if x)
        cards.append(
            f'<a id="src-{turn}-{c.number}"></a>**[{c.number}]** {_md_escape(c.title)}'
            + (f" · {meta}" if meta else "")
            + f" · <small>{_md_escape(c.article_id)}</small>"
            + (f" · also in {', '.join(_md_escape(a) for a in c.also_in)}" if c.also_in
               else "")
            + f"\n> {quote}")
    sources = "\n\n".join(cards)
    return f"{lead}{text}\n\n{strength}\n\n**Sources**\n\n{sources}"


def conversation_markdown(turns: list[dict]) -> str:
    """A conversation as Markdown, with each answer's citations and quotes (the export)."""
    out = [f"# newsqa conversation, exported {time.strftime('%Y-%m-%d %H:%M')}", ""]
    for k, turn in enumerate(turns, 1):
        a = turn.get("answer") or {}
        out += [f"## {k}. {turn.get('question', '')}", "", a.get("text", ""), ""]
        for c in a.get("citations", []):
            out += [f"[{c.get('number')}] {c.get('title', '')}"
                    + (f" ({c['published']})" if c.get("published") else "")
                    + f" — {c.get('article_id', '')}"
                    + (f" — {c['url']}" if c.get("url") else ""),
                    f"> {c.get('quote', '')}", ""]
    return "\n".join(out)


def _code(text: str) -> str:
    """Text for inside a markdown code span (a backtick would end it)."""
    return text.replace("`", "'")


def _md_escape(text: str) -> str:
    """Article text as inert markdown: no emphasis, no image, no link ("![x](http://…)" and
    "[x](http://…)" lose the brackets' meaning with their parentheses escaped); the [n]
    markers stay readable."""
    return re.sub(r"([\\`*_{}\[\]()!<>#|~])", r"\\\1", html.escape(text, quote=False)) \
        .replace("\\[", "[").replace("\\]", "]")


def articles_page(library: Library, query: str = "", page: int = 0) -> tuple[list[list], str]:
    """One page of the Articles tab (searched and paged on the server) and its caption."""
    query = query or ""
    rows, total = library.page(query, page)
    size = library.settings.articles_page_size
    pages = max(1, -(-total // size))
    page = max(0, min(page, pages - 1))
    caption = (f"{total} article{'s' if total != 1 else ''}"
               + (f" matching “{_esc(query.strip())}”" if query.strip() else "")
               + f" · page {page + 1} of {pages}")
    return [[a.title, a.published or "", a.article_id, a.chunks] for a in rows], caption


def _messages(history) -> list[dict]:  # noqa: ANN001 - whatever a client sent
    """A conversation as {"role", "content": text} messages. gradio 6 hands a chatbot's
    messages back with their content as a list of parts ({"type": "text", "text": …}); the
    ones this page wrote have plain text."""
    out = []
    for m in history if isinstance(history, list) else []:
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            continue
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text") or "" for p in content
                              if isinstance(p, dict) and p.get("type") == "text")
        if isinstance(content, str):
            out.append({"role": m["role"], "content": content})
    return out


def _text(value) -> str:  # noqa: ANN001 - whatever a client sent
    return value.strip() if isinstance(value, str) else ""


def guarded(handler):  # noqa: ANN001, ANN201
    """A page or API handler whose unexpected failures reach the user as one plain sentence
    (the log keeps the traceback), never as Python's text."""
    import functools

    @functools.wraps(handler)
    def run(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except NewsQAError as e:
            raise gr.Error(str(e)) from None
        except Exception:
            log.exception("%s failed", handler.__name__)
            raise gr.Error("Something went wrong on the server; the answer could not be "
                           "made. The server's log has the details.") from None
    return run


# -- the page --------------------------------------------------------------------------------
def build_app(engine: Engine) -> gr.Blocks:
    exports = Path(tempfile.mkdtemp(prefix="newsqa-exports-"))
    atexit.register(shutil.rmtree, exports, True)

    def export_file(turns: list[dict]) -> str | None:
        """The conversation as a Markdown file to download. gradio serves a copy from its
        own cache (emptied hourly, see delete_cache), so files here older than an hour go."""
        if not turns:
            return None
        for old in exports.glob("*/*.md"):
            with contextlib.suppress(OSError):
                if time.time() - old.stat().st_mtime > EXPORT_KEEP_S:
                    shutil.rmtree(old.parent)
        path = Path(tempfile.mkdtemp(dir=exports)) / "newsqa-conversation.md"
        path.write_text(conversation_markdown(turns), encoding="utf-8")
        return str(path)

    @guarded
    def respond(message: str, history: list[dict], since: str = "", until: str = "",
                saved: dict | None = None):
        """Outputs: question box, conversation, sources, the question's and the dates' error
        lines, the browser copy of the conversation, the export file. An error goes under the
        field it is about, and the question stays in its box."""
        keep = gr.update()
        message = message.strip() if isinstance(message, str) else ""
        if not message:
            return keep, keep, keep, "Type a question about the articles first.", "", keep, keep
        try:
            parse_range(_text(since) or None, _text(until) or None)
        except NewsQAError as e:
            return keep, keep, keep, "", str(e), keep, keep
        history = _messages(history)
        try:
            answer = engine.ask(message, history=history, since=_text(since) or None,
                                until=_text(until) or None)
        except NewsQAError as e:
            return keep, keep, keep, str(e), "", keep, keep
        turn = len(history) // 2
        history = list(history) + [
            {"role": "user", "content": message},
            {"role": "assistant", "content": reply_markdown(answer, turn)},
        ]
        turns = (list((saved or {}).get("turns") or []) + [
            {"question": message, "answer": answer.to_dict()}])[-MAX_TURNS:]
        saved = {"history": history[-2 * MAX_TURNS:], "turns": turns}
        return ("", history, source_cards(engine, answer), "", "", saved,
                gr.update(value=export_file(turns), interactive=True))

    def restore(saved: dict | None):
        """The conversation kept in this browser, shown again after a reload."""
        saved = saved if isinstance(saved, dict) else {}
        history = _messages(saved.get("history"))
        turns = [t for t in saved.get("turns") or [] if isinstance(t, dict)]
        if not history:  # nothing kept: leave alone a question asked while the page loaded
            return gr.update(), gr.update()
        path = export_file(turns)
        return history, gr.update(value=path, interactive=path is not None)

    def new_conversation():
        return ([], "<p>Sources of the latest answer show here.</p>", "", "",
                {"history": [], "turns": []}, gr.update(value=None, interactive=False))

    @guarded
    def ask_api(question: str, since: str | None = None, until: str | None = None) -> dict:
        """Answer a question from the articles: {text, citations, abstained}. since/until are
        optional ISO dates (inclusive) limiting the articles used."""
        try:
            return engine.ask(question, since=since or None, until=until or None).to_dict()
        except NewsQAError as e:
            raise gr.Error(str(e)) from None

    library = Library(engine)

    @guarded
    def upload(files, query, progress=gr.Progress()):  # noqa: B008 - how gradio injects it
        if not files:
            return "Choose one or more files to upload first.", *articles_page(library, query), None
        paths = [f if isinstance(f, str) else f.name for f in files]
        progress(0.1, desc=f"Reading and indexing {len(paths)} file(s)")
        report = library.add([(p, Path(p).name) for p in paths])
        lines = [f"- {_md_escape(line)}" for line in report.lines()]
        return "\n".join(lines), *articles_page(library, query), None

    @guarded
    def show_page(query: str, page: float):
        page = int(page) if isinstance(page, int | float) and page == page else 1
        rows, caption = articles_page(library, _text(query), page - 1)
        return rows, caption

    @guarded
    def replace_article(article_id: str, file, query: str):  # noqa: ANN001 - gradio's file
        article_id = _text(article_id)
        if not article_id or not file:
            return ("Type the id of the article to replace and choose the file with its new "
                    "text.", *articles_page(library, query), None)
        path = file if isinstance(file, str) else file.name
        try:
            report = library.replace(article_id, path, Path(path).name)
            note = "\n".join(f"- {_md_escape(line)}" for line in report.lines())
        except NewsQAError as e:
            note = f"Not replaced: {_md_escape(str(e))}"
        return note, *articles_page(library, query), None

    @guarded
    def delete(article_id: str, query: str):
        article_id = _text(article_id)
        if not article_id:
            return "Type the id of the article to delete (the table's id column).", \
                *articles_page(library, query)
        try:
            note = library.delete(article_id)
        except NewsQAError as e:
            note = f"Not deleted: {e}"
        return _md_escape(note), *articles_page(library, query)

    with gr.Blocks(title="newsqa", analytics_enabled=False,
                   delete_cache=(EXPORT_KEEP_S, EXPORT_KEEP_S)) as demo:
        gr.Markdown("# newsqa\nAnswers from the news articles only. Every claim carries a "
                    "marker that leads to the sentence it came from; when the articles don't "
                    "say, it says so.")
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="Conversation", height=520, elem_id="chat",
                                         feedback_options=None, buttons=["copy"])
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask about the articles…",
                                         label="Your question", show_label=False, scale=5,
                                         elem_id="question", autofocus=True, submit_btn=False)
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    question_error = gr.Markdown(elem_id="question-error",
                                                 elem_classes=["field-error"])
                    with gr.Row():
                        since = gr.DateTime(label="Published from", include_time=False,
                                            type="string", elem_id="since", scale=1)
                        until = gr.DateTime(label="Published until", include_time=False,
                                            type="string", elem_id="until", scale=1)
                    date_error = gr.Markdown(elem_id="date-error", elem_classes=["field-error"])
                    with gr.Row():
                        clear = gr.Button("New conversation", elem_id="clear", scale=1)
                        export = gr.DownloadButton("Export conversation (.md)", value=None,
                                                   elem_id="export", interactive=False, scale=1)
                    gr.Markdown("Try:")
                    with gr.Row():
                        examples = [gr.Button(q, size="sm", elem_classes=["example"])
                                    for q in EXAMPLES]
                with gr.Column(scale=2):
                    gr.Markdown("### Sources of the latest answer")
                    sources = gr.HTML("<p>Sources of the latest answer show here.</p>",
                                      elem_id="sources")
            saved = gr.BrowserState({"history": [], "turns": []}, storage_key="newsqa-chat")
        with gr.Tab("Articles"):
            with gr.Row():
                query = gr.Textbox(label="Search titles and ids", elem_id="article-search",
                                   scale=3, max_length=200)
                page = gr.Number(label="Page", value=1, minimum=1, precision=0, scale=1,
                                 elem_id="article-page")
            caption = gr.Markdown(elem_id="articles-caption")
            table = gr.Dataframe(headers=["title", "date", "id", "chunks"],
                                 interactive=False, elem_id="articles", wrap=True)
            files = gr.File(label=(f"Add articles ({' '.join(SUFFIXES)}; up to "
                                   f"{engine.settings.max_upload_mb} MB each)"),
                            file_count="multiple", file_types=list(SUFFIXES), elem_id="upload")
            add = gr.Button("Add to the index", elem_id="add")
            status = gr.Markdown(elem_id="upload-status")
            with gr.Row():
                doomed = gr.Textbox(label="Delete the article with id", elem_id="delete-id",
                                    scale=3, max_length=300)
                remove = gr.Button("Delete article", variant="stop", elem_id="delete",
                                   scale=1)
            with gr.Accordion("Replace an article's text (the previous file is kept)",
                              open=False):
                with gr.Row():
                    replaced = gr.Textbox(label="Id of the article to replace",
                                          elem_id="replace-id", scale=2, max_length=300)
                    new_text = gr.File(label="Its new text", file_count="single",
                                       file_types=list(SUFFIXES), elem_id="replace-file",
                                       scale=2)
                    swap = gr.Button("Replace article", elem_id="replace", scale=1)

        inputs = [box, chatbot, since, until, saved]
        outputs = [box, chatbot, sources, question_error, date_error, saved, export]
        box.submit(respond, inputs, outputs, api_visibility="private")
        send.click(respond, inputs, outputs, api_visibility="private")
        for button, q in zip(examples, EXAMPLES, strict=True):  # an example asks at once
            button.click(lambda q=q: q, None, box, api_visibility="private").then(
                respond, inputs, outputs, api_visibility="private")
        reset = [chatbot, sources, question_error, date_error, saved, export]
        clear.click(new_conversation, None, reset, api_visibility="private")
        chatbot.clear(new_conversation, None, reset, api_visibility="private")
        demo.load(restore, saved, [chatbot, export], api_visibility="private")
        add.click(upload, [files, query], [status, table, caption, files],
                  api_visibility="private")
        for event in (query.submit, page.submit, page.change):
            event(show_page, [query, page], [table, caption], api_visibility="private")
        remove.click(delete, [doomed, query], [status, table, caption],
                     api_visibility="private")
        swap.click(replace_article, [replaced, new_text, query],
                   [status, table, caption, new_text], api_visibility="private")
        demo.load(show_page, [query, page], [table, caption], api_visibility="private")
        gr.api(ask_api, api_name="ask")
    return demo


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """`user:password` as gradio's auth list (None: no login)."""
    return Settings(auth=value).credentials() if value else None


class LoginBackoff:
    """Failed logins slow down per client: after the n-th failure in a row, that client's next
    try is refused (429, with the wait) for delay × 2^(n-1) seconds, up to a minute; a success
    clears it. Gradio's login checks the password; this middleware only counts its answers.
    Written here: gradio has no limit on logins, and a rate-limit library would count every
    request, not failed logins."""

    CAP = 60.0

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.failures: dict[str, tuple[int, float]] = {}  # client -> (failures, retry at)

    async def __call__(self, request, call_next):  # noqa: ANN001 - a starlette middleware
        from starlette.responses import JSONResponse

        if request.method != "POST" or request.url.path.rstrip("/") != "/login" \
                or not self.delay:
            return await call_next(request)
        client = request.client.host if request.client else "?"
        now = time.monotonic()
        fails, retry_at = self.failures.get(client, (0, 0.0))
        if now < retry_at:
            wait = retry_at - now
            return JSONResponse({"detail": f"Too many failed logins: try again in "
                                           f"{wait:.0f} s."}, status_code=429,
                                headers={"Retry-After": str(int(wait) + 1)})
        response = await call_next(request)
        if response.status_code == 200:
            self.failures.pop(client, None)
        elif response.status_code in (400, 401):
            fails += 1
            wait = min(self.CAP, self.delay * 2 ** (fails - 1))
            self.failures[client] = (fails, time.monotonic() + wait)
            if len(self.failures) > 10_000:  # bounded memory: forget the oldest
                self.failures.pop(next(iter(self.failures)))
            log.warning("failed login from %s (%d in a row); next try in %.0f s", client,
                        fails, wait)
        return response


def server_app(demo: gr.Blocks, settings: Settings, auth):  # noqa: ANN001, ANN201
    """The page as an ASGI app: gradio mounted under a FastAPI app that adds login back-off,
    with gradio's own upload limit at QA_MAX_UPLOAD_MB."""
    from fastapi import FastAPI

    outer = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    outer.middleware("http")(LoginBackoff(settings.login_delay))
    return gr.mount_gradio_app(outer, demo, path="/", auth=auth, css=CSS, js=JS,
                               footer_links=[],
                               show_error=False, max_file_size=f"{settings.max_upload_mb}mb",
                               server_name=settings.host, server_port=settings.port)


def main(argv: list[str] | None = None) -> int:
    load_env_file()  # QA_ settings in the working folder's .env count too
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the newsqa chat.")
    parser.add_argument("--host", help="interface to listen on (default QA_HOST or 127.0.0.1, "
                                       "this machine only)")
    parser.add_argument("--port", type=int, help="default QA_PORT or 7860")
    parser.add_argument("--auth", help="user:password required to open the page; on a shared "
                                       "machine prefer QA_AUTH_FILE (this shows in ps)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "sentence_transformers", "chromadb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        given = {k: v for k, v in (("host", args.host), ("port", args.port),
                                   ("auth", args.auth)) if v is not None}
        settings = Settings.from_env(**given)
        auth = settings.credentials()
        if settings.host not in ("127.0.0.1", "localhost", "::1") and not auth:
            log.warning("listening on %s without a login (QA_AUTH_FILE or QA_AUTH): anyone "
                        "who can reach it can use it", settings.host)
        engine = Engine(settings, auto_index=False)
        # the index is brought up to date with the folder on every start, gone files pruned
        report = engine.ingest(prune=True, progress=False)
    except NewsQAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    log.info("index brought up to date with %s: %s", settings.articles_dir, report.summary())
    for skip in report.skipped:
        log.info("skipped %s: %s", skip["path"], skip["reason"])
    demo = build_app(engine)
    demo.queue(default_concurrency_limit=8)
    log.info("newsqa: %d chunks indexed; serving on http://%s:%d", engine.store.count(),
             settings.host, settings.port)
    import uvicorn

    uvicorn.run(server_app(demo, settings, auth), host=settings.host, port=settings.port,
                log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
