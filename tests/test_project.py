"""Projects: config and discovery, ``init`` and ``new scenario``, several catalogues at once."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from riskengine.loading import load_project_scenarios
from riskengine.problems import InputError
from riskengine.project import find_project

from .conftest import ROOT, Runner, factor_yaml, write


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


# ---------------------------------------------------------------------------------------------
# discovery


def test_the_nearest_project_wins_and_a_config_beats_the_plain_layout(project: Path) -> None:
    inner = project / "examples/inner"
    shutil.copytree(project / "factors", inner / "factors")
    shutil.copytree(project / "scenarios", inner / "scenarios")
    assert find_project(inner / "scenarios/demo/base.yaml").root == inner
    assert find_project(project / "scenarios/demo").root == project
    assert find_project(project / "scenarios/demo").config_path is None
    write(project / "riskengine.toml", 'factors = "catalogue"\n')
    (project / "factors").rename(project / "catalogue")
    found = find_project(project / "scenarios/demo/base.yaml")
    assert found.config_path == project / "riskengine.toml"
    assert found.factors_dir == project / "catalogue"
    assert [s.key for s in load_project_scenarios(project / "scenarios").scenarios] == [
        "demo/base", "demo/up"]


def test_pyproject_tool_table_marks_a_project(project: Path, tmp_path: Path) -> None:
    write(project / "pyproject.toml", '[project]\nname = "x"\n[tool.riskengine]\n'
          'scenarios = "cases"\n[tool.riskengine.validate]\nignore = ["RE605"]\n')
    found = find_project(project / "factors")
    assert found.config_path == project / "pyproject.toml"
    assert found.scenarios_dir == project / "cases"
    assert found.config.validate_.ignore == ["RE605"]


def test_a_project_inside_a_folder_named_factors_keeps_its_scenarios(
        project: Path, tmp_path: Path, cli: Runner) -> None:
    # the trap: walking up to *any* folder named factors read scenarios as factors
    nested = tmp_path / "work/factors/client"
    shutil.copytree(project / "factors", nested / "factors")
    shutil.copytree(project / "scenarios", nested / "scenarios")
    write(nested / "riskengine.toml", "")
    result = cli("validate", cwd=nested)
    assert result.returncode == 0, result.stderr + result.stdout
    run = cli("run", "scenarios/demo/base.yaml", "--format", "json", cwd=nested)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)[0]["catalogue"] == "factors"


@pytest.mark.parametrize(("text", "expected"), [
    ("factors = \"/etc\"\n", "riskengine.toml:1:1: factors: '/etc' lies outside the project "
                             "folder . [RE802]"),
    ("scenarios = \"../../..\"\n", "riskengine.toml:1:1: scenarios: '../../..' lies outside "
                                   "the project folder . [RE802]"),
    ("factors = [\n", "riskengine.toml:2:1: not valid TOML: Invalid value [RE803]"),
    ("factor = \"f\"\n", "riskengine.toml:1:1: factor: unknown key [RE101]"),
    ("[validate]\nselect = [\"RE9999\"]\n", "riskengine.toml:2:1: validate.select.0: String "
                                            "should match pattern"),
    ("tree = \"../x\"\n", "riskengine.toml:1:1: tree: String should match pattern"),
])
def test_a_hostile_or_broken_config_is_one_located_line(
        project: Path, cli: Runner, text: str, expected: str) -> None:
    write(project / "riskengine.toml", text)
    before = files_under(project)
    for args in (("validate",), ("run", "scenarios/demo")):
        result = cli(*args, cwd=project)
        assert result.returncode == 1, result.stderr
        lines = [line for line in (result.stdout + result.stderr).splitlines()
                 if "riskengine.toml" in line and "[RE" in line]
        assert any(line.strip().startswith(expected.split(" [")[0][:60]) for line in lines), \
            result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    assert files_under(project) == before


def test_a_huge_or_binary_config_is_refused(project: Path, cli: Runner) -> None:
    (project / "riskengine.toml").write_bytes(b"# " + b"x" * 200_000)
    result = cli("run", "scenarios/demo", cwd=project)
    assert result.returncode == 1
    assert "riskengine.toml: config file larger than 100,000 bytes [RE002]" in result.stderr
    (project / "riskengine.toml").write_bytes(b"tree = \"\xff\"\n")
    result = cli("run", "scenarios/demo", cwd=project)
    assert result.returncode == 1 and "riskengine.toml: cannot read" in result.stderr


# ---------------------------------------------------------------------------------------------
# settings


def test_config_defaults_fill_what_a_scenario_leaves_unsaid(project: Path, cli: Runner) -> None:
    write(project / "riskengine.toml", "[model]\nbands = { stable = 90, fragile = 80 }\n")
    result = cli("run", "scenarios/demo/base.yaml", "--format", "json", cwd=project)
    record = json.loads(result.stdout)[0]
    assert record["band"] == "unstable"  # S is far below the project's 80
    write(project / "models/flat.yaml", """
        id: flat
        name: Flat
        description: Every factor alike.
        root:
          id: top
          children: [{factor: r_a}, {factor: r_b}, {factor: o_a}, {factor: o_b}]
        """)
    write(project / "riskengine.toml", 'tree = "flat"\n')
    assert json.loads(cli("run", "scenarios/demo/base.yaml", "--format", "json",
                          cwd=project).stdout)[0]["tree"]["id"] == "flat"
    # --tree still overrides, and "default" means MODEL.md's formula
    assert json.loads(cli("run", "scenarios/demo/base.yaml", "--format", "json", "--tree",
                          "default", cwd=project).stdout)[0]["tree"]["id"] == "default"
    write(project / "riskengine.toml", 'tree = "flta"\n')
    result = cli("run", "scenarios/demo/base.yaml", cwd=project)
    assert result.returncode == 1
    assert "riskengine.toml: tree: unknown tree 'flta': no flta.yaml in models (did you " \
           "mean 'flat'?) [RE706]" in result.stderr


def test_validate_takes_its_settings_from_the_config_and_flags_override(
        project: Path, cli: Runner) -> None:
    assert {"RE601", "RE605"} <= set(_codes(cli("validate", "--format", "json", cwd=project)))
    write(project / "riskengine.toml", '[validate]\nignore = ["RE605"]\nmax-evidence-age = 1\n')
    codes = _codes(cli("validate", "--format", "json", cwd=project))
    assert "RE605" not in codes and "RE602" in codes
    codes = _codes(cli("validate", "--format", "json", "--ignore", "RE602", cwd=project))
    assert "RE605" in codes and "RE602" not in codes
    codes = _codes(cli("validate", "--format", "json", "--max-evidence-age", "100000",
                       cwd=project))
    assert "RE602" not in codes


def _codes(result: object) -> list[str]:
    return [p["code"] for p in json.loads(result.stdout)["problems"]]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# several catalogues


def second_project(root: Path) -> Path:
    """A project whose catalogue differs from the fixture's: r_a on a 0–100 scale."""
    write(root / "riskengine.toml", "")
    write(root / "factors/r_a.yaml", factor_yaml("r_a", "risk", 3, 0, 100))
    write(root / "factors/o_a.yaml", factor_yaml("o_a", "opportunity", 1))
    write(root / "scenarios/other/base.yaml", """
        id: base
        title: Other base
        partnership: other
        factors:
          r_a: {value: 50, confidence: low, evidence: [{source: S, date: 2025-01-01}]}
          o_a: {value: 5, confidence: low, evidence: [{source: S, date: 2025-01-01}]}
        """)
    return root


