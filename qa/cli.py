"""`python -m qa "question" [--json]`: ask from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from core.errors import NewsQAError
from qa.models import Answer


def marked_quote(c, bold: tuple[str, str] = ("**", "**")) -> str:
    """The quote with the reader's short answer inside it set off by `bold`."""
    if c.answer is None:
        return c.quote
    a, b = c.answer_start, c.answer_end
    return f"{c.quote[:a]}{bold[0]}{c.quote[a:b]}{bold[1]}{c.quote[b:]}"


def format_answer(answer: Answer, width: int = 100, bold: tuple[str, str] = ("**", "**")) -> str:
    """The reply, then a numbered list of its sources, the short answer marked in its quote."""
    lines = [textwrap.fill(answer.text, width)]
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            date = f", {c.published}" if c.published else ""
            lines.append(f"[{c.number}] {c.article_id} — {c.title}{date}")
            lines.append(textwrap.fill(f"“{marked_quote(c, bold)}”", width,
                                       initial_indent="    ", subsequent_indent="    ",
                                       break_on_hyphens=False))
            if c.url:
                lines.append(f"    {c.url}")
            if c.also_in:
                lines.append(f"    also in: {', '.join(c.also_in)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qa",
        description="Answer a question from the indexed news articles, citing its sources.",
    )
    parser.add_argument("question", help="the question, in quotes")
    parser.add_argument("--json", action="store_true", help="print the Answer as JSON")
    parser.add_argument("--since", metavar="YYYY-MM-DD",
                        help="only articles published on or after this date")
    parser.add_argument("--until", metavar="YYYY-MM-DD",
                        help="only articles published on or before this date")
    args = parser.parse_args(argv)
    try:
        from qa import ask

        answer = ask(args.question, since=args.since, until=args.until)
    except NewsQAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        tty = sys.stdout.isatty()
        print(format_answer(answer, bold=("\033[1m", "\033[0m") if tty else ("**", "**")))
    return 0
