"""Issue 11 (hardening), the model side: every rule the engine relies on is checked where the
file is loaded, with a located error, by `validate` and by every command alike; the resolved
models refuse invalid objects built through the API; numbers and flags have stated limits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import riskengine as rk
from riskengine.cli import main
from riskengine.models import Estimate, Scenario

from .conftest import write

BASE = "scenarios/demo/base.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def here(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    return project


# ---------------------------------------------------------------------------------------------
# item 6: one partnership in two folders, with crossed `extends`, looped forever in compare


def crossed(project: Path) -> None:
    """scenarios/demo2 holds partnership demo too: its base extends its up, while demo's up
    extends demo's base; by id alone the two files name each other."""
    write(project / "scenarios/demo2/up.yaml",
          (project / BASE).read_text().replace("id: base", "id: up"))
    write(project / "scenarios/demo2/base.yaml",
          "id: base\ntitle: B\nextends: up\nprobability: 0.25\n")


CROSSED = ("scenarios/demo2/base.yaml:1:1: id: partnership 'demo' is also used in "
           "scenarios/demo (scenarios/demo/up.yaml); one partnership's scenarios belong in one "
           "folder [RE502]")


@pytest.mark.parametrize("command", [["compare"], ["report", "-o", "out.html"]])
def test_one_partnership_in_two_folders_is_an_error_not_a_loop(
        here: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    crossed(here)
    code, _, err = run(capsys, *command, "scenarios/demo/up.yaml", "scenarios/demo2/base.yaml",
                       "--simulate", "100")
    assert (code, err.splitlines()) == (1, [CROSSED])
    assert not (here / "out.html").exists()


def test_validate_applies_the_same_folder_rule(here: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    crossed(here)
    (here / "scenarios/demo2/up.yaml").unlink()
    write(here / "scenarios/demo2/other.yaml",
          (here / BASE).read_text().replace("id: base", "id: other"))
    write(here / "scenarios/demo2/base.yaml", "id: b2\ntitle: B\nextends: other\n")
    (here / "scenarios/demo2/base.yaml").rename(here / "scenarios/demo2/b2.yaml")
    code, out, _ = run(capsys, "validate", "scenarios", "--format", "json", "-q")
    problems = [(p["path"], p["line"], p["code"], p["message"])
                for p in json.loads(out)["problems"] if p["code"] == "RE502"]
    assert code == 1
    assert problems == [("scenarios/demo2/b2.yaml", 1, "RE502", "partnership 'demo' is also "
                         "used in scenarios/demo (scenarios/demo/base.yaml); one partnership's "
                         "scenarios belong in one folder")]


def test_reference_of_stops_on_scenarios_naming_each_other(here: Path) -> None:
    from riskengine.compare import reference_of

    crossed(here)
    catalogue = rk.load_catalogue(here / "factors")
    up = rk.load_scenario(here / "scenarios/demo/up.yaml", catalogue)
    base2 = rk.load_scenario(here / "scenarios/demo2/base.yaml", catalogue)
    assert reference_of(up, [up, base2]) is not None


# ---------------------------------------------------------------------------------------------
# item 14: a partnership/id in two folders; correlations no distribution has


def test_one_key_in_two_folders_names_both_files(here: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    write(here / "scenarios/copy/base.yaml", (here / BASE).read_text())
    expected = ("scenarios/demo/base.yaml:1:1: id: scenario demo/base is also defined in "
                "scenarios/copy/base.yaml [RE202]")
    code, _, _ = run(capsys, "validate", "scenarios", "--format", "text", "-q", "-o",
                     "found.txt")
    assert code == 1 and expected in (here / "found.txt").read_text().splitlines()
    # diff used to keep one of the two silently
    code, _, err = run(capsys, "diff", "scenarios", "scenarios")
    assert code == 1 and expected in err.splitlines()


NOT_PD = ("scenarios/demo/base.yaml:21:1: correlations: the stated correlations are "
          "inconsistent: no joint distribution has them all (their matrix is not positive "
          "definite); weaken some [RE102]")


def with_correlations(project: Path) -> None:
    text = (project / BASE).read_text()
    write(project / BASE, text + "correlations:\n"
          "  - {factors: [r_a, r_b], rho: 0.9}\n"
          "  - {factors: [r_a, o_a], rho: 0.9}\n"
          "  - {factors: [r_b, o_a], rho: -0.9}\n")


@pytest.mark.parametrize("command", [["validate", BASE], ["run", BASE],
                                     ["run", BASE, "--simulate", "100"],
                                     ["outlook", "scenarios/demo"]])
def test_inconsistent_correlations_are_found_at_their_key_by_every_command(
        here: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    with_correlations(here)
    code, out, err = run(capsys, *command, "-q")
    assert code == 1
    assert NOT_PD in [line.strip() for line in (out + err).splitlines()]


def test_a_correlation_given_twice_is_an_error(here: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    text = (here / BASE).read_text()
    write(here / BASE, text + "correlations:\n  - {factors: [r_a, r_b], rho: 0.3}\n"
          "  - {factors: [r_b, r_a], rho: 0.5}\n")
    code, _, err = run(capsys, "run", BASE)
    assert (code, err.splitlines()) == (1, [
        "scenarios/demo/base.yaml:23:6: correlations[1].factors: the correlation of r_b and "
        "r_a is already given in correlations[0] [RE102]"])


# ---------------------------------------------------------------------------------------------
# item 15: the folder name as partnership


@pytest.mark.parametrize("folder", ['a"b\n# x', "$x$", "Demo", "<b>"])
def test_a_folder_name_that_is_no_slug_needs_a_partnership_key(
        here: Path, capsys: pytest.CaptureFixture[str], folder: str) -> None:
    text = (here / BASE).read_text().replace("partnership: demo\n", "")
    path = write(here / "scenarios" / folder / "base.yaml", text)
    code, _, err = run(capsys, "run", str(path), "--format", "json")
    shown = f"scenarios/{folder}/base.yaml".replace("\n", "\\n")  # printed on one line
    assert (code, err) == (1, f"{shown}:1:1: partnership: the folder name {folder!r} is not a "
                           "partnership slug (lowercase letters, digits, -); set `partnership:` "
                           "in the file [RE102]\n")


# ---------------------------------------------------------------------------------------------
# item 7: `extends` names a scenario of the same folder, nothing else


@pytest.mark.parametrize(("extends", "message"), [
    ("../other/base", "String should match pattern '^[a-z0-9][a-z0-9_-]*$' (got "
                      "'../other/base')"),
    ("/etc/passwd", "String should match pattern '^[a-z0-9][a-z0-9_-]*$' (got '/etc/passwd')"),
    ("base.yaml", "String should match pattern '^[a-z0-9][a-z0-9_-]*$' (got 'base.yaml')"),
    ("a" * 300, f"String should have at most 128 characters (got {'a' * 300!r})"),
])
def test_extends_is_a_scenario_id(here: Path, capsys: pytest.CaptureFixture[str],
                                  extends: str, message: str) -> None:
    write(here / "scenarios/demo/up.yaml", f"id: up\ntitle: Up\nextends: {extends}\n")
    code, _, err = run(capsys, "run", "scenarios/demo/up.yaml")
    assert (code, err) == (1, f"scenarios/demo/up.yaml:3:1: extends: {message} [RE102]\n")


def test_a_long_id_is_a_field_error(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(here / "scenarios/demo/up.yaml", f"id: {'u' * 300}\ntitle: Up\n")
    code, out, _ = run(capsys, "validate", "scenarios/demo/up.yaml", "--format", "json", "-q")
    assert code == 1 and "String should have at most 128 characters" in out


# ---------------------------------------------------------------------------------------------
# item 16: the resolved models validate themselves


def test_resolved_models_refuse_what_would_score_as_nan(here: Path) -> None:
    catalogue = rk.load_catalogue(here / "factors")
    base = rk.load_scenario(here / BASE, catalogue)
    est = base.estimate("r_a")
    fields = est.model_dump()
    fields["factor"] = est.factor
    cases: list[tuple[dict[str, Any], str]] = [
        ({"low": 8.0, "mode": 4.0, "high": 2.0}, "must satisfy low <= mode <= high"),
        ({"high": 11.0}, "high 11 is outside the scale 0..10"),
        ({"fixed": True}, "a fixed estimate needs low == mode == high"),
        ({"distribution": "uniform", "low": 3.0, "mode": 3.0, "high": 3.0},
         "a uniform estimate needs low < high"),
        ({"weight": float("inf")}, "finite number"),
        ({"low": float("nan")}, "finite number")]
    for change, message in cases:
        with pytest.raises(ValidationError, match=message):
            Estimate(**{**fields, **change, "evidence": est.evidence})
    weightless = tuple(e.model_copy(update={"weight": 0.0}) if e.factor.kind == "risk" else e
                       for e in base.estimates)
    header = base.model_dump(exclude={"estimates", "correlations", "model"})
    with pytest.raises(ValidationError, match="risk factors' weights sum to 0"):
        Scenario(**header, model=base.model, estimates=weightless)
    only_risks = tuple(e for e in base.estimates if e.factor.kind == "risk")
    with pytest.raises(ValidationError, match="uses no opportunity factor"):
        Scenario(**header, model=base.model, estimates=only_risks)
    with pytest.raises(ValidationError, match="partnership 'a\"b' must be a slug"):
        Scenario(**{**header, "partnership": 'a"b'}, model=base.model, estimates=base.estimates)
    assert rk.score(base).stability == rk.score(Scenario(
        **header, model=base.model, estimates=base.estimates)).stability


# ---------------------------------------------------------------------------------------------
# item 9: numbers in files and on the command line


@pytest.mark.parametrize(("scale", "weight", "line", "message"), [
    ("{min: 0, max: 1e-310, unit: u}", "1", "6:1: scale", "scale 0..1e-310 is too narrow to "
     "tell values apart: max - min must be at least 1e-100 and at least 1e-09 of the larger of "
     "|min|, |max|; change the unit"),
    ("{min: 1e9, max: 1.0000000001e9, unit: u}", "1", "6:1: scale", "scale 1e+09..1e+09 is too "
     "narrow to tell values apart: max - min must be at least 1e-100 and at least 1e-09 of the "
     "larger of |min|, |max|; change the unit"),
    ("{min: -1e308, max: 1e308, unit: u}", "1", "6:1: scale", "scale.min and scale.max must "
     "lie within -1e+100..1e+100 (got -1e+308..1e+308); change the unit"),
    ("{min: 0, max: 10, unit: u}", "1e308", "8:1: weight", "Input should be less than or equal "
     "to 1000000000000 (got 1e+308)"),
])
def test_scales_and_weights_have_stated_limits(here: Path, capsys: pytest.CaptureFixture[str],
                                               scale: str, weight: str, line: str,
                                               message: str) -> None:
    write(here / "factors/r_b.yaml", f"id: r_b\nname: R b\nkind: risk\ngroup: general\n"
          f"description: d\nscale: {scale}\nhigher_means: more\nweight: {weight}\n")
    code, _, err = run(capsys, "run", BASE, "--format", "json")
    assert code == 1
    assert f"factors/r_b.yaml:{line}: {message} [RE102]" in err.splitlines()


def test_weights_at_the_limit_still_score(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("r_a", "r_b"):
        text = (here / f"factors/{name}.yaml").read_text()
        write(here / f"factors/{name}.yaml", re.sub(r"weight: \d+\n", "weight: 1e12\n", text))
    code, out, _ = run(capsys, "run", BASE, "--format", "json", "--simulate", "100")
    assert code == 0
    record = json.loads(out)[0]
    assert 0 <= record["stability"] <= 100 and 0 <= record["simulation"]["p95"] <= 100


@pytest.mark.parametrize(("argv", "message"), [
    (["run", BASE, "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["run", BASE, "--seed", str(2**63)], f"argument --seed: must be below 2**63, got {2**63}"),
    (["sensitivity", BASE, "--seed", "-5"], "argument --seed: must be at least 0, got -5"),
    (["run", BASE, "--simulate", "1000000000000"],
     "argument --simulate: at most 1,000,000,000 draws, got 1,000,000,000,000"),
    (["compare", BASE, "--simulate", "1e30"], "argument --simulate: expected a whole number, "
     "got '1e30'"),
    (["report", BASE, "-o", "r.html", "--simulate", str(10**30)],
     "argument --simulate: at most 1,000,000,000 draws, got "
     "1,000,000,000,000,000,000,000,000,000,000"),
    (["outlook", "scenarios/demo", "--simulate", "9" * 5000],
     f"argument --simulate: expected a whole number, got {'9' * 40!r}"),
    (["sensitivity", BASE, "--n", "1"], "argument --n: must be at least 64, got 1"),
    (["sensitivity", BASE, "--n", "1000"], "argument --n: must be a power of two (Sobol points "
     "are balanced only then), e.g. 512 or 1024; got 1000"),
    (["sensitivity", BASE, "--n", str(2**20)], "argument --n: at most 65,536, got 1,048,576"),
    (["sensitivity", BASE, "--concentration", "1e999"], "argument --concentration: must be a "
     "positive finite number, got 1e999"),
    (["validate", "--max-evidence-age", "1e30"], "argument --max-evidence-age: expected a "
     "whole number, got '1e30'"),
])
def test_numeric_flags_have_limits(here: Path, capsys: pytest.CaptureFixture[str],
                                   argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.splitlines()[-1].endswith(f"error: {message}"), err


@pytest.mark.parametrize("argv", [
    ["run", BASE, "--simulate", "100", "--chunk-size", str(10**30)],
    ["validate", "--max-evidence-age", str(10**30)],
    ["sensitivity", BASE, "--n", "64", "--concentration", "1e300"],
    ["sensitivity", BASE, "--n", "64", "--concentration", "5e-324"],
    ["run", BASE, "--simulate", "10", "--seed", str(2**63 - 1)],
])
def test_huge_and_tiny_flag_values_work(here: Path, capsys: pytest.CaptureFixture[str],
                                        argv: list[str]) -> None:
    code, _, err = run(capsys, *argv, "-q")
    assert code == 0, err


def test_analytic_sobol_where_it_does_not_apply_is_a_usage_error(
        here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (here / BASE).read_text()
    write(here / BASE, text.replace("probability: 0.75\n",
                                    "probability: 0.75\nmodel: {aggregation: geometric}\n"))
    code, out, err = run(capsys, "sensitivity", BASE, "--sobol", "analytic", "--n", "64")
    assert (code, out, err) == (2, "", "riskengine sensitivity: error: --sobol analytic: "
                                "demo/base uses the geometric model (exact indices need "
                                "arithmetic); use --sobol estimate or auto\n")
