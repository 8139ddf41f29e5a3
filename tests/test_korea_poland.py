"""The second shipped project, South Korea–Poland (examples/korea-poland/): its own catalogue,
valid and sourced, scored by hand, and compared with the shipped partnerships, each scenario
with its own project's catalogue."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from .conftest import ROOT, Runner, score_by_hand

EXAMPLE = ROOT / "examples/korea-poland"
CATALOGUE = EXAMPLE / "factors"
OUTLOOK = EXAMPLE / "scenarios/korea-poland"
SCENARIO_FILES = sorted(OUTLOOK.glob("*.yaml"))
# The factors this project adds to the shipped catalogue (what the shipped one did not anticipate).
NEW_FACTORS = {"export_credit_capacity", "programme_delivery_slippage",
               "local_production_delivery"}

yaml = YAML(typ="safe")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"))
    return data


def test_the_project_validates_clean(cli: Runner) -> None:
    proc = cli("validate", str(CATALOGUE), str(EXAMPLE / "scenarios"), "--strict",
               "--format", "json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report["problems"]
    assert report["problems"] == []
    assert report["files"] == len(list(CATALOGUE.glob("*.yaml"))) + len(SCENARIO_FILES)


def test_the_projects_own_config_sets_the_evidence_age_limit(cli: Runner, tmp_path: Path) -> None:
    """validate reads examples/korea-poland/riskengine.toml: with its limit the project is clean;
    the same files with a limit below the age of the oldest source warn (RE602) about it."""
    copy = tmp_path / "korea-poland"
    shutil.copytree(EXAMPLE, copy)
    config = copy / "riskengine.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "max-evidence-age = 1500", "max-evidence-age = 1400"), encoding="utf-8")
    proc = cli("validate", str(copy / "factors"), str(copy / "scenarios"), "--format", "json")
    problems = json.loads(proc.stdout)["problems"]
    assert proc.returncode == 0  # warnings only
    assert problems and {p["code"] for p in problems} == {"RE602"}
    assert all("2022-02-28" in p["message"] for p in problems)


def test_the_catalogue_is_the_reviewed_shipped_one_plus_its_own_factors() -> None:
    """Each shipped factor the project uses is a verbatim copy (bar the schema path), so the
    project follows the scale review; the rest are the factors the shipped one did not have."""
    own = {p.stem for p in CATALOGUE.glob("*.yaml")}
    shipped = {p.stem for p in (ROOT / "factors").glob("*.yaml")}
    assert own - shipped == NEW_FACTORS
    # uav_export_share is left out: no armed drones are in view in this partnership.
    assert shipped - own == {"uav_export_share"}
    for stem in sorted(own & shipped):
        copy = (CATALOGUE / f"{stem}.yaml").read_text(encoding="utf-8")
        original = (ROOT / "factors" / f"{stem}.yaml").read_text(encoding="utf-8")
        assert copy == original.replace("$schema=../schemas/", "$schema=../../../schemas/"), stem


def test_every_estimate_cites_dated_graded_evidence_with_confidence() -> None:
    for path in SCENARIO_FILES:
        for fid, entry in load(path)["factors"].items():
            assert entry.get("confidence"), (path.name, fid)
            evidence = entry.get("evidence")
            assert evidence, (path.name, fid)
            for item in evidence:
                assert item.get("source") and item.get("date") and item.get("grade"), \
                    (path.name, fid, item)


def test_the_outlook_probabilities_sum_to_one() -> None:
    probabilities = [load(path)["probability"] for path in SCENARIO_FILES]
    assert len(probabilities) == 5
    assert math.fsum(probabilities) == pytest.approx(1.0, abs=1e-9)


def by_hand(scenario_file: Path) -> float:
    """The arithmetic score from the raw YAML and this project's own catalogue."""
    return score_by_hand(scenario_file, CATALOGUE)


@pytest.fixture(scope="module")
def scored() -> list[dict[str, Any]]:
    """`riskengine run` of the whole outlook as JSON (run once for the module)."""
    import contextlib
    import io

    from riskengine.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", str(OUTLOOK), "--format", "json"])
    assert code == 0
    records: list[dict[str, Any]] = json.loads(out.getvalue())
    return records


def test_run_scores_every_scenario_as_a_reader_would(scored: list[dict[str, Any]]) -> None:
    assert sorted(r["scenario"] for r in scored) == [p.stem for p in SCENARIO_FILES]
    for record in scored:
        assert record["partnership"] == "korea-poland"
        assert record["stability"] == pytest.approx(by_hand(OUTLOOK / f"{record['scenario']}.yaml"),
                                                    abs=1e-9)
        used = {f["id"] for f in record["factors"]}
        assert used >= NEW_FACTORS  # the project's own factors are scored, not dropped
        total = math.fsum(f["contribution"] for f in record["factors"])
        assert total == pytest.approx(record["stability"] - 100 * record["model"]["risk_share"],
                                      abs=1e-9)


def test_outlook_expected_stability_is_the_probability_weighted_mean(
        cli: Runner, scored: list[dict[str, Any]]) -> None:
    proc = cli("outlook", str(OUTLOOK), "--simulate", "2000", "--seed", "1", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    outlook = data[0] if isinstance(data, list) else data
    probability = {p.stem: load(p)["probability"] for p in SCENARIO_FILES}
    expected = math.fsum(probability[r["scenario"]] * r["stability"] for r in scored)
    assert outlook["partnership"] == "korea-poland"
    assert outlook["expected_stability"] == pytest.approx(expected, abs=1e-9)


def test_compare_scores_each_partnership_with_its_own_catalogue(
        cli: Runner, scored: list[dict[str, Any]]) -> None:
    """The issue's case: the shipped partnerships and this project side by side. Every row is
    scored with its own project's catalogue and names it, so a Korea–Poland row equals its own
    `run`, and a shipped row equals the shipped `run`."""
    proc = cli("compare", "scenarios", str(EXAMPLE / "scenarios"), "--format", "json", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["rows"]
    by_name = {f"{r['partnership']}/{r['scenario']}": r for r in rows}
    shipped = json.loads(cli("run", "scenarios", "--format", "json", cwd=ROOT).stdout)
    assert len(rows) == len(shipped) + len(scored)
    for record in scored:
        row = by_name[f"korea-poland/{record['scenario']}"]
        assert row["stability"] == pytest.approx(record["stability"], abs=1e-9)
        assert Path(row["catalogue"]).parts[-3:] == ("examples", "korea-poland", "factors")
    for record in shipped:
        row = by_name[f"{record['partnership']}/{record['scenario']}"]
        assert row["stability"] == pytest.approx(record["stability"], abs=1e-9)
        assert Path(row["catalogue"]).parts[-1:] == ("factors",)
        assert "examples" not in Path(row["catalogue"]).parts
