"""Presenting scores: rich tables for people, JSON, CSV and Markdown for machines and documents.

Everything here renders the JSON-contract dictionaries (``Result.to_dict()`` plus an optional
``simulation`` section), so every format shows the same numbers.

User text (titles, partnership and folder names, keys, factor names) is data in every format:
made printable for terminals and logs (:func:`printable`), escaped for rich markup
(:func:`rich_text`), for Markdown (:func:`md`, :func:`md_code`) and for spreadsheets
(:func:`cell`); JSON keeps it exact.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from riskengine.texttable import Column, Styled, Tables, print_table

if TYPE_CHECKING:
    from riskengine.diff import Change, Diff, SharedChange

Record = dict[str, Any]

BAND_STYLE = {"stable": "green", "fragile": "yellow", "unstable": "red"}


# Characters that act on a terminal or a log rather than show: C0 (newline, ESC), DEL, C1 (CSI
# U+009B is ESC [ on some terminals), line and paragraph separators, and the bidirectional
# overrides that make text display in another order than it reads.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# json.dumps(ensure_ascii=False) escapes C0 but leaves these raw
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` on one line, every control character shown as an escape (``\\n``, ``\\x1b``),
    so user text can neither start a new line (a forged ``::error`` or heading) nor drive the
    terminal."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\u{ord(m.group()):04x}"
                                             if ord(m.group()) > 0xff
                                             else f"\\x{ord(m.group()):02x}"), text)


def rich_text(text: object) -> str:
    """User text for a rich console or table: printable, and its ``[...]`` shown, not obeyed."""
    from rich.markup import escape

    return escape(printable(str(text)))


_MD_ACTIVE = re.compile(r"([\\`*\[\]<>|~#])")


def md(text: object) -> str:
    """User text inline in Markdown (a table cell, a heading, a list item): one line, with the
    characters that make links, code, tables, HTML or headings backslash-escaped."""
    return _MD_ACTIVE.sub(r"\\\1", printable(str(text)))


def md_code(text: object) -> str:
    """User text as a Markdown code span, fenced with more backticks than it holds."""
    text = printable(str(text))
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# A cell starting with one of these is run as a formula by a spreadsheet (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(text: str) -> str:
    """``text`` with a leading quote when a spreadsheet would run it as a formula: the one rule
    for every CSV and xlsx writer (``riskengine export`` undoes it on import)."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def cell(text: object) -> str:
    """User text in a CSV or spreadsheet cell: :func:`formula_safe`, and control characters
    shown as escapes, as in every text output (CSV is printed to terminals too). Only for text:
    numbers are written as numbers and a negative one stays one."""
    return printable(formula_safe(str(text)))


def band_tone(band: str, names: Sequence[str], higher_is: str = "better") -> str | None:
    """Which default band a tree's band reads like: ``stable`` for the best third of the
    tree's bands (listed from the top of the scale down), ``unstable`` for the worst third;
    None for a band it does not list. Charts and tables colour by it."""
    if band in BAND_STYLE:
        return band
    if band not in names or len(names) < 2:
        return None
    rank = list(names).index(band) / (len(names) - 1)  # 0: the top band
    goodness = 1 - rank if higher_is == "better" else rank
    return "stable" if goodness > 2 / 3 else "fragile" if goodness >= 1 / 3 else "unstable"


def band_style(band: str, record: Record | None = None) -> str:
    """A band's rich colour, by its tone on the record's tree (white if unknown)."""
    tree = (record or {}).get("tree") or {}
    tone = band_tone(band, [b["name"] for b in tree.get("bands", [])],
                     tree.get("higher_is", "better"))
    return BAND_STYLE[tone] if tone else "white"


def is_custom_tree(record: Record) -> bool:
    return bool(record.get("tree")) and record["tree"]["id"] != "default"


def node_rows(record: Record) -> list[list[str]]:
    """The tree's nodes from the root down, indented by depth: value, weight, rule,
    contribution, what is missing."""
    return [["  " * n["depth"] + n["id"], fmt(n["value"], 2), fmt(n["weight"], 3),
             n["method"] + (" (inverted)" if n["inverted"] else ""),
             f"{n['contribution']:+.2f}", ", ".join(n["missing"]) or "–"]
            for n in record.get("nodes", [])]


NODE_HEADER = ["Node", "Value", "Weight", "Rule", "Contribution", "Missing"]


def _score_label(record: Record) -> str:
    """What the root's score is called: S for stability, else the tree's root id."""
    return "S" if not is_custom_tree(record) else record["nodes"][0]["id"]


#: A list of more objects or lists than this is written one item per line.
LONG_LIST = 64


def to_json(payload: Any) -> str:
    """JSON text with a trailing newline; NaN is never written (it is not JSON).

    Indented by two spaces, except that a long list of objects (a comparison's thousands of
    rows and pairs) has one compact item per line: the same data, still one record a line
    for grep and diff, and written by json's C encoder, where indenting every value makes
    json fall back to its pure-Python encoder (2.5 s for a 1,000-scenario comparison).
    """
    return json_text("".join(_json_chunks(payload, 0)))


