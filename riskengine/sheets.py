"""Spreadsheets in and out: a project's estimates and evidence as xlsx or CSV, and back.

``export_estimates`` writes what each scenario file *writes* (never what it inherits through
``extends``), so that ``import_estimates`` can rebuild the files exactly. Five tables:

* ``scenarios``: one row per file: its header (title, parties, as_of, probability, extends,
  tree, model settings, description);
* ``estimates``: one row per scenario x factor the file estimates (value or low/mode/high,
  shift, distribution, confidence, weight, note); its ``partnership`` column is the scenario's
  resolved partnership, shown for filtering and checked on import, not written to the file;
* ``evidence``: one row per evidence item, in the file's order;
* ``signposts`` and ``correlations``: the scenario's lists, one item a row.

Every row names its scenario file (``file``, relative to the project root) and the scenario's
id. An xlsx workbook has one sheet per table. A CSV file is one long table: its first column
``table`` says which table a row belongs to, the other columns are the union of the tables'
columns, and a row leaves the columns of other tables empty.

Text that a spreadsheet would run as a formula (a leading ``= + - @``, tab or CR) is written
with a leading quote (``reporting.formula_safe``, the rule of every CSV and xlsx writer); so is
text that starts with a quote. Import removes one leading quote, so text round-trips exactly.

Import checks the whole sheet first (every cell, every row's place, every file path), builds the
scenario files, loads them with the normal loader beside the project's other files, and only
then writes, atomically, the files whose content changed. A changed file is edited in place
with ruamel.yaml's round-trip mode, so comments and layout survive where the keys they belong
to do; a file the sheet does not change is not touched at all.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import functools
import io
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from riskengine.fileio import OutputError, write_atomic
from riskengine.files import YAML_SUFFIXES, absolute
from riskengine.problems import InputError, Problem, display_path
from riskengine.reporting import formula_safe

# Limits against hostile sheets: reading stops at the first one passed. A project of 5,000
# scenarios with 14 factors is 70,000 estimate rows; evidence rows are a few per estimate.
MAX_ROWS = 100_000  # per table
MAX_COLUMNS = 64
MAX_SHEET_BYTES = 64_000_000  # the CSV or xlsx file itself
MAX_UNZIPPED_BYTES = 512_000_000  # an xlsx's parts, uncompressed (zip bombs)
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell

ColumnKind = Literal["text", "number", "date"]


@dataclass(frozen=True)
class Column:
    """One column of a table: how its cells are read, and whether the file holds it."""

    name: str
    kind: ColumnKind = "text"
    required: bool = False  # a row must fill it
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    readonly: bool = False  # shown for the reader, checked on import, not written to a file
    width: int = 14


def _cols(*columns: Column) -> tuple[Column, ...]:
    return columns


FILE = Column("file", required=True, width=40)
SCENARIO = Column("scenario", required=True, width=22)
FACTOR = Column("factor", required=True, width=26)

TABLES: dict[str, tuple[Column, ...]] = {
    "scenarios": _cols(
        FILE, SCENARIO, Column("partnership", width=18), Column("party_a"), Column("party_b"),
        Column("as_of", "date"), Column("probability", "number"), Column("extends", width=18),
        Column("tree"), Column("aggregation", choices=("arithmetic", "geometric")),
        Column("risk_share", "number"), Column("bands_stable", "number"),
        Column("bands_fragile", "number"), Column("title", width=50),
        Column("description", width=80)),
    "estimates": _cols(
        FILE, Column("partnership", readonly=True, width=18), SCENARIO, FACTOR,
        Column("value", "number", width=9), Column("low", "number", width=9),
        Column("mode", "number", width=9), Column("high", "number", width=9),
        Column("shift", "number", width=9),
        Column("distribution", choices=("pert", "triangular", "uniform")),
        Column("confidence", choices=("low", "medium", "high")),
        Column("weight", "number", width=9), Column("note", width=60)),
    "evidence": _cols(
        FILE, SCENARIO, FACTOR, Column("source", width=50), Column("date", "date"),
        Column("grade", pattern=r"[A-F][1-6]", width=8), Column("url", width=40),
        Column("note", width=80)),
    "signposts": _cols(FILE, SCENARIO, Column("signpost", required=True, width=100)),
    "correlations": _cols(FILE, SCENARIO, Column("factor_a", required=True, width=26),
                          Column("factor_b", required=True, width=26),
                          Column("rho", "number", required=True)),
}
TABLE_COLUMN = "table"  # the CSV's first column

# The keys of a scenario file, in the order a new file writes them (and new keys are placed).
SCENARIO_KEYS = ("id", "title", "partnership", "parties", "as_of", "probability", "extends",
                 "description", "signposts", "tree", "model", "factors", "correlations")
ENTRY_KEYS = ("value", "low", "mode", "high", "shift", "distribution", "confidence", "weight",
              "note", "evidence")
EVIDENCE_KEYS = ("source", "date", "url", "grade", "note")
MODEL_KEYS = ("aggregation", "risk_share", "bands")
DATE_KEYS = ("as_of", "date")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")

Rows = dict[str, list[dict[str, Any]]]  # table -> rows (column -> value, None when empty)


class SheetUsageError(ValueError):
    """A mistake in how export or import was called (an output kind, a project): exit 2."""


# ---------------------------------------------------------------------------------------------
# typed results


@dataclass(frozen=True)
class Workbook:
    """A project's estimates as tables: what ``riskengine export`` writes.

    ``tables`` maps each table name (``scenarios``, ``estimates``, ``evidence``, ``signposts``,
    ``correlations``) to its rows; a row maps each column to its value (None when empty).
    """

    root: Path  # the project root the ``file`` column is relative to
    tables: dict[str, list[dict[str, Any]]]

    def frames(self) -> dict[str, Any]:
        """Each table as a pandas DataFrame with the sheet's columns."""
        import pandas as pd

        return {name: pd.DataFrame(rows, columns=[c.name for c in TABLES[name]])
                for name, rows in self.tables.items()}

    def to_xlsx(self) -> bytes:
        """The workbook as xlsx bytes: one sheet per table, text made formula-safe."""
        return _xlsx_bytes(self.tables)

    def to_csv(self) -> str:
        """The tables as one long CSV with a leading ``table`` column."""
        return _csv_text(self.tables)

    def write(self, path: str | Path) -> None:
        """Write atomically as xlsx or CSV, chosen by the suffix of ``path``."""
        kind = sheet_kind(path)
        write_atomic(path, self.to_xlsx() if kind == "xlsx" else self.to_csv())


