"""`python -m index [PATH ...] [--reset] [--prune] [--check [--repair]] [--json]`: build,
update or verify the index."""

from __future__ import annotations

import argparse
import json
import sys

from core.errors import NewsQAError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m index",
        description="Index news articles (.txt .md .html .json .jsonl) for newsqa.",
    )
    parser.add_argument("paths", nargs="*", help="files or folders (default: QA_ARTICLES_DIR)")
    parser.add_argument("--reset", action="store_true", help="drop the index and build anew")
    parser.add_argument("--prune", action="store_true",
                        help="remove articles whose files are gone")
    parser.add_argument("--check", action="store_true",
                        help="verify the index against the articles and say how to fix it")
    parser.add_argument("--repair", action="store_true",
                        help="with --check: run the fix it names")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON on the last line of stdout")
    args = parser.parse_args(argv)

    from index.pipeline import ingest

    if args.check:
        return _check(args)
    try:
        report = ingest(args.paths or None, reset=args.reset, prune=args.prune,
                        progress=not args.json or sys.stderr.isatty())
    except NewsQAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for skip in report.skipped:
        print(f"skipped {skip['path']}: {skip['reason']}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(f"indexed: {report.summary()}")
    return 0


def _check(args) -> int:
    from core.config import Settings
    from index.check import check_index
    from index.pipeline import ingest

    try:
        settings = Settings.from_env()
        report = check_index(settings, args.paths or None)
        for line in report.lines():
            print(line)
        if args.repair and not report.ok:
            from core.keyword import cache_dir_for, remove_dead_writers

            for name in remove_dead_writers(cache_dir_for(settings)):
                print(f"removed {name}")
            if report.needs_ingest:
                fixed = ingest(args.paths or None, settings=settings, reset=report.needs_reset,
                               prune=True, progress=sys.stderr.isatty())
                print(f"repaired: {fixed.summary()}")
            report = check_index(settings, args.paths or None)
            for line in report.lines():
                print(line)
    except NewsQAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    return 0 if report.ok else 1
