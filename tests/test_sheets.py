"""``riskengine export`` / ``import``: spreadsheets in and out, round trips, located errors."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine import sheets
from riskengine.loading import load_scenarios
from riskengine.models import Scenario
from riskengine.problems import CODES
from riskengine.sheets import file_rows, yaml_text
from riskengine.yamlio import read_yaml

from .conftest import ROOT, Runner


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def scenarios_of(folder: Path) -> dict[str, Scenario]:
    # where each was read from is all that may differ between two copies of a project
    where = {"source": None, "project": None, "catalogue": None}
    return {s.key: s.model_copy(update=where) for s in load_scenarios(folder)}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped project (factors, models, scenarios)."""
    root = tmp_path_factory.mktemp("shipped")
    for name in ("factors", "models", "scenarios"):
        shutil.copytree(ROOT / name, root / name)
    return root


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_round_trip_of_the_shipped_scenarios(cli: Runner, shipped: Path, tmp_path: Path,
                                             suffix: str) -> None:
    sheet = tmp_path / f"estimates.{suffix}"
    done = cli("export", "scenarios", "-o", str(sheet), cwd=shipped)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"wrote {sheet} (11 scenarios, 67 estimates, 101 evidence")
    # into a copy: nothing was edited, so nothing is written and every byte stays
    before = snapshot(shipped / "scenarios")
    stamps = {p: p.stat().st_mtime_ns for p in (shipped / "scenarios").rglob("*.yaml")}
    done = cli("import", str(sheet), "--into", str(shipped))
    assert done.returncode == 0, done.stderr
    assert "wrote 0 file(s) (0 edited, 0 new), 11 unchanged" in done.stderr
    assert snapshot(shipped / "scenarios") == before
    assert {p: p.stat().st_mtime_ns for p in (shipped / "scenarios").rglob("*.yaml")} == stamps
    if suffix == "csv":
        return  # new files are written from the same rows whichever format held them
    # into a project without scenarios: every file is new, and loads to the same scenarios
    empty = tmp_path / "empty"
    for name in ("factors", "models"):
        shutil.copytree(shipped / name, empty / name)
    done = cli("import", str(sheet), "--into", str(empty))
    assert done.returncode == 0, done.stderr
    assert "wrote 11 file(s) (0 edited, 11 new), 0 unchanged" in done.stderr
    assert scenarios_of(empty / "scenarios") == scenarios_of(shipped / "scenarios")


def export_csv(cli: Runner, project: Path) -> list[list[str]]:
    done = cli("export", "scenarios", "-o", "sheet.csv", "-q", cwd=project)
    assert done.returncode == 0, done.stderr
    return list(csv.reader(io.StringIO((project / "sheet.csv").read_text(encoding="utf-8"))))


