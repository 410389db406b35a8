"""A self-contained HTML page of a replay (or of a tune's before/after): a table and an inline-SVG
bar chart of bytes/day per rule. No script, no stylesheet or font from the network: it can be
mailed around and opened offline. The page embeds the JSON it was drawn from, for machines.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from kauditcfg.policy.budget import human_bytes

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .6em;border-bottom:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{text-align:left;background:#f4f4f4}
.bad{color:#b00020}.ok{color:#1b5e20}svg text{font-size:12px}
"""


def _bars(rules: list[dict[str, Any]], title: str) -> str:
    shown = [r for r in rules if r["bytes_per_day"] > 0]
    if not shown:
        return "<p>No rule writes anything.</p>"
    top = max(r["bytes_per_day"] for r in shown)
    row, label_w, bar_w = 22, 360, 420
    height = row * len(shown) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 140}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">'
    ]
    for i, r in enumerate(shown):
        y = 20 + i * row
        width = max(1, round(bar_w * r["bytes_per_day"] / top))
        name = f"rules[{r['index']}] {r['level']}" if r["index"] is not None else "no rule"
        parts.append(f'<text x="0" y="{y + 13}">{escape(name)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{width}" height="{row - 6}" fill="#3f6fb5">'
            f"<title>{escape(r['label'])}</title></rect>"
        )
        parts.append(
            f'<text x="{label_w + width + 6}" y="{y + 13}">{escape(human_bytes(r["bytes_per_day"]))}'
            "/day</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _rule_table(data: dict[str, Any]) -> str:
    head = (
        "<tr><th>rule</th><th>level</th><th>what</th><th>requests</th><th>events</th><th>bytes</th>"
        "<th>bytes/day</th><th>estimated</th><th>share</th></tr>"
    )
    total = data["totals"]["bytes"] or 1
    rows = [
        f"<tr><td>{'-' if r['index'] is None else r['index']}</td><td>{escape(r['level'])}</td>"
        f"<td>{escape(r['label'])}</td><td class=n>{r['requests']}</td><td class=n>{r['events']}</td>"
        f'<td class=n>{r["bytes"]}</td><td class=n data-bytes-per-day="{r["bytes_per_day"]}">'
        f"{r['bytes_per_day']}</td><td class=n>{r['estimated_bytes']}</td>"
        f"<td class=n>{100 * r['bytes'] / total:.1f}%</td></tr>"
        for r in data["rules"]
    ]
    return f"<table>{head}{''.join(rows)}</table>"


def _totals(data: dict[str, Any]) -> str:
    t = data["totals"]
    items = [
        ("events", t["events"]),
        ("requests", t["requests"]),
        ("bytes", t["bytes"]),
        ("bytes/day", t["bytes_per_day"]),
        ("gzip bytes/day", t["gzip_bytes_per_day"]),
        ("estimated bytes", t["estimated_bytes"]),
        ("span (s)", data["span_seconds"]),
        ("skipped lines", data["skipped_lines"]),
    ]
    return "<table>" + "".join(f"<tr><th>{k}</th><td class=n>{v}</td></tr>" for k, v in items) + "</table>"


def _coverage(data: dict[str, Any]) -> str:
    violations = data["coverage"]["violations"]
    if not violations:
        return '<p class="ok">No must-keep request is dropped or logged below its minimum level.</p>'
    rows = "".join(
        f"<tr><td>{v['row']}</td><td class=n>{v['count']}</td><td>{escape(v['example'])}</td></tr>"
        for v in violations
    )
    return f'<table class="bad"><tr><th>row</th><th>requests</th><th>example</th></tr>{rows}</table>'


def _cells(data: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(c['who'])}</td><td>{escape(c['verb'])}</td><td>{escape(c['resource'])}</td>"
        f"<td>{escape(c['namespace'])}</td><td class=n>{c['bytes_per_day']}</td></tr>"
        for c in data["top_cells"]
    )
    return (
        "<table><tr><th>who</th><th>verb</th><th>resource</th><th>namespace</th><th>bytes/day</th></tr>"
        f"{rows}</table>"
    )


def _section(title: str, data: dict[str, Any]) -> str:
    return (
        f"<h2>{escape(title)}</h2>{_totals(data)}<h3>Bytes per day by rule</h3>"
        f"{_bars(data['rules'], title)}{_rule_table(data)}<h3>Largest cells</h3>{_cells(data)}"
        f"<h3>Must-keep coverage</h3>{_coverage(data)}"
    )


def page(
    title: str,
    sections: list[tuple[str, dict[str, Any]]],
    summary: str = "",
    embedded: dict[str, Any] | None = None,
) -> str:
    body = "".join(_section(name, data) for name, data in sections)
    # `</` cannot appear inside the script element, so the JSON stays inert data.
    blob = json.dumps(embedded if embedded is not None else sections[0][1]).replace("</", "<\\/")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{escape(summary)}</p>{body}"
        f'<script type="application/json" id="kauditcfg-data">{blob}</script></body></html>\n'
    )