def _json_key(key: Any) -> str:
    """A key as json writes it (json turns True into "true", not "True")."""
    if isinstance(key, str):
        return key
    return json.dumps(key) if isinstance(key, (bool, float)) or key is None else str(int(key))


def _compact(value: Any) -> str:
    """``value`` as one line of JSON, as every writer here dumps it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _json_chunks(value: Any, depth: int) -> Iterator[str]:
    pad, inner = "\n" + "  " * depth, "\n" + "  " * (depth + 1)
    if isinstance(value, dict) and value:
        yield "{"
        for k, (key, item) in enumerate(value.items()):
            yield ("," if k else "") + inner + _compact(_json_key(key)) + ": "
            yield from _json_chunks(item, depth + 1)
        yield pad + "}"
    elif isinstance(value, (list, tuple)) and value:
        long = len(value) > LONG_LIST and all(isinstance(v, (dict, list, tuple)) for v in value)
        yield "["
        for k, item in enumerate(value):
            yield ("," if k else "") + inner
            if long:
                yield _compact(item)
            else:
                yield from _json_chunks(item, depth + 1)
        yield pad + "]"
    else:
        yield _compact(value)


def json_text(dumped: str) -> str:
    """JSON text (as dumped) with the terminal-active characters json leaves raw escaped: the
    same data, safe to print."""
    return _escaped(dumped) + "\n"


def _escaped(dumped: str) -> str:
    if dumped.isascii() and "\x7f" not in dumped:
        # nothing to escape: the usual text, checked without the regex's pass over it (a
        # 6 KB record of `run --format json`: 0.2 against 36 µs)
        return dumped
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


def json_row(record: Any) -> str:
    """``record`` as :func:`to_json` writes one item of a long list: one line. Rows made where
    the records are (on the workers that loaded them) and joined by :func:`json_of_rows` are
    the text of the whole list, without the records sent back and dumped here."""
    return _escaped(_compact(record))


def json_of_rows(rows: Sequence[str]) -> str:
    """:func:`to_json` of the list of records whose :func:`json_row` these are."""
    if len(rows) <= LONG_LIST:  # a short list is indented throughout: read back, written so
        return to_json([json.loads(row) for row in rows])
    return "[" + ",".join(f"\n  {row}" for row in rows) + "\n]\n"


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def method_note(sim: Record) -> str:
    """How the uncertainty was computed, for every format: exact law or n draws."""
    if sim.get("method") == "exact":
        return "exact law (FFT convolution)"
    if sim.get("method") == "mixed":
        return f"exact laws where linear, else Monte Carlo n = {sim['n']:,}"
    return f"Monte Carlo n = {sim['n']:,}"


def _sim_cells(record: Record) -> list[str]:
    sim = record.get("simulation")
    if not sim:
        return []
    s = sim.get("stability", sim)
    probs = sim.get("band_probabilities", {})
    return [f"{fmt(s['p5'])}–{fmt(s['p95'])}",
            " ".join(f"{band[0].upper()} {probs[band]:.0%}" for band in probs)]


RUN_CSV_HEADER = ("partnership", "scenario", "stability", "risk_index", "opportunity_index",
                  "band", "factor", "kind", "group", "value", "normalised", "weight",
                  "contribution", "parent", "tree")


def run_csv(records: Sequence[Record]) -> str:
    """One row per scenario and factor, then one per tree node (``kind`` node, ``value`` its
    score on the tree's scale, ``parent`` the node above): a long table that pandas or a
    spreadsheet reads as is."""
    return run_csv_of([run_csv_rows(r) for r in records])


def run_csv_rows(record: Record) -> str:
    """One record's rows of :func:`run_csv`: made where the record is (on the worker that
    loaded it), joined by :func:`run_csv_of`."""
    r = record
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = [cell(r["partnership"]), cell(r["scenario"]), repr(r["stability"]),
            _num(r["risk_index"]), _num(r["opportunity_index"]), cell(r["band"])]
    tree = (r.get("tree") or {}).get("id", "default")
    for f in r["factors"]:
        writer.writerow([*head, cell(f["id"]), cell(f["kind"]), cell(f["group"]),
                         repr(f["value"]), repr(f["normalised"]), repr(f["weight"]),
                         repr(f["contribution"]), cell(f.get("parent", "")), cell(tree)])
    for n in r.get("nodes", []):
        writer.writerow([*head, cell(n["id"]), "node", "", repr(n["value"]),
                         repr(n["normalised"]), repr(n["weight"]), repr(n["contribution"]),
                         cell(n["parent"] or ""), cell(tree)])
    return out.getvalue()


def run_csv_of(rows: Sequence[str]) -> str:
    """:func:`run_csv` of the records whose :func:`run_csv_rows` these are."""
    return ",".join(RUN_CSV_HEADER) + "\n" + "".join(rows)


def _num(value: float | None) -> str:
    return "" if value is None else repr(value)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    lines += [_md_row(row) for row in rows]
    return lines


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(md(c) for c in cells) + " |"


def run_markdown(records: Sequence[Record]) -> str:
    has_sim = any(r.get("simulation") for r in records)
    return run_markdown_of([run_markdown_parts(r) for r in records], has_sim,
                           [method_note(r["simulation"]) for r in records
                            if r.get("simulation")])


def run_markdown_parts(record: Record) -> tuple[str, str]:
    """One record's parts of :func:`run_markdown`, made where the record is (on the worker
    that loaded it): its row of the summary table and its section."""
    r = record
    row = _md_row([f"{r['partnership']}/{r['scenario']}", fmt(r["stability"]),
                   fmt(r["risk_index"], 3), fmt(r["opportunity_index"], 3), r["band"],
                   _reliability_note(r).strip().removeprefix("reliability ") or "-",
                   *_sim_cells(r)])
    lines = ["", f"### {md(r['partnership'])}/{md(r['scenario'])} — {md(r['title'])}", ""]
    if is_custom_tree(r):
        lines += [f"Tree {md(r['tree']['id'])} ({md(r['tree']['name'])}):", ""]
        lines += [*_md_table(NODE_HEADER, node_rows(r), "lrrlrl"), ""]
    lines += _md_table(
        ["Factor", "Kind", "Value", "Normalised", "Weight", "Contribution"],
        [[f["id"], f["kind"], f"{f['value']:g}", fmt(f["normalised"], 3),
          fmt(f["weight"], 3), f"{f['contribution']:+.2f}"] for f in r["factors"]],
        "llrrrr")
    return row, "\n".join(lines)


def run_markdown_of(parts: Sequence[tuple[str, str]], has_sim: bool,
                    methods: Sequence[str] = ()) -> str:
    """:func:`run_markdown` of the records whose :func:`run_markdown_parts` these are, with
    the method notes of their simulations."""
    header = ["Scenario", "S", "R", "O", "Band", "Reliability"] + (
        ["S p5–p95", "Band odds"] if has_sim else [])
    lines = _md_table(header, [], "lrrrll" + "ll" * has_sim) + [row for row, _ in parts]
    if methods:
        lines += ["", "Uncertainty: " + "; ".join(sorted(set(methods))) + "."]
    lines += [section for _, section in parts]
    return "\n".join(lines) + "\n"


def _reliability_note(record: Record) -> str:
    rel = record.get("reliability")
    return f"   reliability {rel['grade']} ({rel['score']:.2f})" if rel else ""


_NODE_COLUMNS = [Column(name.lower(), "left" if name in ("Node", "Rule", "Missing") else "right")
                 for name in NODE_HEADER]
_FACTOR_COLUMNS = [Column("factor"), Column("kind"), Column("value", "right"),
                   Column("normalised", "right"), Column("weight", "right"),
                   Column("contribution", "right")]


def print_run(records: Sequence[Record], console: Any) -> None:
    """Rich tables: a headline per scenario, then its factors by |contribution|."""
    with Tables(console) as tables:
        for r in records:
            _print_record(r, tables)


class RunWriter(NamedTuple):
    """A format of ``run``'s records written a piece a record, where the records are made
    (on the workers that loaded them), and the pieces joined in order into the output."""

    piece: Callable[[Record], Any]
    join: Callable[[list[Any]], str]


def run_writer(form: str, width: int | None = None) -> RunWriter | None:
    """How records without simulations are written as ``form`` (json, csv, markdown, text):
    text as plain text ``width`` columns wide (a console without colour); None for text on
    a terminal, whose colours are the console's to draw."""
    if form == "json":
        return RunWriter(json_row, json_of_rows)
    if form == "csv":
        return RunWriter(run_csv_rows, run_csv_of)
    if form == "markdown":
        return RunWriter(run_markdown_parts, functools.partial(run_markdown_of, has_sim=False))
    if width is None:
        return None
    return RunWriter(functools.partial(run_text, width=width), "".join)