def save_csv(project: Path, rows: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    (project / "sheet.csv").write_text(out.getvalue(), encoding="utf-8")


def cell_of(rows: list[list[str]], table: str, factor: str | None, column: str
            ) -> tuple[int, int]:
    """(row index, column index) of a table row's cell, 0-based."""
    header = rows[0]
    for i, row in enumerate(rows):
        if row[0] == table and (factor is None or row[header.index("factor")] == factor):
            return i, header.index(column)
    raise KeyError((table, factor, column))


def test_an_edited_file_keeps_its_comments_and_others_stay_untouched(
        cli: Runner, project: Path) -> None:
    base = project / "scenarios/demo/base.yaml"
    base.write_text("# the base case: keep this comment\n" + base.read_text().replace(
        "    low: 2\n", "    low: 2  # from the 2025 survey\n"), encoding="utf-8")
    up_before = (project / "scenarios/demo/up.yaml").read_bytes()
    rows = export_csv(cli, project)
    i, j = cell_of(rows, "estimates", "r_b", "value")
    rows[i][j] = "5"
    save_csv(project, rows)
    done = cli("import", "sheet.csv", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "wrote 1 file(s) (1 edited, 0 new), 1 unchanged" in done.stderr
    text = base.read_text(encoding="utf-8")
    assert text.startswith("# the base case: keep this comment\n")
    assert "    low: 2  # from the 2025 survey\n" in text
    assert "r_b: {value: 5, confidence: low" in text
    assert (project / "scenarios/demo/up.yaml").read_bytes() == up_before
    assert scenarios_of(project / "scenarios")["demo/base"].estimate("r_b").mode == 5


def test_formula_like_text_and_17_digit_numbers_round_trip_through_xlsx(cli: Runner, project: Path
                                                            ) -> None:
    from openpyxl import load_workbook

    base = project / "scenarios/demo/base.yaml"
    base.write_text(base.read_text().replace(
        "source: Test source", "source: '=HYPERLINK(\"x\")'\n        note: \"'quoted\""
    ).replace("low: 2\n", "low: 2.0000000000000004\n"), encoding="utf-8")
    before = snapshot(project / "scenarios")
    assert cli("export", "scenarios", "-o", "s.xlsx", cwd=project).returncode == 0
    sheet = load_workbook(project / "s.xlsx")["evidence"]
    assert sheet["D2"].value == "'=HYPERLINK(\"x\")" and sheet["D2"].data_type == "s"
    assert sheet["H2"].value == "''quoted"
    done = cli("import", "s.xlsx", cwd=project)
    assert done.returncode == 0, done.stderr
    assert snapshot(project / "scenarios") == before


def test_python_api(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import riskengine as rk

    monkeypatch.chdir(project)
    book = rk.export_estimates("scenarios", "s.csv")
    assert isinstance(book, rk.Workbook)
    assert list(book.frames()["estimates"]["factor"]) == ["r_a", "r_b", "o_a", "o_b", "r_a",
                                                          "o_a"]
    result = rk.import_estimates("s.csv", check=True)
    assert isinstance(result, rk.ImportResult) and result.summary() == \
        "would write 0 file(s) (0 edited, 0 new), 2 unchanged"


@settings(max_examples=30)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"],
                                      blacklist_characters="\x00"), min_size=1, max_size=300))
def test_any_note_is_written_so_the_safe_reader_reads_it_back(text: str) -> None:
    data = {"id": "x", "title": "T", "factors": {"r_a": {"value": 1, "note": text}}}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "x.yaml")
        path.write_text(yaml_text(data), encoding="utf-8")
        assert read_yaml(path).data["factors"]["r_a"]["note"] == text


def test_rows_of_a_file_name_only_what_it_writes(shipped: Path) -> None:
    data = read_yaml(shipped / "scenarios/japan-turkey/budget-stall.yaml").data
    rows = file_rows("scenarios/japan-turkey/budget-stall.yaml", data, "japan-turkey")
    assert [r["factor"] for r in rows["estimates"]] == list(data["factors"])
    shift = next(r for r in rows["estimates"] if r["factor"] == "procurement_pipeline")
    assert (shift["shift"], shift["low"], shift["partnership"]) == (-1, None, "japan-turkey")
    assert rows["scenarios"][0]["partnership"] is None  # inherited, so not the file's


# ---------------------------------------------------------------------------------------------
# every RE9xx code: the exact message and where it points


def _set(column: str, value: str, table: str = "estimates", factor: str | None = "r_a"):
    def edit(rows: list[list[str]]) -> list[list[str]]:
        i, j = cell_of(rows, table, factor, column)
        rows[i][j] = value
        return rows
    return edit


def _rename(old: str, new: str):
    def edit(rows: list[list[str]]) -> list[list[str]]:
        rows[0][rows[0].index(old)] = new
        return rows
    return edit


def _evidence_for(factor: str):
    def edit(rows: list[list[str]]) -> list[list[str]]:
        i, j = cell_of(rows, "evidence", "r_a", "factor")
        rows[i][j] = factor
        return rows
    return edit