@dataclass(frozen=True)
class ImportResult:
    """What ``riskengine import`` did: files written (edited or new) and files left as they
    were because the sheet does not change them."""

    root: Path
    written: tuple[Path, ...] = ()
    created: tuple[Path, ...] = ()  # the subset of ``written`` that did not exist before
    unchanged: tuple[Path, ...] = ()
    checked_only: bool = False  # --check: validated, nothing written

    def summary(self) -> str:
        verb = "would write" if self.checked_only else "wrote"
        edited = len(self.written) - len(self.created)
        return (f"{verb} {len(self.written)} file(s) ({edited} edited, {len(self.created)} new), "
                f"{len(self.unchanged)} unchanged")


def sheet_kind(path: str | Path) -> Literal["xlsx", "csv"]:
    suffix = Path(path).suffix.lower()
    if suffix == ".xlsx":
        return "xlsx"
    if suffix == ".csv":
        return "csv"
    raise SheetUsageError(f"{path}: give a .xlsx or .csv file name")


# ---------------------------------------------------------------------------------------------
# export


def export_estimates(paths: Sequence[str | Path] | str | Path,
                     output: str | Path | None = None,
                     factors: str | Path | None = None) -> Workbook:
    """The estimates and evidence of the scenario files at ``paths`` (files or folders, of one
    project) as a :class:`Workbook`; written atomically to ``output`` (.xlsx or .csv) when
    given. ``factors``: the catalogue to check them with instead of their project's.

    The files are loaded with the normal loader first: files with errors raise
    :class:`~riskengine.problems.InputError` and nothing is exported.
    """
    from riskengine.loading import list_scenario_files, load_project_scenarios
    from riskengine.yamlio import read_yaml

    if output is not None:
        sheet_kind(output)
    listed = list_scenario_files(paths)
    if not listed.files:
        raise SheetUsageError("no scenario files (*.yaml) in "
                              f"{', '.join(map(str, listed.given))}")
    files = listed.files
    loaded = load_project_scenarios(listed, factors)
    if len(loaded.groups) != 1:
        roots = ", ".join(g.project.shown for g in loaded.groups)
        raise SheetUsageError(f"the paths lie in {len(loaded.groups)} projects ({roots}); a "
                              "sheet holds one project's files: export each on its own")
    root = absolute(loaded.groups[0].project.root)
    partnership = {absolute(s.source or ""): s.partnership for s in loaded.scenarios}
    tables: Rows = {name: [] for name in TABLES}
    for file in files:
        rel = _relative(file, root)
        for name, rows in file_rows(rel, read_yaml(file).data,
                                    partnership.get(absolute(file))).items():
            tables[name].extend(rows)
    book = Workbook(root, tables)
    if output is not None:
        book.write(output)
    return book


def locate_project(start: Path) -> Any:
    """The project at or above ``start`` (:class:`riskengine.project.Project`), which must
    have its catalogue: the one place that says where a sheet's files live."""
    from riskengine.project import find_project

    project = find_project(start)
    if not project.factors_dir.is_dir():
        raise SheetUsageError(f"--into {start}: no project here (no riskengine.toml, and no "
                              "factors/ folder at or above it)")
    return project


def _relative(file: Path, root: Path) -> str:
    try:
        return absolute(file).relative_to(root).as_posix()
    except ValueError:
        raise SheetUsageError(f"{display_path(file)} is not inside the project at "
                              f"{display_path(root)}") from None


def file_rows(rel: str, data: dict[str, Any], partnership: str | None = None) -> Rows:
    """The rows that describe one scenario file's data (as the safe reader returns it)."""
    sid = data.get("id")
    model = data.get("model") or {}
    bands = model.get("bands") or {}
    parties = list(data.get("parties") or [])
    parties += [None] * (2 - len(parties))
    key = {"file": rel, "scenario": sid}
    rows: Rows = {name: [] for name in TABLES}
    rows["scenarios"].append({
        **key, "partnership": data.get("partnership"), "party_a": parties[0],
        "party_b": parties[1], "as_of": data.get("as_of"),
        "probability": data.get("probability"), "extends": data.get("extends"),
        "tree": data.get("tree"), "aggregation": model.get("aggregation"),
        "risk_share": model.get("risk_share"), "bands_stable": bands.get("stable"),
        "bands_fragile": bands.get("fragile"), "title": data.get("title"),
        "description": data.get("description")})
    for text in data.get("signposts") or []:
        rows["signposts"].append({**key, "signpost": text})
    for factor_id, entry in (data.get("factors") or {}).items():
        entry = entry or {}
        rows["estimates"].append({
            "file": rel, "partnership": partnership, "scenario": sid, "factor": factor_id,
            **{k: entry.get(k) for k in ("value", "low", "mode", "high", "shift",
                                         "distribution", "confidence", "weight", "note")}})
        for item in entry.get("evidence") or []:
            rows["evidence"].append({**key, "factor": factor_id,
                                     **{k: item.get(k) for k in EVIDENCE_KEYS}})
    for corr in data.get("correlations") or []:
        pair = [*list(corr.get("factors") or []), None, None]
        rows["correlations"].append({**key, "factor_a": pair[0], "factor_b": pair[1],
                                     "rho": corr.get("rho")})
    return {name: [_ordered(name, row) for row in table] for name, table in rows.items()}