def test_each_scenario_is_scored_with_its_own_projects_catalogue(
        project: Path, tmp_path: Path, cli: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    other = second_project(tmp_path / "other")
    monkeypatch.chdir(tmp_path)
    loaded = load_project_scenarios([project / "scenarios", other / "scenarios"])
    assert [g.project.root for g in loaded.groups] == [project, other]
    by_key = {s.key: s for s in loaded.scenarios}
    # 50 on other's 0–100 scale is 0.5; the fixture's r_a would reject 50 (scale 0–10)
    assert by_key["other/base"].estimate("r_a").factor.scale.max == 100
    assert by_key["demo/base"].estimate("r_a").factor.scale.max == 10
    assert by_key["other/base"].catalogue == "other/factors"
    assert loaded.catalogue_of(by_key["demo/base"]).root == project / "factors"
    result = cli("run", str(project / "scenarios"), "other/scenarios", "--format", "json",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(r["partnership"], r["catalogue"]) for r in json.loads(result.stdout)] == [
        ("demo", "factors"), ("demo", "factors"), ("other", "other/factors")]
    compared = cli("compare", str(project / "scenarios"), "other/scenarios", "--format", "json",
                   "--simulate", "200", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    # --factors still scores everything with one catalogue: other's r_a = 50 is then off-scale
    forced = cli("run", "other/scenarios", "--factors", str(project / "factors"), cwd=tmp_path)
    assert forced.returncode == 1 and "[RE302]" in forced.stderr


def test_one_key_in_two_projects_is_one_clear_error(project: Path, tmp_path: Path,
                                                     cli: Runner) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(project / "factors", twin / "factors")
    shutil.copytree(project / "scenarios", twin / "scenarios")
    result = cli("compare", "scenarios", str(twin / "scenarios"), cwd=project)
    assert result.returncode == 1
    assert "scenario demo/base is also defined in scenarios/demo/base.yaml (project .)" \
        in result.stderr
    with pytest.raises(InputError):
        load_project_scenarios([project / "scenarios", twin / "scenarios"])


def test_validate_checks_each_project_against_its_own_catalogue(
        project: Path, tmp_path: Path, cli: Runner) -> None:
    other = second_project(tmp_path / "other")
    result = cli("validate", "--format", "json", str(project), str(other), cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["errors"] == 0


# ---------------------------------------------------------------------------------------------
# init and new scenario


def test_init_makes_a_project_that_validates_and_runs_at_once(tmp_path: Path,
                                                               cli: Runner) -> None:
    result = cli("init", "kp", "--partnership", "korea-poland", "--parties", "South Korea",
                 "Poland", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "kp"
    made = files_under(root)
    assert {"riskengine.toml", "README.md", "scenarios/korea-poland/baseline.yaml",
            "schemas/scenario.schema.json", "models/pillars.yaml"} <= set(made)
    assert {f"factors/{p.name}" for p in (ROOT / "factors").glob("*.yaml")} <= set(made)
    tomllib.loads(made["riskengine.toml"].decode())  # the config is valid TOML
    checked = cli("validate", "--format", "json", cwd=root)
    assert checked.returncode == 0 and json.loads(checked.stdout)["errors"] == 0
    run = cli("run", "scenarios/korea-poland", "--format", "json", cwd=root)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)[0]["stability"] == pytest.approx(50.0)
    assert cli("new", "scenario", "k2-delay", cwd=root).returncode == 0
    variant = root / "scenarios/korea-poland/k2-delay.yaml"
    assert "extends: baseline" in variant.read_text()
    checked = cli("validate", "--format", "json", cwd=root)
    assert checked.returncode == 0, checked.stdout
    # the new project compares with the shipped partnerships, each on its own catalogue
    compared = cli("compare", str(root / "scenarios"), str(ROOT / "scenarios"), "--format",
                   "json", "--simulate", "200", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr


def test_init_minimal_catalogue(tmp_path: Path, cli: Runner) -> None:
    assert cli("init", "m", "--catalogue", "minimal", cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in (tmp_path / "m/factors").iterdir()) == [
        "partner_alignment_gap.yaml", "procurement_demand.yaml"]
    assert cli("run", "scenarios", cwd=tmp_path / "m").returncode == 0


@pytest.mark.parametrize(("args", "message"), [
    (("init", "taken"), "taken is not empty; give a new or empty folder"),
    (("init", "fresh", "--partnership", "../../etc"), "partnership '../../etc' must match"),
    (("init", "fresh", "--partnership", "x" * 500), "partnership 'xxxx"),
    (("init", "fresh", "--parties", "A\x1b[31m", "B"), "party name"),
    (("init", "no/such/parent/x"), "folder no/such/parent does not exist"),
    (("init", "afile"), "afile exists and is not a folder"),
])
def test_init_refuses_without_writing(tmp_path: Path, cli: Runner, args: tuple[str, ...],
                                      message: str) -> None:
    write(tmp_path / "taken/keep.txt", "mine")
    write(tmp_path / "afile", "mine")
    before = files_under(tmp_path)
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert files_under(tmp_path) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".riskengine-init")]


@pytest.mark.parametrize(("args", "message"), [
    (("new", "scenario", "../../etc/x"), "scenario name '../../etc/x' must match"),
    (("new", "scenario", "up"), "scenarios/demo/up.yaml already exists"),
    (("new", "scenario", "later", "--extends", "nope"), "--extends nope: no scenario 'nope'"),
    (("new", "scenario", "later", "--partnership", "A/B"), "partnership 'A/B' must match"),
    (("new", "scenario", "x" * 100), "scenario name 'xxx"),
])
def test_new_scenario_refuses_without_writing(project: Path, cli: Runner,
                                              args: tuple[str, ...], message: str) -> None:
    before = files_under(project)
    result = cli(*args, cwd=project)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert files_under(project) == before


def test_new_standalone_scenario_and_the_partnership_rule(project: Path, tmp_path: Path,
                                                          cli: Runner) -> None:
    assert cli("new", "scenario", "fresh", "--extends", "", cwd=project).returncode == 0
    text = (project / "scenarios/demo/fresh.yaml").read_text()
    assert "partnership: demo" in text and "extends" not in text
    (project / "scenarios/second").mkdir()
    result = cli("new", "scenario", "another", cwd=project)
    assert result.returncode == 2 and "give --partnership: the project has demo, second" \
        in result.stderr


def test_wheel_carries_the_shipped_catalogue() -> None:
    """`init` in an installed riskengine copies package data mapped from factors/ and models/;
    the mapping must name folders that exist and hold what a checkout would copy."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for kind in ("factors", "models"):
        package = f"riskengine.shipped_{kind}"
        assert package in config["packages"]
        assert config["package-dir"][package] == kind and (ROOT / kind).is_dir()
        assert config["package-data"][package] == ["*.yaml"]


def test_a_new_project_end_to_end(tmp_path: Path, cli: Runner) -> None:
    """The README's path from an empty folder: init, edit, validate, run, compare with the
    shipped partnerships, report and diff, through the real command."""
    assert cli("init", "kp", "--partnership", "korea-poland", cwd=tmp_path).returncode == 0
    root = tmp_path / "kp"
    before = tmp_path / "kp-before"
    shutil.copytree(root, before)
    baseline = root / "scenarios/korea-poland/baseline.yaml"
    text = baseline.read_text()
    edited = text.replace("  russia_balancing:\n    low: 0\n    mode: 5\n    high: 10\n"
                          "    distribution: uniform\n    confidence: low\n    evidence: []",
                          "  russia_balancing:\n    low: 0\n    mode: 1\n    high: 2\n"
                          "    distribution: pert\n    confidence: medium\n    evidence:\n"
                          "      - {source: UNGA resolution ES-11/1 vote record, date: "
                          "2022-03-02}")
    assert edited != text
    baseline.write_text(edited)
    assert cli("new", "scenario", "k2-delay", cwd=root).returncode == 0
    assert cli("validate", cwd=root).returncode == 0
    run = cli("run", "scenarios/korea-poland", "--format", "json", cwd=root)
    assert run.returncode == 0, run.stderr
    scores = {r["scenario"]: r["stability"] for r in json.loads(run.stdout)}
    assert scores["baseline"] > 50  # less Russia balancing than the placeholder's midpoint
    compared = cli("compare", "kp/scenarios", str(ROOT / "scenarios"), "--format", "csv",
                   "--simulate", "200", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    assert "korea-poland" in compared.stdout and "japan-turkey" in compared.stdout
    report = cli("report", "scenarios", "-o", "report.html", "--simulate", "200",
                 "--sobol-n", "64", cwd=root)
    assert report.returncode == 0, report.stderr
    html = (root / "report.html").read_text()
    assert "korea-poland" in html and "catalogue: factors" in html
    both = cli("report", "kp/scenarios", str(ROOT / "scenarios/japan-uk"), "-o", "both.html",
               "--simulate", "200", "--sobol-n", "64", cwd=tmp_path)
    assert both.returncode == 0, both.stderr
    html = (tmp_path / "both.html").read_text()
    assert "catalogue: kp/factors" in html and f"catalogue: {ROOT / 'factors'}" in html
    diff = cli("diff", str(before), str(root), "--format", "json", cwd=tmp_path)
    assert diff.returncode == 0, diff.stderr
    assert "korea-poland/baseline" in diff.stdout


def test_init_in_the_empty_working_folder_keeps_the_folder(tmp_path: Path, cli: Runner) -> None:
    """`riskengine init` with no DIR fills the working folder: the folder itself stays (a
    shell sitting in it must not be left in a deleted directory), and the project works."""
    here = tmp_path / "empty"
    here.mkdir()
    inode = here.stat().st_ino
    result = cli("init", "-q", cwd=here)
    assert result.returncode == 0, result.stderr
    assert here.stat().st_ino == inode
    assert (here / "riskengine.toml").is_file()
    assert not [p for p in here.iterdir() if p.name.startswith(".riskengine-init")]
    assert cli("run", "scenarios", cwd=here).returncode == 0


def test_validate_in_a_project_with_only_a_broken_config(tmp_path: Path, cli: Runner) -> None:
    write(tmp_path / "riskengine.toml", 'factors = "factors"\nfactors = "x"\n')
    result = cli("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert "riskengine.toml:2:14: not valid TOML: Cannot overwrite a value [RE803]" \
        in result.stdout


def test_a_project_root_given_to_run_and_compare_stands_for_its_scenarios(
        project: Path, tmp_path: Path, cli: Runner) -> None:
    # the root holds factor (and tree) files too: read as scenarios, each was a finding
    for command in ("run", "compare", "outlook"):
        by_root = cli(command, str(project), "--format", "json")
        by_folder = cli(command, str(project / "scenarios"), "--format", "json")
        assert by_root.returncode == 0, by_root.stderr
        assert by_root.stdout == by_folder.stdout
    # a config naming another scenarios folder is followed
    moved = tmp_path / "moved"
    shutil.copytree(project, moved)
    (moved / "scenarios").rename(moved / "cases")
    write(moved / "riskengine.toml", 'scenarios = "cases"\n')
    result = cli("run", str(moved), "--format", "json")
    assert result.returncode == 0, result.stderr

    def scores(text: str) -> list[tuple[str, float]]:
        return [(r["scenario"], r["stability"]) for r in json.loads(text)]

    expected = scores(cli("run", str(project / "scenarios"), "--format", "json").stdout)
    assert scores(result.stdout) == expected and expected
    # a folder below the root is taken as it is
    assert cli("run", str(project / "scenarios" / "demo"), "--format", "json").stdout == \
        cli("run", str(project / "scenarios"), "--format", "json").stdout


def test_a_project_root_with_a_broken_config_is_one_located_line(project: Path,
                                                                 cli: Runner) -> None:
    write(project / "riskengine.toml", 'scenarios = "../../etc"\n')
    result = cli("run", str(project))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{project}/riskengine.toml:1:1: scenarios: '../../etc' lies outside the project "
        f"folder {project} [RE802]"]
