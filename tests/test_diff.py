"""``riskengine diff``: how a change to the files moves the scores."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import riskengine as re
from riskengine.diff import diff_paths

from .conftest import ROOT, Runner, write


@pytest.fixture
def shipped_copy(tmp_path: Path) -> Path:
    """The shipped factors and scenarios, with Russia balancing's default weight 3 -> 2."""
    copy = tmp_path / "changed"
    shutil.copytree(ROOT / "factors", copy / "factors")
    shutil.copytree(ROOT / "scenarios", copy / "scenarios")
    factor = copy / "factors/russia_balancing.yaml"
    factor.write_text(factor.read_text().replace("\nweight: 3\n", "\nweight: 2\n"))
    return copy


def test_diff_of_shipped_content_shows_the_moved_scores(shipped_copy: Path, cli: Runner
                                                        ) -> None:
    proc = cli("diff", str(ROOT), str(shipped_copy), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["factor_changes"] == ["russia_balancing: weight 3 -> 2"]
    moved = {s["scenario"]: s for s in data["scenarios"]}
    # Indonesia–Turkey overrides this weight in its scenarios, so it does not move.
    assert not any(key.startswith("indonesia-turkey/") for key in moved)
    assert data["unchanged"] == 3
    baseline = moved["japan-turkey/baseline"]
    old = re.score(re.load_scenario(ROOT / "scenarios/japan-turkey/baseline.yaml"))
    new = re.score(re.load_scenario(shipped_copy / "scenarios/japan-turkey/baseline.yaml"))
    assert baseline["before"]["stability"] == pytest.approx(old.stability, abs=1e-12)
    assert baseline["after"]["stability"] == pytest.approx(new.stability, abs=1e-12)
    assert baseline["delta_stability"] == pytest.approx(new.stability - old.stability)
    assert abs(baseline["delta_stability"]) > 0.1
    assert baseline["changes"] == ["russia_balancing: weight 3 -> 2"]
    deltas = [abs(s["delta_stability"]) for s in data["scenarios"]]
    assert deltas == sorted(deltas, reverse=True)


def test_diff_markdown_is_a_pull_request_comment(shipped_copy: Path, cli: Runner) -> None:
    text = cli("diff", str(ROOT), str(shipped_copy), "--format", "markdown").stdout
    assert text.startswith("### riskengine: score changes (")
    assert "8 scenario(s) changed, 0 band change(s), 3 unchanged; 1 factor definition change(s)"\
        in text
    assert "| japan-turkey/baseline | 44.2 → 44.5 | +0.27 | fragile |" in text
    assert "<details><summary>What changed</summary>" in text


def test_band_change_is_flagged(project: Path, tmp_path: Path) -> None:
    new = tmp_path / "new"
    shutil.copytree(project, new)
    base = new / "scenarios/demo/base.yaml"
    base.write_text(base.read_text().replace("low: 2\n    mode: 4\n    high: 7",
                                             "low: 8\n    mode: 9\n    high: 10"))
    result = diff_paths(project, new).to_dict()
    base_row = next(s for s in result["scenarios"] if s["scenario"] == "demo/base")
    assert base_row["changes"] == ["r_a: low 2 -> 8", "r_a: mode 4 -> 9", "r_a: high 7 -> 10"]
    assert (base_row["before"]["band"], base_row["after"]["band"]) == ("fragile", "unstable")
    assert base_row["band_changed"] and result["band_changes"] >= 1


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                   check=True, capture_output=True)


def test_diff_against_a_git_revision(project: Path, cli: Runner) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "start")
    factor = project / "factors/r_a.yaml"
    factor.write_text(factor.read_text().replace("weight: 3", "weight: 1"))
    write(project / "scenarios/demo/new.yaml", "id: new\ntitle: New\nextends: base\n")
    proc = cli("diff", "--git", "HEAD", "--format", "json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["old"] == "HEAD" and data["new"] == "working tree"
    assert data["factor_changes"] == ["r_a: weight 3 -> 1"]
    added = next(s for s in data["scenarios"] if s["scenario"] == "demo/new")
    assert added["before"] is None and added["changes"] == ["scenario added"]
    assert factor.read_text().count("weight: 1") == 1  # the working tree is untouched


def test_diff_errors(project: Path, tmp_path: Path, cli: Runner) -> None:
    unknown = cli("diff", "--git", "no-such-rev", cwd=project)
    assert unknown.returncode == 2 and "--git no-such-rev:" in unknown.stderr
    assert cli("diff", str(project), cwd=project).returncode == 2  # one folder, no --git
    broken = tmp_path / "broken"
    shutil.copytree(project, broken)
    write(broken / "scenarios/demo/up.yaml", "id: up\ntitle: Up\nextends: nope\n")
    proc = cli("diff", str(project), str(broken))
    assert proc.returncode == 1
    assert "up.yaml:3:1: extends: parent scenario 'nope' not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_diff_shows_tree_changes_and_their_effect_on_every_score(tmp_path: Path, cli: Runner
                                                                 ) -> None:
    """A tree's rule and a leaf's weight change, and the baseline moves onto that tree."""
    old, new = tmp_path / "old", tmp_path / "new"
    for side in (old, new):
        for folder in ("factors", "models", "scenarios"):
            shutil.copytree(ROOT / folder, side / folder)
    tree = new / "models/pillars.yaml"
    tree.write_text(tree.read_text().replace(
        "{factor: russia_balancing, weight: 3}", "{factor: russia_balancing, weight: 2}")
        .replace("inverted: true\n      method: geometric_complements",
                 "inverted: true\n      method: arithmetic"))
    baseline = new / "scenarios/japan-turkey/baseline.yaml"
    baseline.write_text(baseline.read_text().replace("\nas_of:", "\ntree: pillars\nas_of:", 1))
    proc = cli("diff", str(old), str(new), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["tree_changes"] == [
        "pillars: node risk: method geometric_complements -> arithmetic",
        "pillars: russia_balancing: weight 3 -> 2"]
    moved = {s["scenario"]: s for s in data["scenarios"]}
    # every japan-turkey scenario extends the baseline, so all five move onto the tree
    assert {k for k in moved if k.startswith("japan-turkey/")} == {
        f"japan-turkey/{p.stem}" for p in (new / "scenarios/japan-turkey").glob("*.yaml")}
    assert "tree: default -> pillars" in moved["japan-turkey/baseline"]["changes"]
    after = re.score(re.load_scenarios(baseline)[0])
    assert after.tree is not None and after.tree.id == "pillars"
    assert moved["japan-turkey/baseline"]["after"]["stability"] == pytest.approx(
        after.stability, abs=1e-12)
    assert not any(k.startswith("japan-uk/") for k in moved)  # no tree named there
    markdown = cli("diff", str(old), str(new), "--format", "markdown").stdout
    assert "2 tree change(s)" in markdown and "tree `pillars: russia_balancing" in markdown