def _ordered(table: str, row: dict[str, Any]) -> dict[str, Any]:
    return {c.name: row.get(c.name) for c in TABLES[table]}


def _text_out(value: str) -> str:
    """Text for a cell: formula-safe, and a leading quote doubled so import's one-quote rule
    gives the text back exactly."""
    return "'" + value if value.startswith("'") else formula_safe(value)


def _cell_out(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == "date" and isinstance(value, str) and ISO_DATE.fullmatch(value):
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(value)
    if isinstance(value, str):
        return _text_out(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and \
            float(f"{value:.16g}") != value:
        # openpyxl stores numbers to 16 significant digits; the few that need 17 are
        # written as their exact text, which import reads as the same number
        return repr(value)
    return value


def _xlsx_bytes(tables: Rows) -> bytes:
    try:
        from openpyxl import Workbook as XlsxBook
        from openpyxl.utils.exceptions import IllegalCharacterError
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        raise SheetUsageError("xlsx needs openpyxl: pip install openpyxl") from None
    book = XlsxBook()
    book.remove(book.active)
    for name, columns in TABLES.items():
        sheet = book.create_sheet(name)
        sheet.append([c.name for c in columns])
        for i, column in enumerate(columns, start=1):
            sheet.column_dimensions[_letter(i)].width = column.width
        sheet.freeze_panes = "A2"
        for row in tables[name]:
            try:
                sheet.append([_cell_out(c, row.get(c.name)) for c in columns])
            except IllegalCharacterError:
                raise SheetUsageError(f"{row.get('file')}: a text holds a control character "
                                      "xlsx cannot store; export to .csv instead") from None
        for cells in sheet.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
                elif isinstance(cell.value, str):
                    cell.data_type = "s"  # text stays text, whatever it starts with
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _csv_header() -> list[str]:
    names: list[str] = [TABLE_COLUMN]
    for columns in TABLES.values():
        names += [c.name for c in columns if c.name not in names]
    return names


def _csv_text(tables: Rows) -> str:
    header = _csv_header()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for name, columns in TABLES.items():
        kinds = {c.name: c for c in columns}
        for row in tables[name]:
            line = [name] + [""] * (len(header) - 1)
            for i, column_name in enumerate(header[1:], start=1):
                column = kinds.get(column_name)
                if column is not None:
                    line[i] = _csv_value(row.get(column_name))
            writer.writerow(line)
    return out.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # not a valid value anywhere; kept visible as text
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return _text_out(str(value))


def _letter(index: int) -> str:
    """Spreadsheet column letters of a 1-based index (1 -> A, 27 -> AA)."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# ---------------------------------------------------------------------------------------------
# reading a sheet: cells -> typed rows, with located problems


@dataclass
class _Row:
    table: str
    line: int  # 1-based row of the sheet (or line of the CSV)
    values: dict[str, Any]
    columns: dict[str, int]  # 1-based column of each name
    failed: set[str] = field(default_factory=set)  # columns whose cell is already reported


@dataclass
class _Reader:
    path: Path
    shown: str
    problems: list[Problem] = field(default_factory=list)
    # files whose scenarios row is already reported: their other rows are not reported again
    bad_files: set[str] = field(default_factory=set)

    def at(self, row: _Row | None, table: str, line: int | None, column: str | None,
           col: int | None, message: str, code: str) -> None:
        """A problem at a cell: ``sheet.xlsx:14:5: estimates!E14 (low): message``."""
        if line is None:
            self.problems.append(Problem(self.shown, None, None, "", message, code))
            return
        where = f"{table}!{_letter(col)}{line}" if col else f"{table}!{line}"
        if column:
            where += f" ({column})"
        self.problems.append(Problem(self.shown, line, col, where, message, code))

    def cell(self, row: _Row, column: str, message: str, code: str) -> None:
        col = row.columns.get(column)
        self.at(row, row.table, row.line, column, col, message, code)

    def file_problem(self, message: str, code: str) -> None:
        self.at(None, "", None, None, None, message, code)


def _parse_value(column: Column, raw: Any, formula: bool) -> tuple[Any, str | None, str]:
    """(value, problem message, code) of one cell; value None for an empty cell."""
    if formula or (isinstance(raw, str) and raw.startswith("=")):
        return None, f"a formula ({_short(raw)}); type the value (or start the text with ')",\
            "RE905"
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None, None, ""
    if isinstance(raw, str) and len(raw) > MAX_CELL_CHARS:
        return None, f"more than {MAX_CELL_CHARS:,} characters", "RE902"
    if column.kind == "number":
        return _number(raw)
    if column.kind == "date":
        return _date(raw)
    text, problem = _text(raw)
    if problem:
        return None, problem, "RE904"
    if column.choices and text not in column.choices:
        return None, f"{_short(text)} is not one of {', '.join(column.choices)}", "RE904"
    if column.pattern and not re.fullmatch(column.pattern, text):
        return None, f"{_short(text)} is not an Admiralty grade (A-F then 1-6, e.g. B2)", "RE904"
    return text, None, ""


def _short(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _number(raw: Any) -> tuple[Any, str | None, str]:
    if isinstance(raw, bool):
        return None, f"not a number ({str(raw).upper()})", "RE904"
    if isinstance(raw, int | float):
        value: int | float = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if not NUMBER.fullmatch(text):
            return None, f"not a number {_short(raw)}", "RE904"
        value = int(text) if re.fullmatch(r"[-+]?\d{1,15}", text) else float(text)
    else:
        return None, f"not a number ({type(raw).__name__})", "RE904"
    if (isinstance(value, float) and not math.isfinite(value)) or \
            (isinstance(value, int) and abs(value) > 1e300):
        return None, f"not a finite number {_short(raw)}", "RE904"
    return value, None, ""


def _date(raw: Any) -> tuple[Any, str | None, str]:
    if isinstance(raw, dt.datetime):
        if raw.time() != dt.time():
            return None, f"a date and time ({raw.isoformat()}); give the date only", "RE904"
        return raw.date().isoformat(), None, ""
    if isinstance(raw, dt.date):
        return raw.isoformat(), None, ""
    text = raw.strip().removeprefix("'") if isinstance(raw, str) else None
    if text is not None and ISO_DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text).isoformat(), None, ""
        except ValueError:
            pass
    return None, f"not a date (YYYY-MM-DD): {_short(raw)}", "RE904"


def _text(raw: Any) -> tuple[str, str | None]:
    if isinstance(raw, str):
        return (raw[1:] if raw.startswith("'") else raw), None
    if isinstance(raw, bool):
        return "", f"expected text, found {str(raw).upper()}"
    if isinstance(raw, int):
        return str(raw), None
    if isinstance(raw, float):
        return (str(int(raw)) if raw.is_integer() and abs(raw) < 1e15 else repr(raw)), None
    if isinstance(raw, dt.datetime) and raw.time() == dt.time():
        return raw.date().isoformat(), None
    if isinstance(raw, dt.date | dt.datetime):
        return raw.isoformat(), None
    return "", f"expected text, found {type(raw).__name__}"


def _read_table(reader: _Reader, table: str, header: Sequence[Any],
                lines: Iterable[tuple[int, Sequence[Any], Sequence[bool] | None]],
                foreign: frozenset[str] = frozenset(), header_line: int = 1) -> list[_Row]:
    """Rows of one table from its header and its numbered rows: (row number, cell values,
    whether each cell is a formula, or None where no cell can be one).

    ``foreign``: header names that belong to other tables (a CSV's union of columns): allowed
    in the header, but this table's rows must leave them empty.
    """
    columns = {c.name: c for c in TABLES[table]}
    names: dict[str, int] = {}
    positions: list[str | None] = []
    before = len(reader.problems)
    for i, raw in enumerate(header, start=1):
        name = raw.strip() if isinstance(raw, str) else None
        positions.append(name if name in columns or name in foreign else None)
        if not name or name in foreign:
            continue
        if name not in columns:
            reader.at(None, table, header_line, None, i,
                      f"unknown column {_short(raw)} (columns: {', '.join(columns)})", "RE903")
        elif name in names:
            reader.at(None, table, header_line, name, i, f"column {name!r} given twice (first "
                      f"in column {_letter(names[name])})", "RE903")
        else:
            names[name] = i
    missing = [n for n in columns if n not in names]
    if missing:
        reader.at(None, table, header_line, None, None,
                  f"missing column(s) {', '.join(missing)}", "RE903")
    if len(reader.problems) > before:
        return []
    rows: list[_Row] = []
    for count, (line_no, cells, formulas) in enumerate(lines, start=1):
        if count > MAX_ROWS:
            reader.at(None, table, line_no, None, None, f"more than {MAX_ROWS:,} rows",
                      "RE902")
            return rows
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
            continue  # a blank row, as spreadsheets have
        row = _Row(table, line_no, {}, names)
        for i, raw in enumerate(cells, start=1):
            formula = formulas is not None and formulas[i - 1]
            name = positions[i - 1] if i <= len(positions) else None
            empty = raw is None or (isinstance(raw, str) and not raw.strip())
            if name is None or name in foreign:
                if not empty and not formula:
                    reader.at(row, table, line_no, name, i, "not a column of the "
                              f"{table} table; leave it empty", "RE903")
                continue
            value, message, code = _parse_value(columns[name], raw, formula)
            if message:
                reader.at(row, table, line_no, name, i, message, code)
                row.failed.add(name)
            row.values[name] = value
        for name in columns:
            row.values.setdefault(name, None)
        rows.append(row)
    return rows


def _read_xlsx(reader: _Reader) -> dict[str, list[_Row]]:
    path = reader.path
    try:
        with zipfile.ZipFile(path) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        reader.file_problem("not an xlsx workbook (not a zip archive)", "RE901")
        return {}
    except OSError as exc:
        reader.file_problem(f"cannot read: {exc.strerror or exc}", "RE901")
        return {}
    if unzipped > MAX_UNZIPPED_BYTES:
        reader.file_problem(f"workbook unpacks to more than {MAX_UNZIPPED_BYTES:,} bytes",
                            "RE902")
        return {}
    import warnings

    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles it does not know
            book = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook
        reader.file_problem(f"not a readable xlsx workbook ({type(exc).__name__}: "
                            f"{_short(exc)[1:-1]})", "RE901")
        return {}
    try:
        missing = [name for name in TABLES if name not in book.sheetnames]
        if missing:
            reader.file_problem(f"no sheet named {', '.join(missing)} (sheets: "
                                f"{', '.join(book.sheetnames)})", "RE901")
            return {}
        tables = {}
        for name in TABLES:
            sheet = book[name]
            declared = sheet.max_row or 0
            if declared > MAX_ROWS + 1:  # the workbook's own dimension says so: refuse unread
                reader.at(None, name, declared, None, None, f"more than {MAX_ROWS:,} rows "
                          f"({declared - 1:,})", "RE902")
                continue
            if (sheet.max_column or 0) > MAX_COLUMNS:
                reader.at(None, name, 1, None, None, f"more than {MAX_COLUMNS} columns",
                          "RE902")
                continue
            rows = sheet.iter_rows(max_col=MAX_COLUMNS)
            header = [c.value for c in next(rows, ())]
            numbered = ((i, [c.value for c in row], [c.data_type == "f" for c in row])
                        for i, row in enumerate(rows, start=2))
            tables[name] = _read_table(reader, name, header, numbered)
        return tables
    except InputError:
        raise
    except Exception as exc:  # a damaged sheet part shows only while its rows are read
        reader.file_problem(f"not a readable xlsx workbook ({type(exc).__name__}: "
                            f"{_short(exc)[1:-1]})", "RE901")
        return {}
    finally:
        book.close()


def _read_csv(reader: _Reader) -> dict[str, list[_Row]]:
    try:
        text = reader.path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reader.file_problem(f"not UTF-8 text (byte {exc.start})", "RE901")
        return {}
    except OSError as exc:
        reader.file_problem(f"cannot read: {exc.strerror or exc}", "RE901")
        return {}
    if "\x00" in text:
        reader.file_problem("holds a NUL byte: not a CSV text file", "RE901")
        return {}
    if text.count("\n") > MAX_ROWS * len(TABLES):  # counted in C, before any row is parsed
        reader.file_problem(f"more than {MAX_ROWS * len(TABLES):,} lines", "RE902")
        return {}
    lines = csv.reader(io.StringIO(text, newline=""))
    by_table: dict[str, list[tuple[int, list[str], None]]] = {n: [] for n in TABLES}
    try:
        header = next(lines, [])
        if not header or header[0].strip() != TABLE_COLUMN:
            reader.at(None, "csv", 1, None, 1, f"the first column must be {TABLE_COLUMN!r} "
                      "(which table each row belongs to)", "RE903")
            return {}
        if len(header) > MAX_COLUMNS:
            reader.at(None, "csv", 1, None, None, f"more than {MAX_COLUMNS} columns", "RE902")
            return {}
        if not _csv_header_ok(reader, header):
            return {}
        for count, row in enumerate(lines, start=1):
            line_no = count + 1  # the record's row, as a spreadsheet numbers it
            if count > MAX_ROWS * len(TABLES):
                reader.at(None, "csv", line_no, None, None,
                          f"more than {MAX_ROWS * len(TABLES):,} rows", "RE902")
                return {}
            name = row[0].strip() if row else ""
            bucket = by_table.get(name)
            if bucket is None:
                if not any(v.strip() for v in row):
                    continue  # a blank line
                reader.at(None, "csv", line_no, TABLE_COLUMN, 1,
                          f"unknown table {_short(row[0])} (tables: {', '.join(TABLES)})",
                          "RE903")
                if len(reader.problems) > 20:
                    return {}  # not this format at all: twenty lines say so
                continue
            if len(bucket) >= MAX_ROWS:
                reader.at(None, name, line_no, None, None, f"more than {MAX_ROWS:,} rows "
                          f"of the {name} table", "RE902")
                return {}
            # the ``table`` cell is a foreign column of every table: seen, never a value
            row[0] = ""
            bucket.append((line_no, row, None))
    except csv.Error as exc:
        reader.file_problem(f"not a CSV file: {exc} (line {lines.line_num})", "RE901")
        return {}
    union = frozenset(_csv_header())
    tables: dict[str, list[_Row]] = {}
    for name, numbered in by_table.items():
        own = {c.name for c in TABLES[name]}
        tables[name] = _read_table(reader, name, header, numbered, union - own)
    return tables


def _csv_header_ok(reader: _Reader, header: list[str]) -> bool:
    """The CSV's header names each column of the union once (checked once, not per table)."""
    union = _csv_header()
    seen: dict[str, int] = {}
    for i, raw in enumerate(header, start=1):
        name = raw.strip()
        if not name:
            continue
        if name not in union:
            hint = _suggest(name, union)
            reader.at(None, "csv", 1, None, i, f"unknown column {_short(raw)}{hint}", "RE903")
            if hint:  # a misspelt column is one finding, not also a missing one
                seen.setdefault(hint.split("'")[1], i)
        elif name in seen:
            reader.at(None, "csv", 1, name, i, f"column {name!r} given twice (first in "
                      f"column {_letter(seen[name])})", "RE903")
        seen.setdefault(name, i)
    missing = [n for n in union if n not in seen]
    if missing:
        reader.at(None, "csv", 1, None, None, f"missing column(s) {', '.join(missing)}",
                  "RE903")
    return not reader.problems


def _suggest(name: str, choices: Sequence[str]) -> str:
    from riskengine.files import suggest

    return suggest(name, choices)


def read_sheet(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """The typed rows of every table of a sheet; :class:`InputError` on any bad cell."""
    tables, problems = _read(Path(path))
    if problems:
        raise InputError(problems)
    return {name: [row.values for row in rows] for name, rows in tables.items()}


def _read(path: Path) -> tuple[dict[str, list[_Row]], list[Problem]]:
    kind = sheet_kind(path)
    reader = _Reader(path, display_path(path))
    if not path.is_file():
        reason = "not a regular file" if path.exists() else "no such file"
        raise SheetUsageError(f"{path}: {reason}")
    if path.stat().st_size > MAX_SHEET_BYTES:
        reader.file_problem(f"larger than {MAX_SHEET_BYTES:,} bytes", "RE902")
        return {}, reader.problems
    tables = _read_xlsx(reader) if kind == "xlsx" else _read_csv(reader)
    return tables, reader.problems


# ---------------------------------------------------------------------------------------------
# rows -> scenario file data


def _assemble(reader: _Reader, tables: dict[str, list[_Row]], scenarios_rel: str
              ) -> tuple[dict[str, dict[str, Any]], dict[str, list[_Row]]]:
    """Each file's data (as the safe reader would return it) and the estimate rows that name
    a partnership, checked against the loaded scenarios later."""
    data: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, list[_Row]] = {}
    for row in tables.get("scenarios", []):
        values = row.values
        if not _keys_present(reader, row):
            if values["file"] is not None:
                reader.bad_files.add(values["file"])
            continue
        rel = values["file"]
        if not _safe_file(reader, row, rel, values["scenario"], scenarios_rel):
            reader.bad_files.add(rel)
            continue
        if rel in data:
            first = rows_of[rel][0].line
            reader.cell(row, "file", f"{rel} already has a row (row {first})", "RE906")
            continue
        rows_of[rel] = [row]
        parties = [values["party_a"], values["party_b"]]
        bands = _drop_none({"stable": values["bands_stable"],
                            "fragile": values["bands_fragile"]})
        model = _drop_none({"aggregation": values["aggregation"],
                            "risk_share": values["risk_share"], "bands": bands or None})
        data[rel] = _drop_none({
            "id": values["scenario"], "title": values["title"],
            "partnership": values["partnership"],
            "parties": [p for p in parties if p is not None] or None,
            "as_of": values["as_of"], "probability": values["probability"],
            "extends": values["extends"], "description": values["description"],
            "signposts": [], "tree": values["tree"], "model": model or None, "factors": {},
            "correlations": []})
    for row in tables.get("signposts", []):
        target = _owner(reader, row, data)
        if target is not None:
            target.setdefault("signposts", []).append(row.values["signpost"])
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    where: dict[tuple[str, str], int] = {}
    partnership_rows: dict[str, list[_Row]] = {}
    for row in tables.get("estimates", []):
        target = _owner(reader, row, data)
        if target is None or row.values["factor"] is None:
            continue
        key = (row.values["file"], row.values["factor"])
        if key in entries:
            reader.cell(row, "factor", f"{key[1]} already has a row for this file "
                        f"(row {where[key]})", "RE906")
            continue
        entry = _drop_none({k: row.values[k] for k in ENTRY_KEYS if k != "evidence"})
        entries[key], where[key] = entry, row.line
        target.setdefault("factors", {})[key[1]] = entry
        if row.values["partnership"] is not None:
            partnership_rows.setdefault(key[0], []).append(row)
    for row in tables.get("evidence", []):
        target = _owner(reader, row, data)
        if target is None or row.values["factor"] is None:
            continue
        key = (row.values["file"], row.values["factor"])
        if key not in entries:
            reader.cell(row, "factor", f"no estimates row for {key[1]} in {key[0]}: evidence "
                        "belongs to an estimate", "RE906")
            continue
        entries[key].setdefault("evidence", []).append(
            _drop_none({k: row.values[k] for k in EVIDENCE_KEYS}))
    for row in tables.get("correlations", []):
        target = _owner(reader, row, data)
        if target is not None:
            target.setdefault("correlations", []).append(
                {"factors": [row.values["factor_a"], row.values["factor_b"]],
                 "rho": row.values["rho"]})
    ordered = {rel: {k: d[k] for k in SCENARIO_KEYS if k in d and d[k] not in ([], {})}
               for rel, d in data.items()}
    for rel, d in data.items():  # a file that writes `factors: {}` still has the key
        if "factors" in d and "factors" not in ordered[rel]:
            ordered[rel]["factors"] = {}
    return ordered, partnership_rows


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _keys_present(reader: _Reader, row: _Row) -> bool:
    ok = True
    for column in TABLES[row.table]:
        if column.required and row.values.get(column.name) is None and \
                column.name not in row.failed:
            reader.cell(row, column.name, "required, but empty", "RE904")
            ok = False
    return ok and all(row.values.get(c.name) is not None for c in TABLES[row.table]
                      if c.required)


def _owner(reader: _Reader, row: _Row, data: dict[str, dict[str, Any]]
           ) -> dict[str, Any] | None:
    """The file data a row of a list table belongs to, after checking it names one."""
    if not _keys_present(reader, row):
        return None
    rel, sid = row.values["file"], row.values["scenario"]
    target = data.get(rel)
    if rel in reader.bad_files or (target is None and reader.bad_files):
        return None  # the broken scenarios row is the one finding (its file may be this)
    if target is None:
        reader.cell(row, "file", f"{rel} has no row in the scenarios sheet", "RE906")
        return None
    if target.get("id") != sid:
        reader.cell(row, "scenario", f"{sid!r} is not the id of {rel} ({target.get('id')!r} "
                    "in the scenarios sheet)", "RE906")
        return None
    return target


def _safe_file(reader: _Reader, row: _Row, rel: str, sid: str, scenarios_rel: str) -> bool:
    """A ``file`` cell names a YAML file below the project's scenarios folder, and its stem is
    the scenario's id: nothing the sheet says can write anywhere else."""
    path = Path(rel)
    parts = rel.split("/")
    problem = None
    if "\\" in rel or path.is_absolute() or rel.startswith("~") or any(
            p in ("", ".", "..") for p in parts):
        problem = f"{rel!r} is not a plain relative path (no .., no leading /)"
    elif not rel.startswith(scenarios_rel.rstrip("/") + "/") or len(parts) < 3:
        problem = (f"{rel!r} is not a file inside a partnership folder of {scenarios_rel}/ "
                   f"(e.g. {scenarios_rel}/<partnership>/<id>.yaml)")
    elif path.suffix not in YAML_SUFFIXES:
        problem = f"{rel!r} is not a .yaml file"
    elif path.stem != sid:
        problem = f"{rel!r} does not match the scenario id {sid!r} (the file is <id>.yaml)"
    if problem:
        reader.cell(row, "file", problem, "RE907")
        return False
    return True


# ---------------------------------------------------------------------------------------------
# writing YAML: edit in place, keep comments


@functools.cache
def _representer() -> type:
    from ruamel.yaml.representer import RoundTripRepresenter
    from ruamel.yaml.scalarfloat import ScalarFloat

    class ExactRepresenter(RoundTripRepresenter):
        """ruamel rebuilds a float it read from its digits and exponent, and some come out
        one unit in the last place off (6.665557766001529e-05 became ...528e-05): such a
        float is written as Python's shortest exact text instead."""

        def represent_scalar_float(self, data: Any) -> Any:
            node = super().represent_scalar_float(data)
            try:
                exact = float(node.value) == float(data)
            except ValueError:
                exact = False
            if not exact:
                node = self.represent_scalar("tag:yaml.org,2002:float", repr(float(data)))
            return node

    ExactRepresenter.add_representer(ScalarFloat, ExactRepresenter.represent_scalar_float)
    return ExactRepresenter


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: keeps comments, key order, flow and block styles
    yaml.Representer = _representer()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # long text is folded by _prose, never by ruamel's trailing-space wrap
    yaml.preserve_quotes = True
    return yaml


def _yaml_value(key: str | None, value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        return CommentedMap((k, _yaml_value(k, v)) for k, v in value.items())
    if isinstance(value, list):
        return CommentedSeq(_yaml_value(None, v) for v in value)
    if key in DATE_KEYS and isinstance(value, str) and ISO_DATE.fullmatch(value):
        return dt.date.fromisoformat(value)  # written plain, as a person writes a date
    if isinstance(value, str):
        return _prose(value)
    return value


PROSE_WIDTH = 88


def _prose(text: str) -> Any:
    """Long one-line text as a folded block (``>-``) broken at single spaces, as the shipped
    files write prose; anything a fold could change (newlines, runs of spaces, edge spaces)
    stays a plain or quoted scalar, which ruamel writes exactly."""
    from ruamel.yaml.scalarstring import FoldedScalarString

    if len(text) <= PROSE_WIDTH or text != text.strip() or "\n" in text or "  " in text or \
            any(ch in text for ch in "\t\r\x85\u2028\u2029"):
        return text
    folded = FoldedScalarString(text)
    folded.fold_pos = _folds(text)
    return folded


def _folds(text: str) -> list[int]:
    """Positions of the spaces where a greedy wrap at PROSE_WIDTH breaks ``text``."""
    folds: list[int] = []
    line_start, last_space = 0, -1
    for i, ch in enumerate(text):
        if ch == " ":
            if i - line_start > PROSE_WIDTH and last_space > line_start:
                folds.append(last_space)
                line_start = last_space + 1
            last_space = i
    if len(text) - line_start > PROSE_WIDTH and last_space > line_start:
        folds.append(last_space)
    return folds


def _same(old: Any, new: Any) -> bool:
    """Whether a value ruamel read from the file says what the sheet's value says."""
    if isinstance(old, dt.date):
        return isinstance(new, str) and old.isoformat() == new
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return float(old) == float(new)
    if isinstance(old, str) and isinstance(new, str):
        return str(old) == new
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_same(o, n) for o, n in zip(old, new, strict=True))
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)
    return old is None and new is None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, list | dict) and not value)