# (code, how the exported CSV is changed, the exact problem expected)
SHEET_CASES = [
    ("RE903", _rename("low", "lwo"),
     "sheet.csv:1:19: csv!S1: unknown column 'lwo' (did you mean 'low'?) [RE903]"),
    ("RE904", _set("low", "abc"),
     "sheet.csv:4:19: estimates!S4 (low): not a number 'abc' [RE904]"),
    ("RE904", _set("low", "nan"),
     "sheet.csv:4:19: estimates!S4 (low): not a number 'nan' [RE904]"),
    ("RE904", _set("low", "1e400"),
     "sheet.csv:4:19: estimates!S4 (low): not a finite number '1e400' [RE904]"),
    ("RE904", _set("distribution", "normal"),
     "sheet.csv:4:23: estimates!W4 (distribution): 'normal' is not one of pert, triangular, "
     "uniform [RE904]"),
    ("RE904", _set("date", "3 Sept 2025", "evidence"),
     "sheet.csv:10:28: evidence!AB10 (date): not a date (YYYY-MM-DD): '3 Sept 2025' [RE904]"),
    ("RE905", _set("low", "=1+1"),
     "sheet.csv:4:19: estimates!S4 (low): a formula ('=1+1'); type the value (or start the "
     "text with ') [RE905]"),
    ("RE906", _evidence_for("r_c"),
     "sheet.csv:10:17: evidence!Q10 (factor): no estimates row for r_c in "
     "scenarios/demo/base.yaml: evidence belongs to an estimate [RE906]"),
    ("RE906", _set("partnership", "other", "estimates"),
     "sheet.csv:4:4: estimates!D4 (partnership): 'other' is not the partnership of "
     "scenarios/demo/base.yaml ('demo'); change it in the scenarios sheet [RE906]"),
    ("RE907", _set("file", "scenarios/demo/../../../etc/base.yaml", "scenarios", None),
     "sheet.csv:2:2: scenarios!B2 (file): 'scenarios/demo/../../../etc/base.yaml' is not a "
     "plain relative path (no .., no leading /) [RE907]"),
]


def test_every_sheet_code_has_a_case() -> None:
    assert {code for code, _, _ in SHEET_CASES} | {"RE901", "RE902"} == \
        {c for c in CODES if c.startswith("RE9")}


@pytest.mark.parametrize(("code", "edit", "expected"), SHEET_CASES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(SHEET_CASES)])
def test_each_bad_cell_is_located(cli: Runner, project: Path, code: str, edit, expected: str
                                  ) -> None:
    rows = export_csv(cli, project)
    save_csv(project, edit(rows))
    before = snapshot(project / "scenarios")
    done = cli("import", "sheet.csv", cwd=project)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [expected]
    assert snapshot(project / "scenarios") == before


# ---------------------------------------------------------------------------------------------
# hostile sheets: one line each, exit 1, nothing written


def test_an_xlsx_that_is_not_a_zip(cli: Runner, project: Path) -> None:
    (project / "bad.xlsx").write_bytes(b"id,title\nnot,a workbook\n")
    done = cli("import", "bad.xlsx", cwd=project)
    assert (done.returncode, done.stderr) == (
        1, "bad.xlsx: not an xlsx workbook (not a zip archive) [RE901]\n")


