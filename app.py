"""The newsqa chat page: ask, read the short answer, check every claim against its article.

    python app.py [--host 127.0.0.1] [--port 7860] [--auth user:password]
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from index.loaders import SUFFIXES  # noqa: E402
from qa.catalog import article_text, list_articles  # noqa: E402
from qa.config import load_env_file  # noqa: E402
from qa.engine import Engine  # noqa: E402
from qa.errors import InvalidSetting, NewsQAError  # noqa: E402
from qa.models import Answer  # noqa: E402

log = logging.getLogger("newsqa.app")
SEED_QUESTION = "Where will the Ukraine support command be based?"
EXAMPLES = [
    SEED_QUESTION,
    "How many personnel will the operation involve?",
    "Who is the alliance's deputy supreme allied commander?",
    "How much money is dedicated to the NATO Innovation Fund?",
]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
CSS = """
.source-card { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 10px 12px; margin-bottom: 10px; }
.source-card .num { display: inline-block; min-width: 1.8em; font-weight: 700;
  color: var(--color-accent); }
.source-card .meta { color: var(--body-text-color-subdued); font-size: 0.85em; }
.source-card mark { background: #fff3a3; color: #1f2328; padding: 0 2px; }
.source-card mark strong.answer { text-decoration: underline; text-underline-offset: 2px; }
.source-card details { margin-top: 6px; font-size: 0.9em; }
.abstained { border-left: 4px solid #9a9a9a; padding: 8px 12px;
  color: var(--body-text-color-subdued); }
"""


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
        meta = " · ".join(_esc(x) for x in (c.published, c.article_id) if x)
        if c.also_in:
            meta += " · also in " + ", ".join(_esc(a) for a in c.also_in)
        link = (f' · <a href="{_esc(c.url)}" rel="noopener noreferrer" target="_blank">link</a>'
                if c.url and c.url.startswith(("http://", "https://")) else "")
        body = "".join(f"<p>{_esc(p)}</p>" for p in (full.paragraphs if full else []))
        cards.append(
            f'<div class="source-card" data-article="{_esc(c.article_id)}">'
            f'<div><span class="num">[{c.number}]</span><b>{_esc(c.title)}</b></div>'
            f'<div class="meta">{meta}{link}</div>'
            f'<p class="quote">{context}</p>'
            f"<details><summary>Open the whole article</summary>{body}</details></div>"
        )
    return "".join(cards)


_MARKER = re.compile(r"\[(\d+)\]")


def reply_markdown(answer: Answer) -> str:
    """The chat bubble: the reply with bold markers, and a one-line source list."""
    if answer.abstained:
        return f"_{answer.text}_"
    text = _md_escape(answer.text)
    text = _MARKER.sub(r"**[\1]**", text)
    if answer.short_answer:  # the short answer leads the reply: set it in bold
        lead = _md_escape(answer.short_answer.strip())
        if text.startswith(lead):
            text = f"**{lead}**{text[len(lead):]}"
    sources = "  \n".join(
        f"**[{c.number}]** {_md_escape(c.title)}"
        + (f" ({c.published})" if c.published else "") + f" · `{_code(c.article_id)}`"
        + (f" · also in {', '.join(f'`{_code(a)}`' for a in c.also_in)}" if c.also_in else "")
        for c in answer.citations
    )
    return f"{text}\n\n{sources}"


def _code(text: str) -> str:
    """Text for inside a markdown code span (a backtick would end it)."""
    return text.replace("`", "'")


def _md_escape(text: str) -> str:
    """Article text as inert markdown: no emphasis, no image, no link ("![x](http://…)" and
    "[x](http://…)" lose the brackets' meaning with their parentheses escaped); the [n]
    markers stay readable."""
    return re.sub(r"([\\`*_{}\[\]()!<>#|~])", r"\\\1", html.escape(text, quote=False)) \
        .replace("\\[", "[").replace("\\]", "]")


def articles_table(engine: Engine) -> list[list]:
    return [[a.title, a.published or "", a.article_id, a.chunks]
            for a in list_articles(engine.store)]


# -- uploads ---------------------------------------------------------------------------------
def safe_name(name: str) -> str:
    """A plain file name for an upload, or a clear refusal (no folders, no hidden files)."""
    if not name or "\x00" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise InvalidSetting(f"refused file name {name!r}: absolute paths are not allowed")
    if ".." in Path(name.replace("\\", "/")).parts:
        raise InvalidSetting(f"refused file name {name!r}: '..' is not allowed")
    base = Path(name.replace("\\", "/")).name
    if base.startswith("."):
        raise InvalidSetting(f"refused file name {name!r}: hidden files are not allowed")
    clean = re.sub(r"[^\w. -]+", "_", base).strip(" .")  # letters of any script are kept
    if not clean or clean.startswith("."):
        raise InvalidSetting(f"refused file name {name!r}")
    if Path(clean).suffix.lower() not in SUFFIXES:
        raise InvalidSetting(f"{name!r} is not a supported type; upload {', '.join(SUFFIXES)}")
    return clean


def _free_name(root: Path, name: str) -> str:
    """`name`, or `stem-2.ext`, `stem-3.ext` … when an article of that stem (the article id,
    in any format) is already in the folder: an upload never replaces an article."""
    stems = {p.stem.casefold() for p in root.iterdir()}
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, k = name, 1
    while Path(candidate).stem.casefold() in stems:
        k += 1
        candidate = f"{stem}-{k}{suffix}"
    return candidate


def save_uploads(paths: list[str], names: list[str], articles_dir: Path,
                 renamed: list[str] | None = None) -> tuple[list[Path], list[str]]:
    """Copy uploads into the articles folder; returns what was saved and what was refused. A
    name taken by an article already there (in any format) is saved under a new one; nothing
    is overwritten, and a failed copy leaves no partial file behind. `renamed` collects a note
    for each upload saved under another name."""
    saved, refused = [], []
    articles_dir.mkdir(parents=True, exist_ok=True)
    root = articles_dir.resolve()
    for src, original in zip(paths, names, strict=True):
        tmp_name = None
        try:
            name = safe_name(original)
            size = os.path.getsize(src)
            if size > MAX_UPLOAD_BYTES:
                raise InvalidSetting(f"{original!r} is {size / 1e6:.1f} MB; the limit is "
                                     f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB")
            with tempfile.NamedTemporaryFile(dir=root, delete=False, prefix=".upload-") as tmp:
                tmp_name = tmp.name
                with open(src, "rb") as f:
                    shutil.copyfileobj(f, tmp)
            for _ in range(100):
                dest = (root / _free_name(root, name)).resolve()
                if dest.parent != root:
                    raise InvalidSetting(f"refused file name {original!r}")
                try:
                    os.link(tmp_name, dest)  # fails if the name was taken meanwhile
                    break
                except FileExistsError:
                    continue
            else:
                raise InvalidSetting(f"no free name for {original!r}")
            saved.append(dest)
            if dest.name != name and renamed is not None:
                renamed.append(f"{original} saved as {dest.name}: an article named {name} is "
                               "already there and was kept")
        except (InvalidSetting, OSError) as e:
            reason = e if isinstance(e, InvalidSetting) else "could not be saved (disk full?)"
            log.warning("upload %r not saved: %s", original, e)
            refused.append(f"{original}: {reason}")
        finally:
            if tmp_name:
                Path(tmp_name).unlink(missing_ok=True)
    return saved, refused


# -- the page --------------------------------------------------------------------------------
def build_app(engine: Engine) -> gr.Blocks:
    def respond(message: str, history: list[dict], since: str = "", until: str = ""):
        message = (message or "").strip()
        if not message:
            raise gr.Error("Type a question about the articles first.")
        prior = [{"role": m.get("role"), "content": m.get("content")} for m in history or []]
        try:
            answer = engine.ask(message, history=prior, since=since.strip() or None,
                                until=until.strip() or None)
        except NewsQAError as e:
            raise gr.Error(str(e)) from None
        history = list(history or []) + [
            {"role": "user", "content": message},
            {"role": "assistant", "content": reply_markdown(answer)},
        ]
        return "", history, source_cards(engine, answer)

    def ask_api(question: str, since: str | None = None, until: str | None = None) -> dict:
        """Answer a question from the articles: {text, citations, abstained}. since/until are
        optional ISO dates (inclusive) limiting the articles used."""
        try:
            return engine.ask(question, since=since or None, until=until or None).to_dict()
        except NewsQAError as e:
            raise gr.Error(str(e)) from None

    def upload(files, progress=gr.Progress()):  # noqa: B008 - how gradio injects progress
        if not files:
            raise gr.Error("Choose one or more files to upload first.")
        paths = [f if isinstance(f, str) else f.name for f in files]
        names = [Path(p).name for p in paths]
        progress(0.05, desc="Saving files")
        renamed: list[str] = []
        saved, refused = save_uploads(paths, names, Path(engine.settings.articles_dir), renamed)
        lines = [f"- refused {_md_escape(r)}" for r in refused]
        lines += [f"- {_md_escape(r)}" for r in renamed]
        if saved:
            progress(0.2, desc=f"Indexing {len(saved)} file(s)")
            report = engine.ingest([str(p) for p in saved], progress=False)
            progress(1.0, desc="Done")
            lines.insert(0, f"**Indexed:** {report.summary()}")
            # a file that could not be indexed is not kept: nothing unindexed piles up
            kept = {str(p) for p in saved}
            for s in report.skipped:
                if s["path"] in kept:
                    Path(s["path"]).unlink(missing_ok=True)
                lines.append(f"- refused `{_md_escape(Path(s['path']).name)}` (not kept): "
                             f"{_md_escape(s['reason'])}")
        return "\n".join(lines), articles_table(engine), None

    with gr.Blocks(title="newsqa", analytics_enabled=False) as demo:
        gr.Markdown("# newsqa\nAnswers from the news articles only. Every claim carries a "
                    "marker that leads to the sentence it came from; when the articles don't "
                    "say, it says so.")
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="Conversation", height=460, elem_id="chat",
                                         feedback_options=None, buttons=["copy"])
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask about the articles…", show_label=False,
                                         scale=5, elem_id="question", max_length=2000,
                                         submit_btn=False)
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    with gr.Row():
                        since = gr.Textbox(label="Published from (YYYY-MM-DD)", scale=1,
                                           elem_id="since", max_length=10)
                        until = gr.Textbox(label="Published until (YYYY-MM-DD)", scale=1,
                                           elem_id="until", max_length=10)
                    clear = gr.Button("Clear chat", elem_id="clear")
                    gr.Examples(EXAMPLES, inputs=box, label="Try")
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    sources = gr.HTML("<p>Sources of the latest answer show here.</p>",
                                      elem_id="sources")
        with gr.Tab("Articles"):
            table = gr.Dataframe(headers=["title", "date", "id", "chunks"],
                                 value=lambda: articles_table(engine), interactive=False,
                                 elem_id="articles", wrap=True)
            files = gr.File(label=f"Add articles ({' '.join(SUFFIXES)})", file_count="multiple",
                            file_types=list(SUFFIXES), elem_id="upload")
            add = gr.Button("Add to the index", elem_id="add")
            status = gr.Markdown(elem_id="upload-status")

        inputs = [box, chatbot, since, until]
        box.submit(respond, inputs, [box, chatbot, sources], api_visibility="private")
        send.click(respond, inputs, [box, chatbot, sources], api_visibility="private")
        clear.click(lambda: ([], "<p>Sources of the latest answer show here.</p>"), None,
                    [chatbot, sources], api_visibility="private")
        add.click(upload, files, [status, table, files], api_visibility="private")
        gr.api(ask_api, api_name="ask")
    return demo


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise InvalidSetting("--auth / QA_AUTH must look like user:password")
    return [(user, password)]


def main(argv: list[str] | None = None) -> int:
    load_env_file()  # QA_HOST, QA_PORT and QA_AUTH in the working folder's .env count too
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the newsqa chat.")
    parser.add_argument("--host", default=os.environ.get("QA_HOST", "127.0.0.1"),
                        help="interface to listen on (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("QA_PORT", "7860")))
    parser.add_argument("--auth", default=os.environ.get("QA_AUTH"),
                        help="user:password required to open the page (or QA_AUTH)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "sentence_transformers", "chromadb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        auth = parse_auth(args.auth)
        if args.host not in ("127.0.0.1", "localhost", "::1") and not auth:
            log.warning("listening on %s without --auth: anyone who can reach it can use it",
                        args.host)
        engine = Engine()
    except NewsQAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    demo = build_app(engine)
    demo.queue(default_concurrency_limit=8)
    log.info("newsqa: %d chunks indexed; serving on http://%s:%d", engine.store.count(),
             args.host, args.port)
    demo.launch(server_name=args.host, server_port=args.port, auth=auth, css=CSS,
                footer_links=[], show_error=True, quiet=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