ORDER = {"": SCENARIO_KEYS, "model": MODEL_KEYS, "entry": ENTRY_KEYS,
         "evidence": EVIDENCE_KEYS, "bands": ("stable", "fragile")}


def _merge(target: Any, new: dict[str, Any], order: Sequence[str], depth: str = "") -> None:
    """Change ``target`` (ruamel's map of a file) to say what ``new`` says, touching only the
    keys that differ, so comments on the others stay where they are."""
    for key in list(target):
        if key not in new and not _blank(target[key]):
            del target[key]
    for key, value in new.items():
        if key in target:
            old = target[key]
            inner = _inner_order(depth, key)
            if isinstance(old, dict) and isinstance(value, dict):
                _merge(old, value, ORDER.get(inner, ()), inner)
                continue
            if isinstance(old, list) and isinstance(value, list):
                # item by item, so an added or dropped evidence item leaves the others' comments
                for i, (o, v) in enumerate(zip(old, value, strict=False)):
                    if isinstance(o, dict) and isinstance(v, dict):
                        _merge(o, v, ORDER.get(inner, ()), inner)
                    elif not _same(o, v):
                        old[i] = _yaml_value(None, v)
                del old[len(value):]
                old.extend(_yaml_value(None, v) for v in value[len(old):])
                continue
            if _same(old, value):
                continue
            target[key] = _yaml_value(key, value)
            continue
        # a new key: placed after the keys that come before it in a file's usual order
        rank = {k: i for i, k in enumerate(order)}
        position = len(target)
        if key in rank:
            position = sum(1 for k in target if rank.get(k, len(rank)) < rank[key])
        target.insert(position, key, _yaml_value(key, value))
    if depth == "factors" and list(target) != list(new):
        # the estimates' order is the scenario's (Scenario.estimates is a tuple): follow the
        # sheet's; a key's comments are kept by key, so they move with it
        for key in new:
            target.move_to_end(key)


