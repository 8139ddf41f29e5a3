"""A model tree as an inline SVG picture: the path from indicators to index.

One row a node or factor, indented by depth, joined to its parent by an elbow line; each row
shows the value on the tree's display scale as a bar, the weight within its parent and, for a
node, its rule. Drawn from a result's JSON record (``Result.to_dict()``), so the picture shows
the same numbers as every other output. Plain SVG text, no matplotlib: the same record gives
the same bytes, and every piece of user text is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riskengine.charts import clip as _clip
from riskengine.charts import esc as _esc

ROW = 22
INDENT = 18
LABEL_WIDTH = 300
BAR_WIDTH = 220
WIDTH = LABEL_WIDTH + BAR_WIDTH + 340

RULES = {"arithmetic": "mean", "geometric": "geometric mean",
         "geometric_complements": "geometric of complements", "max": "max", "min": "min"}


def _rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Nodes from the root down, each followed by its factors (largest |contribution| first)
    and then its child nodes."""
    nodes = record.get("nodes") or []
    factors_of: dict[str, list[dict[str, Any]]] = {}
    for factor in record.get("factors", []):
        factors_of.setdefault(factor.get("parent", ""), []).append(factor)
    children: dict[str | None, list[dict[str, Any]]] = {}
    for node in nodes:
        children.setdefault(node["parent"], []).append(node)
    out: list[dict[str, Any]] = []

    def visit(node: dict[str, Any], parent_row: int | None) -> None:
        me = len(out)
        out.append({"kind": "node", "depth": node["depth"], "parent_row": parent_row, **node})
        for factor in sorted(factors_of.get(node["id"], []),
                             key=lambda f: (-abs(f["contribution"]), f["id"])):
            out.append({"kind": "factor", "depth": node["depth"] + 1, "parent_row": me,
                        **factor})
        for child in children.get(node["id"], []):
            visit(child, me)

    for root in children.get(None, []):
        visit(root, None)
    return out


def tree_svg(record: Mapping[str, Any], title: str = "") -> str:
    """The record's tree as an SVG element (empty string if the record has no tree)."""
    rows = _rows(record)
    if not rows:
        return ""
    tree = record.get("tree") or {}
    scale = tree.get("scale", {"min": 0.0, "max": 100.0, "unit": "score"})
    lo, hi = float(scale["min"]), float(scale["max"])
    top = 30
    height = top + ROW * len(rows) + 10
    label = _esc(title or f"{record.get('partnership', '')}/{record.get('scenario', '')}: "
                 f"tree {tree.get('id', 'default')}")
    parts = [f'<svg class="chart tree" xmlns="http://www.w3.org/2000/svg" '
             f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{label}">',
             f'<text x="0" y="16" font-size="12" fill="#607d8b">value ({_esc(scale["unit"])}, '
             f'{lo:g}–{hi:.4g}) · weight in parent · rule</text>']
    for i, row in enumerate(rows):
        y = top + i * ROW
        x = row["depth"] * INDENT
        if row["parent_row"] is not None:
            px = rows[row["parent_row"]]["depth"] * INDENT + 5
            py = top + row["parent_row"] * ROW + ROW / 2
            parts.append(f'<path d="M{px} {py + 6} V{y + ROW / 2} H{x}" fill="none" '
                         'stroke="#b0bec5" stroke-width="1"/>')
        is_node = row["kind"] == "node"
        name = row.get("name") or row["id"]
        weight = f"{row['weight']:.2f}" if row.get("weight") is not None else ""
        parts.append(f'<text x="{x + 2}" y="{y + 15}" font-size="12" '
                     f'font-weight="{"700" if is_node else "400"}" fill="#263238">'
                     f'<title>{_esc(row["id"])}</title>{_esc(_clip(name, 44 - row["depth"] * 2))}'
                     '</text>')
        if is_node:
            value = float(row["value"])
            share = (value - lo) / (hi - lo) if hi > lo else 0.0
            shown = f"{value:.2f}"
            note = f"w {weight} · {RULES.get(row['method'], row['method'])}" + (
                " (inverted)" if row.get("inverted") else "") + (
                f" · missing: {', '.join(row['missing'])}" if row.get("missing") else "")
            colour = "#546e7a"
        else:
            share = float(row["normalised"])
            shown = f"{row['value']:g}"
            note = f"w {weight} · contribution {row['contribution']:+.2f}"
            colour = "#90a4ae"
        bar = max(0.0, min(1.0, share)) * BAR_WIDTH
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 5}" width="{BAR_WIDTH}" height="12" '
                     'fill="#eceff1"/>')
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 5}" width="{bar:.1f}" height="12" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{LABEL_WIDTH + BAR_WIDTH + 6}" y="{y + 15}" font-size="11.5" '
                     f'fill="#263238">{_esc(shown)}  <tspan fill="#607d8b">{_esc(note)}</tspan>'
                     '</text>')
    parts.append("</svg>")
    return "".join(parts)