def test_a_million_row_csv_stops_at_the_limit(cli: Runner, project: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    rows = export_csv(cli, project)
    header = ",".join(rows[0])
    filler = "signposts,x\n"
    (project / "sheet.csv").write_text(header + "\n" + filler * 1_000_000, encoding="utf-8")
    done = cli("import", "sheet.csv", cwd=project)
    assert (done.returncode, done.stderr) == (
        1, "sheet.csv: more than 500,000 lines [RE902]\n")
    # fewer lines, but more rows of one table than it may have (a lower limit, same path)
    monkeypatch.setattr(sheets, "MAX_ROWS", 1_000)
    (project / "sheet.csv").write_text(header + "\n" + filler * 1_001, encoding="utf-8")
    done = cli("import", "sheet.csv", cwd=project)
    assert (done.returncode, done.stderr) == (
        1, "sheet.csv:1002: signposts!1002: more than 1,000 rows of the signposts table "
        "[RE902]\n")


def test_an_xlsx_declaring_a_million_rows_is_refused_unread(cli: Runner, project: Path
                                                           ) -> None:
    assert cli("export", "scenarios", "-o", "s.xlsx", cwd=project).returncode == 0
    source = zipfile.ZipFile(project / "s.xlsx")
    with zipfile.ZipFile(project / "big.xlsx", "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet2.xml":  # estimates
                data = data.replace(b'<dimension ref="A1:M7" />',
                                    b'<dimension ref="A1:M1000001" />')
            target.writestr(item, data)
    done = cli("import", "big.xlsx", cwd=project)
    assert (done.returncode, done.stderr) == (
        1, "big.xlsx:1000001: estimates!1000001: more than 100,000 rows (1,000,000) [RE902]\n")


def test_a_formula_cell_in_a_workbook(cli: Runner, project: Path) -> None:
    from openpyxl import load_workbook

    assert cli("export", "scenarios", "-o", "s.xlsx", cwd=project).returncode == 0
    book = load_workbook(project / "s.xlsx")
    book["estimates"]["F2"] = "=1+1"
    book.save(project / "s.xlsx")
    done = cli("import", "s.xlsx", cwd=project)
    assert (done.returncode, done.stderr) == (
        1, "s.xlsx:2:6: estimates!F2 (low): a formula ('=1+1'); type the value (or start the "
        "text with ') [RE905]\n")


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("scenario", "../../etc/x",
     "sheet.csv:2:2: scenarios!B2 (file): 'scenarios/demo/base.yaml' does not match the "
     "scenario id '../../etc/x' (the file is <id>.yaml) [RE907]"),
    ("file", "/etc/x.yaml",
     "sheet.csv:2:2: scenarios!B2 (file): '/etc/x.yaml' is not a plain relative path (no .., "
     "no leading /) [RE907]"),
    ("file", "factors/r_a.yaml",
     "sheet.csv:2:2: scenarios!B2 (file): 'factors/r_a.yaml' is not a file inside a "
     "partnership folder of scenarios/ (e.g. scenarios/<partnership>/<id>.yaml) [RE907]"),
])
def test_paths_that_would_leave_the_project(cli: Runner, project: Path, column: str,
                                            value: str, expected: str) -> None:
    rows = export_csv(cli, project)
    i, j = cell_of(rows, "scenarios", None, column)
    rows[i][j] = value
    save_csv(project, rows)
    done = cli("import", "sheet.csv", cwd=project)
    assert done.returncode == 1
    assert expected in done.stderr.splitlines()


def test_a_partnership_that_is_not_a_slug_is_the_loaders_error(cli: Runner, project: Path
                                                               ) -> None:
    rows = export_csv(cli, project)
    i, j = cell_of(rows, "scenarios", None, "partnership")
    rows[i][j] = "a/b"
    save_csv(project, rows)
    before = snapshot(project)
    done = cli("import", "sheet.csv", cwd=project)
    assert done.returncode == 1
    # the loader's finding, once: the child extending the broken parent does not repeat it
    assert done.stderr.splitlines() == [
        "scenarios/demo/base.yaml:3:1: partnership: String should match pattern "
        "'^[a-z0-9][a-z0-9-]*$' (got 'a/b') [RE102]"]
    assert snapshot(project) == before


def test_a_huge_but_finite_number_is_outside_the_scale(cli: Runner, project: Path) -> None:
    rows = export_csv(cli, project)
    i, j = cell_of(rows, "estimates", "r_a", "high")
    rows[i][j] = "1e300"
    save_csv(project, rows)
    done = cli("import", "sheet.csv", cwd=project)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "scenarios/demo/base.yaml:11:5: factors.r_a.high: high 1e+300 is outside the scale "
        "0..10 (score) [RE302]",
        "scenarios/demo/up.yaml:6:9: factors.r_a.shift: shift -2 moves high to 1e+300, outside "
        "the scale 0..10 [RE403]"]


def test_usage_errors_exit_2(cli: Runner, project: Path) -> None:
    done = cli("export", "scenarios", "-o", "s.txt", cwd=project)
    assert (done.returncode, done.stderr) == (
        2, "riskengine export: error: s.txt: give a .xlsx or .csv file name\n")
    assert not (project / "s.txt").exists()
    done = cli("import", "missing.csv", cwd=project)
    assert (done.returncode, done.stderr) == (
        2, "riskengine import: error: no such file or folder: missing.csv\n")