def run_text(record: Record, width: int) -> str:
    """What :func:`print_run` prints of ``record`` on a console without colour ``width``
    columns wide (a pipe, a file): plain text, so it can be made where the record is (on the
    worker that loaded it) and joined in order."""
    console = _plain_console(width)
    with Tables(console) as tables:
        _print_record(record, tables)
    text = console.file.getvalue()
    console.file.seek(0)
    console.file.truncate()
    return str(text)


@functools.lru_cache(maxsize=4)
def _plain_console(width: int) -> Any:
    from rich.console import Console

    # the command's own console's settings (cli._console), on a pipe
    return Console(file=io.StringIO(), width=width, highlight=False, color_system=None)


def _print_record(r: Record, tables: Tables) -> None:
    band = r["band"]
    head = (f"[bold]{rich_text(r['partnership'])}/{rich_text(r['scenario'])}[/] — "
            f"{rich_text(r['title'])}\n")
    if is_custom_tree(r):
        scale = r["tree"]["scale"]
        missing = f"; missing: {', '.join(r['missing'])}" if r.get("missing") else ""
        title = (head + f"{rich_text(_score_label(r))} = [bold]{fmt(r['stability'], 2)}[/] "
                 f"[{band_style(band, r)}]{rich_text(band)}[/]   (tree "
                 f"{rich_text(r['tree']['id'])}, {scale['min']:g}–{scale['max']:.4g} "
                 f"{rich_text(scale['unit'])}{rich_text(missing)})" + _reliability_note(r))
    else:
        title = (head + f"S = [bold]{fmt(r['stability'])}[/] "
                 f"[{band_style(band, r)}]{band}[/]   R = {fmt(r['risk_index'], 3)}   "
                 f"O = {fmt(r['opportunity_index'], 3)}   "
                 f"({r['model']['aggregation']}, β = {r['model']['risk_share']:g})"
                 + _reliability_note(r))
    sim = r.get("simulation")
    if sim:
        s = sim.get("stability", sim)
        probs = ", ".join(f"{k} {v:.0%}" for k, v in sim["band_probabilities"].items())
        title += (f"\n{method_note(sim)}: mean {fmt(s['mean'])} ± "
                  f"{fmt(s['std'])}, p5–p95 {fmt(s['p5'])}–{fmt(s['p95'])}; {probs}")
    if is_custom_tree(r):
        tables.table(_NODE_COLUMNS, [[printable(c) for c in row] for row in node_rows(r)],
                     title)
        tables.line()
        title = ""
    tables.table(_FACTOR_COLUMNS, [
        [printable(f["id"]), printable(f["kind"]), f"{f['value']:g}",
         fmt(f["normalised"], 3), fmt(f["weight"], 3),
         Styled(f"{f['contribution']:+.2f}", "red" if f["contribution"] < 0 else "green")]
        for f in r["factors"]], title or None)
    tables.line()


