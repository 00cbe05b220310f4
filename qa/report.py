"""A self-contained HTML evaluation report: the comparison table and two plots drawn as inline
SVG (no scripts, no external files, nothing fetched)."""

from __future__ import annotations

import html
from datetime import datetime

from qa.eval import COMPARED, SYSTEM

_COLOURS = ["#1f6feb", "#d9822b", "#2da44e", "#8250df"]


def _fmt(key: str, v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.1f} ms" if key.endswith("_ms") else f"{v:.3f}" if key == "mrr" else \
        f"{v * 100:.1f} %"


def _support_plot(rows: list[dict], threshold: float, width=640, height=170) -> str:
    """Each question's support as a dot, answerable above, unanswerable below, threshold line."""
    pad = 40
    x = lambda v: pad + (width - 2 * pad) * max(0.0, min(1.0, v))  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'role="img" aria-label="support of answerable and unanswerable questions">',
             f'<line x1="{pad}" y1="{height - 30}" x2="{width - pad}" y2="{height - 30}" '
             'stroke="#888"/>']
    for t in range(0, 11, 2):
        parts.append(f'<text x="{x(t / 10):.1f}" y="{height - 12}" font-size="11" '
                     f'text-anchor="middle">{t / 10:.1f}</text>')
    for i, (label, want) in enumerate((("answerable", False), ("unanswerable", True))):
        y = 40 + i * 50
        parts.append(f'<text x="4" y="{y - 12}" font-size="12">{label}</text>')
        for j, r in enumerate(r for r in rows if r["expected_abstain"] == want):
            colour = "#2da44e" if r["correct"] else "#cf222e"
            parts.append(f'<circle cx="{x(r["support"]):.1f}" cy="{y + (j % 5) * 3 - 6}" r="4" '
                         f'fill="{colour}" fill-opacity="0.7"><title>'
                         f'{html.escape(r["question"])}: {r["support"]:.3f}</title></circle>')
    parts.append(f'<line x1="{x(threshold):.1f}" y1="15" x2="{x(threshold):.1f}" '
                 f'y2="{height - 30}" stroke="#cf222e" stroke-dasharray="4 3"/>'
                 f'<text x="{x(threshold) + 4:.1f}" y="14" font-size="11" fill="#cf222e">'
                 f'abstain below {threshold:.3f}</text></svg>')
    return "".join(parts)


def _latency_plot(by_system: dict[str, dict], width=640, row=34) -> str:
    """Per system: every request's latency as a tick, with p50 and p95 marked."""
    pad_l, pad_r = 230, 30
    height = 40 + row * len(by_system)
    top = max(max(r["latency_ms"] for r in res["rows"]) for res in by_system.values()) or 1.0
    x = lambda v: pad_l + (width - pad_l - pad_r) * v / top  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'role="img" aria-label="latency per system">']
    for i, (name, res) in enumerate(by_system.items()):
        y = 24 + i * row
        colour = _COLOURS[i % len(_COLOURS)]
        parts.append(f'<text x="4" y="{y + 4}" font-size="12">{html.escape(name)}</text>')
        for r in res["rows"]:
            parts.append(f'<line x1="{x(r["latency_ms"]):.1f}" y1="{y - 8}" '
                         f'x2="{x(r["latency_ms"]):.1f}" y2="{y + 8}" stroke="{colour}" '
                         'stroke-opacity="0.5"/>')
        m = res["metrics"]
        for key, dash in (("latency_p50_ms", ""), ("latency_p95_ms", ' stroke-dasharray="2 2"')):
            parts.append(f'<line x1="{x(m[key]):.1f}" y1="{y - 12}" x2="{x(m[key]):.1f}" '
                         f'y2="{y + 12}" stroke="#000"{dash}/>')
        parts.append(f'<text x="{x(m["latency_p95_ms"]) + 4:.1f}" y="{y - 8}" font-size="10">'
                     f'p50 {m["latency_p50_ms"]:.0f} / p95 {m["latency_p95_ms"]:.0f} ms</text>')
    parts.append(f'<text x="{pad_l}" y="{height - 4}" font-size="11">0 ms</text>'
                 f'<text x="{width - pad_r}" y="{height - 4}" font-size="11" '
                 f'text-anchor="end">{top:.0f} ms</text></svg>')
    return "".join(parts)


def html_report(results: dict[str, dict[str, dict]], threshold: float) -> str:
    sections = []
    for name, by_system in results.items():
        systems = list(by_system)
        head = "".join(f"<th>{html.escape(s)}</th>" for s in systems)
        body = "".join(
            f"<tr><td>{key}</td>"
            + "".join(f"<td>{_fmt(key, by_system[s]['metrics'][key])}</td>" for s in systems)
            + "</tr>" for key in COMPARED)
        ours = by_system[SYSTEM]
        sections.append(
            f"<h2>{html.escape(name)}</h2><p>{ours['metrics']['questions']} questions "
            f"({ours['metrics']['answerable']} answerable, {ours['metrics']['unanswerable']} "
            f"not).</p><table><tr><th></th>{head}</tr>{body}</table>"
            f"<h3>Answer support of {SYSTEM}, and the abstention threshold</h3>"
            f"{_support_plot(ours['rows'], threshold)}"
            f"<h3>Latency per question</h3>{_latency_plot(by_system)}")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>newsqa evaluation</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
            "text-align:right}td:first-child{text-align:left}</style></head><body>"
            f"<h1>newsqa evaluation</h1><p>{datetime.now():%Y-%m-%d %H:%M}</p>"
            + "".join(sections) + "</body></html>")