def test_import_into_a_folder_that_is_no_project(
        cli: Runner, project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    export_csv(cli, project)
    nowhere = tmp_path_factory.mktemp("nowhere")
    done = cli("import", str(project / "sheet.csv"), "--into", str(nowhere), cwd=nowhere)
    assert done.returncode == 2
    assert done.stderr.startswith("riskengine import: error: --into ")
    assert done.stderr.endswith(": no project here (no riskengine.toml, and no factors/ folder "
                                "at or above it)\n")


def test_a_workbook_without_one_of_its_sheets(cli: Runner, project: Path) -> None:
    from openpyxl import load_workbook

    assert cli("export", "scenarios", "-o", "s.xlsx", cwd=project).returncode == 0
    book = load_workbook(project / "s.xlsx")
    del book["signposts"]
    book.save(project / "s.xlsx")
    done = cli("import", "s.xlsx", cwd=project)
    assert (done.returncode, done.stderr) == (
        1, "s.xlsx: no sheet named signposts (sheets: scenarios, estimates, evidence, "
        "correlations) [RE901]\n")


def test_a_symlinked_folder_cannot_carry_a_file_out_of_the_project(
        cli: Runner, project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (project / "scenarios/evil").symlink_to(outside, target_is_directory=True)
    export_csv(cli, project)
    sheet = project / "sheet.csv"
    sheet.write_text(sheet.read_text().replace("scenarios/demo/", "scenarios/evil/"),
                     encoding="utf-8")
    done = cli("import", "sheet.csv", cwd=project)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "sheet.csv:2:2: scenarios!B2 (file): 'scenarios/evil/base.yaml' leads outside "
        "scenarios (through a symlink) [RE907]")
    assert not any(outside.iterdir())


def test_added_evidence_and_reordered_estimates_follow_the_sheet(cli: Runner, project: Path
                                                                 ) -> None:
    base = project / "scenarios/demo/base.yaml"
    base.write_text(base.read_text().replace("    low: 2\n", "    low: 2  # survey\n"),
                    encoding="utf-8")
    rows = export_csv(cli, project)
    i, _ = cell_of(rows, "evidence", "r_a", "source")
    added = list(rows[i])
    added[rows[0].index("source")] = "Second source"
    rows.insert(i + 1, added)
    first, _ = cell_of(rows, "estimates", "r_a", "low")
    last, _ = cell_of(rows, "estimates", "o_b", "low")
    rows.insert(first, rows.pop(last))  # o_b's row now comes first
    save_csv(project, rows)
    done = cli("import", "sheet.csv", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "    low: 2  # survey\n" in base.read_text(encoding="utf-8")
    scenario = scenarios_of(project / "scenarios")["demo/base"]
    assert [e.factor.id for e in scenario.estimates] == ["o_b", "r_a", "r_b", "o_a"]
    assert [e.source for e in scenario.estimate("r_a").evidence] == ["Test source",
                                                                       "Second source"]
    # and it now exports the rows that were imported (evidence grouped by estimate)
    assert sorted(export_csv(cli, project)) == sorted(rows)


def test_a_configured_project_keeps_its_scenarios_where_its_config_says(
        cli: Runner, project: Path) -> None:
    (project / "scenarios").rename(project / "cases")
    (project / "riskengine.toml").write_text('scenarios = "cases"\n', encoding="utf-8")
    done = cli("export", "cases", "-o", "sheet.csv", "-q", cwd=project)
    assert done.returncode == 0, done.stderr
    text = (project / "sheet.csv").read_text(encoding="utf-8")
    assert "cases/demo/base.yaml" in text
    before = snapshot(project / "cases")
    done = cli("import", "sheet.csv", "--into", "cases/demo", cwd=project)
    assert done.returncode == 0, done.stderr
    assert snapshot(project / "cases") == before
    (project / "sheet.csv").write_text(
        text.replace("cases/demo/up.yaml", "scenarios/demo/up.yaml"), encoding="utf-8")
    done = cli("import", "sheet.csv", cwd=project)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "sheet.csv:3:2: scenarios!B3 (file): 'scenarios/demo/up.yaml' is not a file inside a "
        "partnership folder of cases/ (e.g. cases/<partnership>/<id>.yaml) [RE907]"]


def test_one_sheet_holds_one_project(cli: Runner, project: Path, shipped: Path) -> None:
    done = cli("export", "scenarios", str(shipped / "scenarios/japan-uk"), "-o", "s.csv",
               cwd=project)
    assert done.returncode == 2
    assert done.stderr.startswith("riskengine export: error: the paths lie in 2 projects (")
    assert not (project / "s.csv").exists()