# ---------------------------------------------------------------------------------------------
# outlook


def _outlook_rows(result: Record) -> list[list[str]]:
    return [[s["scenario"], f"{s['probability']:.0%}", fmt(s["stability"]), s["band"],
             f"{fmt(s['p5'])}–{fmt(s['p95'])}", f"{s['share_of_expected']:.0%}"]
            for s in result["scenarios"]]


OUTLOOK_HEADER = ["Scenario", "p", "S", "Band", "S p5–p95", "Share of E[S]"]


def _outlook_headline(result: Record) -> str:
    sim = result["simulation"]
    odds = ", ".join(f"{band} {p:.0%}" for band, p in sim["band_probabilities"].items())
    return (f"expected S = {fmt(result['expected_stability'])}; mixture p5–p50–p95 "
            f"{fmt(sim['p5'])}–{fmt(sim['p50'])}–{fmt(sim['p95'])}; {odds} "
            f"({method_note(sim)})")


def outlook_markdown(result: Record) -> str:
    lines = [f"### Outlook: {md(result['partnership'])}", "", _outlook_headline(result), ""]
    lines += _md_table(OUTLOOK_HEADER, _outlook_rows(result), "lrrlll")
    return "\n".join(lines) + "\n"


def print_outlook(result: Record, console: Any) -> None:
    print_table(console, [Column(name, "left" if name in ("Scenario", "Band") else "right")
                          for name in OUTLOOK_HEADER],
                [[Styled(printable(c), band_style(c, result)) if i == 3 else printable(c)
                  for i, c in enumerate(row)] for row in _outlook_rows(result)],
                f"[bold]Outlook: {rich_text(result['partnership'])}[/]\n"
                + _outlook_headline(result))


# ---------------------------------------------------------------------------------------------
# sensitivity


def _bar(value: float, scale: float, width: int = 24) -> str:
    cells = 0 if scale <= 0 else round(width * abs(value) / scale)
    return "█" * cells


def sensitivity_markdown(results: Sequence[Record]) -> str:
    lines: list[str] = []
    for r in results:
        w = r["weights"]
        lines += [f"### Sensitivity: {md(r['partnership'])}/{md(r['scenario'])} (S = "
                  f"{fmt(r['stability'])})", "", "Tornado (S with the factor at its low / high):",
                  ""]
        lines += _md_table(["Factor", "S at low", "S at high", "Swing"],
                           [[t["id"], fmt(t["low_score"]), fmt(t["high_score"]),
                             fmt(t["swing"], 2)] for t in r["tornado"]], "lrrr")
        lines += ["", f"Sobol indices ({_sobol_heading(r['sobol_method'])}):", ""]
        exact = _sobol_exact(r["sobol_method"])
        lines += _md_table(["Factor", "First order", "Total"],
                           [[s["id"], _ci(s["first_order"], s["first_order_ci"], exact),
                             _ci(s["total"], s["total_ci"], exact)] for s in r["sobol"]],
                           "lrr")
        lines += ["", f"Weights (Dirichlet, concentration {w['concentration']:g}, n = {w['n']}):"
                  f" S p5–p95 {fmt(w['p5'])}–{fmt(w['p95'])}; P(band changes) = "
                  f"{w['p_band_change']:.1%}; P(top driver changes) = "
                  f"{w['p_top_driver_change']:.1%}", "", "Breakpoints:", ""]
        lines += _md_table(["Factor", "Value", "Band entered"], _breakpoint_rows(r), "lrl")
        lines.append("")
    return "\n".join(lines)


