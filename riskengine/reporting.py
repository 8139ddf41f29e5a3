"""Presenting scores: rich tables for people, JSON, CSV and Markdown for machines and documents.

Everything here renders the JSON-contract dictionaries (``Result.to_dict()`` plus an optional
``simulation`` section), so every format shows the same numbers.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

Record = dict[str, Any]

BAND_STYLE = {"stable": "green", "fragile": "yellow", "unstable": "red"}


def to_json(payload: Any) -> str:
    """JSON text with a trailing newline; NaN is never written (it is not JSON)."""
    return json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _sim_cells(record: Record) -> list[str]:
    sim = record.get("simulation")
    if not sim:
        return []
    s = sim.get("stability", sim)
    probs = sim.get("band_probabilities", {})
    return [f"{fmt(s['p5'])}–{fmt(s['p95'])}",
            " ".join(f"{band[0].upper()} {probs[band]:.0%}" for band in probs)]


def run_csv(records: Sequence[Record]) -> str:
    """One row per scenario and factor: a long table that pandas or a spreadsheet reads as is."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["partnership", "scenario", "stability", "risk_index", "opportunity_index",
                     "band", "factor", "kind", "group", "value", "normalised", "weight",
                     "contribution"])
    for r in records:
        for f in r["factors"]:
            writer.writerow([r["partnership"], r["scenario"], repr(r["stability"]),
                             repr(r["risk_index"]), repr(r["opportunity_index"]), r["band"],
                             f["id"], f["kind"], f["group"], repr(f["value"]),
                             repr(f["normalised"]), repr(f["weight"]), repr(f["contribution"])])
    return out.getvalue()


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
              for row in rows]
    return lines


def run_markdown(records: Sequence[Record]) -> str:
    has_sim = any(r.get("simulation") for r in records)
    header = ["Scenario", "S", "R", "O", "Band"] + (["S p5–p95", "Band odds"] if has_sim else [])
    rows = [[f"{r['partnership']}/{r['scenario']}", fmt(r["stability"]),
             fmt(r["risk_index"], 3), fmt(r["opportunity_index"], 3), r["band"],
             *_sim_cells(r)] for r in records]
    lines = _md_table(header, rows, "lrrrl" + "ll" * has_sim)
    for r in records:
        lines += ["", f"### {r['partnership']}/{r['scenario']} — {r['title']}", ""]
        lines += _md_table(
            ["Factor", "Kind", "Value", "Normalised", "Weight", "Contribution"],
            [[f["id"], f["kind"], f"{f['value']:g}", fmt(f["normalised"], 3),
              fmt(f["weight"], 3), f"{f['contribution']:+.2f}"] for f in r["factors"]],
            "llrrrr")
    return "\n".join(lines) + "\n"


def print_run(records: Sequence[Record], console: Any) -> None:
    """Rich tables: a headline per scenario, then its factors by |contribution|."""
    from rich.table import Table

    for r in records:
        band = r["band"]
        title = (f"[bold]{r['partnership']}/{r['scenario']}[/] — {r['title']}\n"
                 f"S = [bold]{fmt(r['stability'])}[/] "
                 f"[{BAND_STYLE[band]}]{band}[/]   R = {fmt(r['risk_index'], 3)}   "
                 f"O = {fmt(r['opportunity_index'], 3)}   "
                 f"({r['model']['aggregation']}, β = {r['model']['risk_share']:g})")
        sim = r.get("simulation")
        if sim:
            s = sim.get("stability", sim)
            probs = ", ".join(f"{k} {v:.0%}" for k, v in sim["band_probabilities"].items())
            title += (f"\nMonte Carlo n = {sim['n']:,}: mean {fmt(s['mean'])} ± "
                      f"{fmt(s['std'])}, p5–p95 {fmt(s['p5'])}–{fmt(s['p95'])}; {probs}")
        table = Table(title=title, title_justify="left", show_edge=False)
        for name, justify in (("factor", "left"), ("kind", "left"), ("value", "right"),
                              ("normalised", "right"), ("weight", "right"),
                              ("contribution", "right")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for f in r["factors"]:
            colour = "red" if f["contribution"] < 0 else "green"
            table.add_row(f["id"], f["kind"], f"{f['value']:g}", fmt(f["normalised"], 3),
                          fmt(f["weight"], 3), f"[{colour}]{f['contribution']:+.2f}[/]")
        console.print(table)
        console.print()
