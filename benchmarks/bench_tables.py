"""Benchmark of the terminal tables: riskengine.texttable against rich's Table, same content.

Cases, each drawn on a console without colour 120 columns wide (a pipe, CI logs) and on one
with colour:
* ``validate``'s reliability table of 2,000 scenarios (one table of 2,000 rows);
* ``run``'s text of 200 scenarios (a title and a 20-row factor table each).

(rich takes about 1.5 ms a row, so the whole commands on 5,000 files took 7 s more for
validate's table and two minutes more for run's text.)

Baseline, in the same process: the same tables built as ``rich.table.Table`` and printed by
rich, as the commands drew them before texttable. Both outputs are compared: the characters
must be the same (the digest column), with or without colour codes.

Run:  python3 tasks.py bench   (or .venv/bin/python benchmarks/bench_tables.py)
"""

from __future__ import annotations

import hashlib
import io
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from riskengine.reporting import band_style, fmt, print_run, printable
from riskengine.texttable import Column, Styled, print_table

REPEATS = 3


def _console(colour: bool) -> Console:
    return Console(file=io.StringIO(), width=120, highlight=False,
                   color_system="truecolor" if colour else None, force_terminal=colour)


def rich_table(console: Console, columns: Sequence[Column],
               rows: Sequence[Sequence[str | Styled]], title: str | None) -> None:
    """The baseline: a table as the commands built it for rich (markup cells)."""
    table = Table(title=title or None, title_justify="left", show_edge=False)
    for column in columns:
        table.add_column(column.name, justify=column.justify)
    for row in rows:
        table.add_row(*(escape(c) if isinstance(c, str) else f"[{c.style}]{escape(c.text)}[/]"
                        for c in row))
    console.print(table)


def reliability_rows(n: int) -> list[list[str | Styled]]:
    return [[f"partnership-{i // 10:03d}/variant-{i % 10}", "BCDE"[i % 4], f"{i % 97 / 97:.2f}",
             f"{i % 100}%", "100%", f"{i % 89}%", "100%", "60%"] for i in range(n)]


RELIABILITY = [Column(name, "left" if name == "Scenario" else "right") for name in (
    "Scenario", "Grade", "Score", "Coverage", "Evidenced", "Sources", "Recency", "Precision")]


def run_records(n: int, factors: int = 20) -> list[dict[str, Any]]:
    """Records shaped as ``run --format json`` writes them (default tree, no simulation)."""
    records = []
    for i in range(n):
        records.append({
            "scenario": f"variant-{i % 10}", "partnership": f"partnership-{i // 10:03d}",
            "title": f"Variant {i} — a title of realistic length for a scenario",
            "stability": 40 + i % 30 + 0.25, "risk_index": 0.5 + i % 7 / 100,
            "opportunity_index": 0.4 + i % 5 / 100, "band": ("stable", "fragile")[i % 2],
            "model": {"aggregation": "arithmetic", "risk_share": 0.5},
            "reliability": {"grade": "B", "score": 0.72},
            "factors": [{"id": f"f{j:05d}", "kind": ("risk", "opportunity")[j % 2],
                         "value": j % 10, "normalised": j % 10 / 10, "weight": 1 / factors,
                         "contribution": (j % 7 - 3) * 0.83} for j in range(factors)]})
    return records


def rich_print_run(records: Sequence[dict[str, Any]], console: Console) -> None:
    """The baseline of run's text: print_run's tables through rich.table.Table."""
    columns = [Column("factor"), Column("kind"), Column("value", "right"),
               Column("normalised", "right"), Column("weight", "right"),
               Column("contribution", "right")]
    for r in records:
        band = f"[{band_style(r['band'], r)}]{r['band']}[/]"
        title = (f"[bold]{escape(r['partnership'])}/{escape(r['scenario'])}[/] — "
                 f"{escape(r['title'])}\nS = [bold]{fmt(r['stability'])}[/] {band}   R = "
                 f"{fmt(r['risk_index'], 3)}   O = {fmt(r['opportunity_index'], 3)}   "
                 "(arithmetic, β = 0.5)   reliability B (0.72)")
        rich_table(console, columns, [
            [printable(f["id"]), f["kind"], f"{f['value']:g}", fmt(f["normalised"], 3),
             fmt(f["weight"], 3),
             Styled(f"{f['contribution']:+.2f}", "red" if f["contribution"] < 0 else "green")]
            for f in r["factors"]], title)
        console.print()


def timed(draw: Callable[[Console], None], colour: bool) -> tuple[float, str]:
    times, text = [], ""
    for _ in range(REPEATS):
        console = _console(colour)
        start = time.perf_counter()
        draw(console)
        times.append(time.perf_counter() - start)
        text = console.file.getvalue()  # type: ignore[attr-defined]
    if colour:  # the characters and their styles, whatever rich's split of escape codes
        shown = Text.from_ansi(text)
        styles = [""] * len(shown.plain)
        for span in shown.spans:
            styles[span.start:span.end] = [f"{style};{span.style}"
                                           for style in styles[span.start:span.end]]
        # a style on a space does not show (bold, a colour), and rich is not consistent there
        text = shown.plain + repr([style for char, style in zip(shown.plain, styles,
                                                                strict=True) if char != " "])
    return statistics.median(times), hashlib.sha256(text.encode()).hexdigest()[:12]


def main() -> int:
    rows = reliability_rows(2_000)
    records = run_records(200)
    # the run case's baseline prints the default tree's title as print_run does; texttable's
    # side is print_run itself
    cases: list[tuple[str, Callable[[Console], None], Callable[[Console], None]]] = [
        ("validate's reliability table, 2,000 rows",
         lambda c: rich_table(c, RELIABILITY, rows, "Reliability"),
         lambda c: print_table(c, RELIABILITY, rows, "Reliability")),
        ("run's text, 200 scenarios x 20 factors",
         lambda c: rich_print_run(records, c), lambda c: print_run(records, c)),
    ]
    print(f"tables: texttable against rich.table.Table, median of {REPEATS}, 120 columns")
    print(f"{'case':<44}{'colour':>7}{'rich s':>9}{'ours s':>9}{'ratio':>8}{'same':>6}")
    same_everywhere = True
    for label, baseline, ours in cases:
        for colour in (False, True):
            base_s, base_digest = timed(baseline, colour)
            ours_s, ours_digest = timed(ours, colour)
            same = base_digest == ours_digest
            same_everywhere &= same
            print(f"{label:<44}{'yes' if colour else 'no':>7}{base_s:>9.3f}{ours_s:>9.3f}"
                  f"{ours_s / base_s:>8.3f}{'yes' if same else 'NO':>6}")
    return 0 if same_everywhere else 1


if __name__ == "__main__":
    sys.exit(main())