def _ci(value: float, ci: Sequence[float], exact: bool) -> str:
    """An index with its 95 % interval; an exact one without (it has none), decided by the
    method as the heading and the chart decide it, not by an interval's width."""
    return f"{value:.3f}" if exact else f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _sobol_exact(method: str) -> bool:
    from riskengine.sensitivity import sobol_exact

    return sobol_exact(method)


def _sobol_heading(method: str) -> str:
    return f"{method}: exact" if _sobol_exact(method) else f"{method}, 95 % CI"


def _breakpoint_rows(result: Record) -> list[list[str]]:
    return [[b["id"], "none within the scale" if b["value"] is None else
             f"{b['direction']} {b['value']:.4g}", b["band"] if b["value"] is not None else "–"]
            for b in result["breakpoints"]]


def print_sensitivities(results: Sequence[Record], console: Any) -> None:
    for result in results:
        print_sensitivity(result, console)


def print_sensitivity(result: Record, console: Any) -> None:
    base = result["stability"]
    largest = max((t["swing"] for t in result["tornado"]), default=0.0)
    print_table(console, [Column("factor"), Column("S at low", "right"),
                          Column("S at high", "right"), Column("swing", "right"), Column("")],
                [[printable(t["id"]), fmt(t["low_score"]), fmt(t["high_score"]),
                  fmt(t["swing"], 2), Styled(_bar(t["swing"], largest), "cyan")]
                 for t in result["tornado"]],
                f"[bold]{rich_text(result['partnership'])}/{rich_text(result['scenario'])}[/]"
                f": tornado around S = {fmt(base)}")
    exact = _sobol_exact(result["sobol_method"])
    print_table(console, [Column("factor"), Column("first order", "right"),
                          Column("total", "right"), Column("")],
                [[printable(s["id"]), _ci(s["first_order"], s["first_order_ci"], exact),
                  _ci(s["total"], s["total_ci"], exact), Styled(_bar(s["total"], 1.0), "blue")]
                 for s in result["sobol"]],
                f"Sobol indices ({_sobol_heading(result['sobol_method'])})")
    w = result["weights"]
    console.print(f"Weights (Dirichlet, concentration {w['concentration']:g}, n = {w['n']}): "
                  f"S p5–p95 {fmt(w['p5'])}–{fmt(w['p95'])}; P(band changes) "
                  f"{w['p_band_change']:.1%}; P(top driver changes) "
                  f"{w['p_top_driver_change']:.1%}")
    print_table(console, [Column("factor"), Column("value"), Column("band entered")],
                [[printable(c) for c in row] for row in _breakpoint_rows(result)],
                "Breakpoints (others fixed)")
    console.print()


# ---------------------------------------------------------------------------------------------
# compare

# One set of column names for every format: the scenario rows carry result["columns"] and
# the partnership rows result["outlook_columns"] (riskengine.compare.SCENARIO_COLUMNS and
# OUTLOOK_COLUMNS); text and Markdown show exactly those headers, CSV and xlsx write them.

_TEXT_COLUMNS = ("partnership", "scenario", "band", "baseline", "reliability_grade", "tree_id",
                 "catalogue", "method")


def column_text(name: str, value: Any) -> str:
    """A cell of a text or Markdown table: probabilities as percentages, scores to one
    decimal, indices to three."""
    if value is None:
        return "–"
    if name in _TEXT_COLUMNS or isinstance(value, str):
        return str(value)
    if name == "probability" or name.startswith("p_"):
        return f"{value:.0%}"
    if name == "delta_vs_baseline":
        return f"{value:+.1f}"
    if name in ("risk_index", "opportunity_index"):
        return fmt(value, 3)
    if name == "reliability_score":
        return fmt(value, 2)
    if name == "scenarios":
        return str(value)
    return fmt(value)


def _table_rows(rows: Sequence[Record], columns: Sequence[str]) -> list[list[str]]:
    return [[column_text(c, r.get(c)) for c in columns] for r in rows]


def _align(columns: Sequence[str]) -> str:
    return "".join("l" if c in _TEXT_COLUMNS else "r" for c in columns)


def _pair_lines(pairs: Sequence[Record], limit: int | None = None,
                closest_first: bool = False) -> list[str]:
    # A long list of 100 % pairs says little; the terminal shows the closest calls first.
    sign = 1 if closest_first else -1
    ordered = sorted(pairs, key=lambda p: sign * abs(p["p_a_beats_b"] - 0.5))
    lines = []
    for p in ordered[:limit]:
        a, b, prob = p["a"], p["b"], p["p_a_beats_b"]
        if prob < 0.5:
            a, b, prob = b, a, 1.0 - prob - p["p_tie"]
        lines.append(f"P({a} > {b}) = {prob:.1%}")
    return lines


def _without_lines(result: Record) -> list[str]:
    return [f"{w['partnership']}: no outlook ({w['reason']})"
            for w in result.get("without_outlook", [])]