def _inner_order(depth: str, key: str) -> str:
    if depth == "":
        return {"model": "model", "factors": "factors"}.get(key, "")
    if depth == "factors":
        return "entry"
    if depth == "entry" and key == "evidence":
        return "evidence"
    if depth == "model" and key == "bands":
        return "bands"
    return ""


def _dump(document: Any) -> str:
    out = io.StringIO()
    _yaml().dump(document, out)
    return out.getvalue()


def yaml_text(data: dict[str, Any], existing: str | None = None) -> str:
    """The text of a scenario file saying ``data``: ``existing`` edited in place (comments
    kept) when given, else a new file."""
    if existing is not None:
        document = _yaml().load(existing)
        _merge(document, data, SCENARIO_KEYS)
        return _dump(document)
    return _dump(_yaml_value(None, data))


# ---------------------------------------------------------------------------------------------
# import


def import_estimates(sheet: str | Path, into: str | Path = ".", check: bool = False
                     ) -> ImportResult:
    """Turn a sheet written by :func:`export_estimates` (and perhaps edited) back into scenario
    files of the project at ``into``.

    Nothing is written unless every cell is valid and the resulting scenarios (with the rest of
    their folders) load without errors; then each changed file is written atomically, edited in
    place so its comments stay. Files the sheet does not change are not touched. ``check``
    validates and reports what would be written, writing nothing. Raises
    :class:`~riskengine.problems.InputError` with every problem, located at the sheet's cell
    (``sheet.xlsx:14:5: estimates!E14 (low): ...``) or at the scenario file it would write.
    """
    from ruamel.yaml.error import YAMLError

    from riskengine.loading import load_catalogue, load_trees
    from riskengine.yamlio import read_yaml

    sheet = Path(sheet)
    if not Path(into).is_dir():
        raise SheetUsageError(f"--into {into}: no such folder")
    project = locate_project(Path(into))
    root, scenarios_dir = absolute(project.root), absolute(project.scenarios_dir)
    scenarios_rel = scenarios_dir.relative_to(root).as_posix()
    tables, problems = _read(sheet)
    reader = _Reader(sheet, display_path(sheet), problems)
    if problems:
        raise InputError(problems)
    data, partnership_rows = _assemble(reader, tables, scenarios_rel)
    if reader.problems:
        raise InputError(reader.problems)
    _inside(reader, root, scenarios_dir, data, tables)
    if reader.problems:
        raise InputError(reader.problems)

    texts: dict[str, str] = {}
    unchanged: list[Path] = []
    created: list[Path] = []
    for rel, new in data.items():
        target = root / rel
        existing = None
        if target.is_file():
            try:
                old = read_yaml(target).data
            except InputError:
                old = None  # unreadable now: the sheet's version replaces it
            if isinstance(old, dict):
                if _comparable(rel, old) == _comparable(rel, new):
                    unchanged.append(target)
                    continue
                existing = target.read_text(encoding="utf-8")
        else:
            created.append(target)
        try:
            texts[rel] = yaml_text(new, existing)
        except YAMLError:  # the safe reader took it, ruamel's round trip did not: write anew
            texts[rel] = yaml_text(new)

    if not data:
        return ImportResult(root, checked_only=check)  # an empty sheet changes nothing
    catalogue = load_catalogue(project.factors_dir)
    trees = load_trees(catalogue, project.models_dir)
    scenarios = _validate(root, texts, data, catalogue, trees, project)
    for rel, rows in partnership_rows.items():
        scenario = scenarios.get(rel)
        for row in rows:
            if scenario is not None and row.values["partnership"] != scenario.partnership:
                reader.cell(row, "partnership", f"{row.values['partnership']!r} is not the "
                            f"partnership of {rel} ({scenario.partnership!r}); change it in the "
                            "scenarios sheet", "RE906")
    if reader.problems:
        raise InputError(reader.problems)
    written = [root / rel for rel in texts]
    if not check:
        for rel, text in texts.items():
            target = root / rel
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(target, text)
            except (OSError, OutputError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise OutputError(f"{display_path(target)}: {reason}") from None
    return ImportResult(root, tuple(written), tuple(created), tuple(unchanged), check)


def _comparable(rel: str, data: dict[str, Any]) -> Rows:
    """A file's content as the sheet sees it (read-only columns left out): two files with
    equal rows say the same thing."""
    rows = file_rows(rel, data)
    readonly = {name: {c.name for c in cols if c.readonly} for name, cols in TABLES.items()}
    return {name: [{k: _plain(v) for k, v in row.items() if k not in readonly[name]}
                   for row in table] for name, table in rows.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return float(value)


def _inside(reader: _Reader, root: Path, scenarios_dir: Path, data: dict[str, Any],
            tables: dict[str, list[_Row]]) -> None:
    """Every target, after symlinks, stays inside the project's scenarios folder."""
    base = os.path.realpath(scenarios_dir)
    rows = {row.values["file"]: row for row in tables.get("scenarios", [])}
    for rel in data:
        real = os.path.realpath(root / rel)
        if not real.startswith(base.rstrip(os.sep) + os.sep):
            reader.cell(rows[rel], "file", f"{rel!r} leads outside {display_path(scenarios_dir)}"
                        " (through a symlink)", "RE907")
        elif os.path.lexists(root / rel) and not os.path.isfile(root / rel):
            reader.cell(rows[rel], "file", f"{rel!r} exists and is not a regular file", "RE907")


def _validate(root: Path, texts: dict[str, str], data: dict[str, Any], catalogue: Any,
              trees: Any, project: Any) -> dict[str, Any]:
    """Load the imported files, with the rest of their folders, from a scratch copy: the
    normal loader's checks, before anything is written. Problems name the project's files."""
    from riskengine.loading import load_scenarios

    folders = sorted({str(Path(rel).parent) for rel in data})
    with tempfile.TemporaryDirectory(prefix="riskengine-import-") as scratch:
        base = Path(scratch)
        files: list[Path] = []
        for folder in folders:
            source, copy = root / folder, base / folder
            copy.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                for entry in source.iterdir():
                    if entry.suffix in YAML_SUFFIXES and entry.is_file() and \
                            not entry.name.startswith("."):
                        shutil.copyfile(entry, copy / entry.name)
        for rel, text in texts.items():
            (base / rel).write_text(text, encoding="utf-8")
        for folder in folders:
            files += sorted(p for p in (base / folder).iterdir() if p.suffix in YAML_SUFFIXES)
        try:
            # the project's own settings (its default tree and model) for files read from
            # the scratch folder, which lies in no project
            loaded = load_scenarios(files, catalogue, trees, None, project)
        except InputError as exc:
            raise InputError([_unscratch(p, base, root) for p in exc.problems]) from None
        out = {}
        for scenario in loaded:
            rel = absolute(scenario.source or "").relative_to(absolute(base)).as_posix()
            if rel in data:
                out[rel] = scenario
        return out


def _unscratch(problem: Problem, scratch: Path, root: Path) -> Problem:
    path = absolute(problem.path)
    with contextlib.suppress(ValueError):
        rel = path.relative_to(absolute(scratch))
        return dataclasses.replace(problem, path=display_path(root / rel))
    return problem