def compare_markdown(result: Record) -> str:
    columns = result["columns"]
    lines = [f"### Comparison ({_compare_method(result)})", ""]
    lines += _md_table([md(c) for c in columns], _table_rows(result["rows"], columns),
                       _align(columns))
    if result.get("partnerships"):
        ocols = result["outlook_columns"]
        lines += ["", "#### Partnerships by expected stability (outlooks)", ""]
        lines += _md_table([md(c) for c in ocols],
                           _table_rows(result["partnerships"], ocols), _align(ocols))
        if result.get("partnership_pairs"):
            lines += ["", "Probability that one partnership's outlook scores above the "
                      "other's:", ""]
            lines += [f"- {md(line)}" for line in _pair_lines(result["partnership_pairs"])]
    if result.get("without_outlook"):
        lines += [""] + [f"- {md(line)}" for line in _without_lines(result)]
    lines += ["", "Pairwise probability that one scenario scores above the other:", ""]
    lines += [f"- {md(line)}" for line in _pair_lines(result["pairs"])]
    return "\n".join(lines) + "\n"


def _compare_method(result: Record) -> str:
    draws = (f"{result['n']:,} draws per scenario, common random numbers, "
             f"seed {result['seed']}")
    method = result.get("method", "mc")
    if method == "exact":
        return "method exact: exact laws (FFT convolution)"
    if method == "mixed":
        return f"method mixed: exact laws where linear, else Monte Carlo: {draws}"
    return f"method mc: Monte Carlo: {draws}"


def _union(rows: Sequence[Record], names: Any) -> list[str]:
    """The names each row gives, in order of first appearance (bands and nodes differ by
    tree)."""
    return list(dict.fromkeys(name for r in rows for name in names(r)))


def compare_csv(result: Record) -> str:
    """One row per scenario: the columns of ``result["columns"]`` (a ``p_<band>`` column for
    every band), then a ``node_<id>`` column (the node's value on its tree's scale) for every
    tree node of the rows compared."""
    rows = result["rows"]
    columns = result["columns"]
    nodes = _union(rows, lambda r: (n["id"] for n in r.get("nodes", [])))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*columns, *(f"node_{cell(n)}" for n in nodes)])
    for r in rows:
        values = {n["id"]: n["value"] for n in r.get("nodes", [])}
        writer.writerow([*(_csv_value(r.get(c)) for c in columns),
                         *(_num(values.get(n)) for n in nodes)])
    return out.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return cell(value)
    return repr(value)


# The terminal shows the rows' columns under the same names as every other format: in as many
# tables as the screen's width needs (each repeating the row's names), never abbreviated; a
# column with one value in every row is said once above them.
_KEYS = ("partnership", "scenario")
_HOISTED = ("tree_id", "catalogue", "method", "baseline")


def _constants(rows: Sequence[Record], columns: Sequence[str]) -> dict[str, Any]:
    if len(rows) < 2:
        return {}
    return {c: rows[0].get(c) for c in columns if c in _HOISTED
            and len({repr(r.get(c)) for r in rows}) == 1}


def _split(columns: Sequence[str], cells: list[list[str]], width: int) -> list[list[int]]:
    """Column indices per table: the key columns in each, the others added in order while the
    table fits ``width`` (each column as wide as its name or longest cell, plus 3 of rule)."""
    def need(i: int) -> int:
        return max([len(columns[i]), *(len(row[i]) for row in cells)]) + 3

    keys = [i for i, c in enumerate(columns) if c in _KEYS]
    tables: list[list[int]] = []
    current: list[int] = []
    used = sum(need(i) for i in keys)
    for i, c in enumerate(columns):
        if c in _KEYS:
            continue
        if current and used + need(i) > width:
            tables.append(keys + current)
            current, used = [], sum(need(k) for k in keys)
        current.append(i)
        used += need(i)
    if current or not tables:
        tables.append(keys + current)
    return [sorted(t) for t in tables]


def print_compare(result: Record, console: Any, pairs: int = 10) -> None:
    def show(title: str, columns: Sequence[str], rows: Sequence[Record]) -> None:
        constants = _constants(rows, columns)
        shown = [c for c in columns if c not in constants]
        if constants:
            title += "\n" + "; ".join(f"{c} = {rich_text(column_text(c, v))}"
                                      for c, v in constants.items())
        cells = _table_rows(rows, shown)
        band = shown.index("band") if "band" in shown else None
        for n, part in enumerate(_split(shown, cells, console.width)):
            print_table(console, [
                Column(shown[i], "left" if shown[i] in _TEXT_COLUMNS else "right", no_wrap=True)
                for i in part], [
                [Styled(printable(row[i]), band_style(row[i])) if i == band
                 else printable(row[i]) for i in part] for row in cells],
                title if n == 0 else None)

    show(f"[bold]Comparison[/] — {_compare_method(result)}", result["columns"],
         result["rows"])
    if result.get("partnerships"):
        console.print()
        show("[bold]Partnerships by expected stability[/] (outlooks)",
             result["outlook_columns"], result["partnerships"])
        for line in _pair_lines(result.get("partnership_pairs", [])):
            console.print(f"  {rich_text(line)}")
    for line in _without_lines(result):
        console.print(f"  {rich_text(line)}")
    console.print(f"\nClosest calls (of {len(result['pairs'])} pairs; all in --format json):")
    for line in _pair_lines(result["pairs"], pairs, closest_first=True):
        console.print(f"  {rich_text(line)}")


# ---------------------------------------------------------------------------------------------
# diff: rendered from riskengine.diff's dataclasses (its JSON is Diff.to_dict())


def _pair(old: str, new: str) -> str:
    return new if old == new else f"{old} → {new}"


def _attr(side: Any, name: str) -> Any:
    """A field of one side of a diff row (None: the row is not on that side)."""
    return None if side is None else getattr(side, name)


def _numbers(before: Any, after: Any, name: str, digits: int) -> str:
    """``old → new`` of one number, or the number once when it did not change."""
    def shown(side: Any) -> str:
        value = _attr(side, name)
        return "—" if value is None else fmt(value, digits)
    return _pair(shown(before), shown(after))


def _moved_band(before: str | None, after: str | None, changed: bool) -> str:
    text = _pair(before or "—", after or "—") if before and after else (after or before or "—")
    return text + (" ⚠" if changed else "")


def _own_labels(changes: Sequence[Change]) -> list[str]:
    """A scenario's own changes, as its row's "Changed by" cell counts them."""
    labels: dict[str, int] = {}
    for change in changes:
        label = (change.field if change.subject == "scenario"  # added, removed
                 else "tree" if change.subject == "tree"
                 else f"model {change.field}" if change.subject == "model"
                 else "estimate" if change.field == "estimate" else "weight override")
        labels[label] = labels.get(label, 0) + 1
    return [f"{n} {label}s" if n > 1 else label for label, n in labels.items()]


def _rows_catalogue(diff: Diff) -> bool:
    """Whether rows need a Catalogue column: the sides read different catalogues and the
    moved rows do not all share one pair (one pair is said once, above the table)."""
    return diff.catalogues_differ and len(diff.catalogue_pairs) > 1


def _diff_rows(diff: Diff) -> list[list[str]]:
    rows = []
    for s in diff.moved:
        b, a = s.before, s.after
        row = [s.key, _numbers(b, a, "stability", 1),
               "new" if b is None else "gone" if a is None else f"{s.delta:+.2f}",
               _moved_band(_attr(b, "band"), _attr(a, "band"), s.band_changed),
               _numbers(b, a, "risk_index", 3), _numbers(b, a, "opportunity_index", 3)]
        if _rows_catalogue(diff):
            row.append(_pair(s.catalogue_before or "—", s.catalogue_after or "—")
                       if s.catalogue_before and s.catalogue_after
                       else s.catalogue_after or s.catalogue_before or "—")
        inherited = [f"{s.inherited} inherited from {s.inherits_from}"] if s.inherits_from else []
        row.append(", ".join([*s.shared, *inherited, *_own_labels(s.changes)]) or "—")
        rows.append(row)
    return rows


def _diff_header(diff: Diff) -> list[str]:
    return ["Scenario", "S", "Δ S", "Band", "R", "O",
            *(["Catalogue"] if _rows_catalogue(diff) else []), "Changed by"]


def _diff_outlook_rows(diff: Diff) -> list[list[str]]:
    rows = []
    # a partnership with no outlook on either side (no probabilities: an index's countries, say)
    # has nothing to show here; the JSON says why
    for p in (p for p in diff.partnerships if p.before or p.after):
        b, a = p.before, p.after
        delta = ("new" if b is None and a is not None else "gone" if a is None and b is not None
                 else "—" if p.delta is None else f"{p.delta:+.2f}")
        rows.append([p.partnership,
                     _numbers(b, a, "expected_stability", 1), delta,
                     _moved_band(_attr(b, "band"), _attr(a, "band"), p.band_changed),
                     "; ".join(f"{side}: {note}" for side, note in
                               (("old", p.note_before), ("new", p.note_after))
                               if note and note != "not on this side") or ""])
    return rows


OUTLOOK_DIFF_HEADER = ["Partnership", "E[S]", "Δ E[S]", "Band", "Note"]


def _reach(group: SharedChange, shown: int = 6) -> str:
    """``moves 3 scenario(s): a, b, c`` (the first few, then how many more)."""
    n = len(group.scenarios)
    if not n:
        return "reaches no scenario"
    names = ", ".join(group.scenarios[:shown])
    more = f" and {n - shown} more" if n > shown else ""
    return f"moves {n} scenario(s): {names}{more}"


def _within(group: SharedChange, change: Change) -> str:
    """A change under its group's heading, without repeating the factor or tree id."""
    return change.text.removeprefix(f"{group.id}: ")


def gate_summary(diff: Diff) -> str:
    """One line: what the gates checked and what tripped (the CLI's stderr line too)."""
    if not diff.gates.names:
        return "no gates"
    if not diff.tripped:
        return f"gates passed ({', '.join(diff.gates.names)})"
    parts = []
    for gate in ("band-change", "delta"):
        trips = [t for t in diff.tripped if t.gate == gate]
        if not trips:
            continue
        label = "band-change" if gate == "band-change" else \
            f"|ΔS| > {diff.gates.max_delta:g}"
        shown = ", ".join(f"{t.subject} {t.detail}" for t in trips[:3])
        more = f" and {len(trips) - 3} more" if len(trips) > 3 else ""
        parts.append(f"{label}: {len(trips)} ({shown}{more})")
    return "gate tripped: " + "; ".join(parts)


def _diff_summary(diff: Diff, gates: bool = True) -> str:
    moved = sum(p.moved for p in diff.partnerships)
    return (f"{len(diff.moved)} scenario(s) changed, {diff.band_changes} band change(s), "
            f"{diff.unchanged} unchanged; {moved} partnership outlook(s) moved; "
            f"{len(diff.catalogue_changes)} catalogue change(s), "
            f"{len(diff.tree_changes)} tree change(s)"
            + (f"; {gate_summary(diff)}" if gates else ""))


# A pull-request comment holds at most 65,536 characters: the largest movements are shown,
# the rest counted (every row is in the JSON).
MD_DIFF_ROWS = 50


def diff_markdown(diff: Diff) -> str:
    """A pull-request comment: outlooks, each shared change once, the moved scenarios, their
    own changes; what tripped a gate first."""
    lines = [f"### riskengine: score changes ({md(diff.old)} → {md(diff.new)})", ""]
    if diff.tripped:
        lines += [f"**⛔ {md(gate_summary(diff))}**", ""]
    elif diff.gates.names:
        lines += [f"✅ {md(gate_summary(diff))}", ""]
    lines += [_diff_summary(diff, gates=False) + ".", ""]
    if diff.catalogues_differ:
        lines += [f"Catalogues: {md_code(diff.catalogue_old)} → {md_code(diff.catalogue_new)}"
                  + ("" if _rows_catalogue(diff) else " (every scenario)"), ""]
    if _diff_outlook_rows(diff):
        lines += ["**Partnership outlooks** (expected S = Σ p·S of the point scores)", "",
                  *_md_table(OUTLOOK_DIFF_HEADER, _diff_outlook_rows(diff), "lllll"), ""]
    if diff.shared:
        lines += ["**Catalogue and tree changes** (each once, with the scenarios it moves)", ""]
        for group in diff.shared:
            changes = "; ".join(md_code(_within(group, c)) for c in group.changes)
            lines.append(f"- {group.kind} **{md(group.id)}**: {changes} — {md(_reach(group))}")
        lines.append("")
    rows = _diff_rows(diff)
    if rows:
        header = _diff_header(diff)
        lines += ["**Scenarios**", "",
                  *_md_table(header, rows[:MD_DIFF_ROWS], "llrlll" + "l" * (len(header) - 6))]
        if len(rows) > MD_DIFF_ROWS:
            lines += ["", f"… and {len(rows) - MD_DIFF_ROWS} more scenario(s) with smaller "
                      "|ΔS| (all in `--format json`)"]
        lines.append("")
    own = [s for s in diff.moved if s.changes]
    if own:
        items = [f"- **{md(s.key)}**: " + "; ".join(md_code(c.text) for c in s.changes)
                 for s in own[:MD_DIFF_ROWS]]
        if len(own) > MD_DIFF_ROWS:
            items.append(f"- … and {len(own) - MD_DIFF_ROWS} more scenario(s)")
        lines += ["<details><summary>Scenario changes</summary>", "", *items, "",
                  "</details>", ""] if len(items) > 10 else \
            ["**Scenario changes**", "", *items, ""]
    for skipped in diff.skipped:
        lines.append(f"- skipped {md(skipped)}")
    return "\n".join(lines).rstrip("\n") + "\n"


def print_diff(diff: Diff, console: Any) -> None:
    escape = rich_text
    console.print(f"[bold]Score changes[/] {escape(diff.old)} → {escape(diff.new)}")
    if diff.catalogues_differ:
        console.print(f"Catalogues: {escape(diff.catalogue_old)} → "
                      f"{escape(diff.catalogue_new)}"
                      + ("" if _rows_catalogue(diff) else " (every scenario)"))
    if _diff_outlook_rows(diff):
        print_table(console, [Column(name, "right" if name == "Δ E[S]" else "left")
                              for name in OUTLOOK_DIFF_HEADER],
                    [[printable(c) for c in row] for row in _diff_outlook_rows(diff)],
                    "Partnership outlooks (expected S = Σ p·S)")
    if diff.shared:
        console.print("Catalogue and tree changes (each once):")
        for group in diff.shared:
            console.print(f"  {group.kind} {escape(group.id)}: "
                          + "; ".join(escape(_within(group, c)) for c in group.changes))
            console.print(f"    {escape(_reach(group))}")
    if diff.moved:
        print_table(console, [Column(name, "right" if name == "Δ S" else "left")
                              for name in _diff_header(diff)],
                    [[printable(c) for c in row] for row in _diff_rows(diff)], "Scenarios")
    for s in diff.moved:
        for change in s.changes:
            console.print(f"  {escape(s.key)}: {escape(change.text)}")
    console.print(escape(_diff_summary(diff)))
