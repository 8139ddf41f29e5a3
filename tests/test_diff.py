"""``riskengine diff``: how a change to the files moves the scores, and the CI gates on it."""

from __future__ import annotations

import io
import json
import math
import os
import shlex
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

import riskengine as re
from riskengine.diff import diff_paths
from riskengine.outlook import outlook
from riskengine.scoring import band_of, scenario_bands

from .conftest import ROOT, Runner, write

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def shipped_copy(tmp_path: Path) -> Path:
    """The shipped factors and scenarios, with Russia balancing's default weight 3 -> 2."""
    copy = tmp_path / "changed"
    for folder in ("factors", "models", "scenarios"):
        shutil.copytree(ROOT / folder, copy / folder)
    factor = copy / "factors/russia_balancing.yaml"
    factor.write_text(factor.read_text().replace("\nweight: 3\n", "\nweight: 2\n"))
    return copy


def _json(proc: subprocess.CompletedProcess[str], code: int = 0) -> Any:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


def _one_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------
# 1. a catalogue change once, with the scenarios it moves; an estimate on one line


def test_catalogue_change_is_shown_once_with_the_scenarios_it_moves(
        shipped_copy: Path, cli: Runner) -> None:
    data = _json(cli("diff", str(ROOT), str(shipped_copy), "--format", "json"))
    [group] = data["shared_changes"]
    assert (group["kind"], group["id"], group["ref"]) == ("factor", "russia_balancing",
                                                          "factor russia_balancing")
    assert [c["text"] for c in group["changes"]] == ["russia_balancing: weight 3 → 2"]
    assert group["changes"][0] | {"text": ""} == {"subject": "russia_balancing",
                                                   "field": "weight", "old": 3, "new": 2,
                                                   "text": ""}
    moved = {s["scenario"]: s for s in data["scenarios"]}
    # Indonesia–Turkey overrides this weight in its scenarios, so it is not moved
    assert sorted(group["scenarios"]) == sorted(moved) and group["scenario_count"] == 8
    assert not any(key.startswith("indonesia-turkey/") for key in moved)
    assert data["unchanged"] == 3
    baseline = moved["japan-turkey/baseline"]
    # the change is the group's, not repeated as the scenario's own
    assert baseline["changes"] == [] and baseline["shared"] == ["factor russia_balancing"]
    old = re.score(re.load_scenario(ROOT / "scenarios/japan-turkey/baseline.yaml"))
    new = re.score(re.load_scenario(shipped_copy / "scenarios/japan-turkey/baseline.yaml"))
    assert baseline["before"]["stability"] == pytest.approx(old.stability, abs=1e-12)
    assert baseline["after"]["stability"] == pytest.approx(new.stability, abs=1e-12)
    assert baseline["delta_stability"] == pytest.approx(new.stability - old.stability)
    assert abs(baseline["delta_stability"]) > 0.1
    deltas = [abs(s["delta_stability"]) for s in data["scenarios"]]
    assert deltas == sorted(deltas, reverse=True)
    for fmt in ("markdown", "text"):
        text = cli("diff", str(ROOT), str(shipped_copy), "--format", fmt).stdout
        assert text.count("weight 3 → 2") == 1, fmt
        assert "moves 8 scenario(s): japan-turkey/baseline" in text


def test_scale_kind_and_direction_changes_are_grouped(project: Path, tmp_path: Path,
                                                      cli: Runner) -> None:
    new = tmp_path / "new"
    shutil.copytree(project, new)
    _edit(new / "factors/r_a.yaml", "  max: 10\n", "  max: 20\n")
    _edit(new / "factors/r_b.yaml", "higher_means: less", "higher_means: more")
    data = _json(cli("diff", str(project), str(new), "--format", "json"))
    groups = {g["id"]: g for g in data["shared_changes"]}
    assert [c["text"] for c in groups["r_a"]["changes"]] == ["r_a: scale 0–10 → 0–20"]
    assert [c["text"] for c in groups["r_b"]["changes"]] == ["r_b: higher_means less → more"]
    assert groups["r_a"]["scenarios"] == groups["r_b"]["scenarios"] == ["demo/base", "demo/up"]
    assert all(s["changes"] == [] for s in data["scenarios"])


def test_estimate_change_is_one_line_and_inherited_once(tmp_path: Path, cli: Runner) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for side in (old, new):
        shutil.copytree(ROOT / "factors", side / "factors")
        shutil.copytree(ROOT / "scenarios", side / "scenarios")
    baseline = new / "scenarios/japan-turkey/baseline.yaml"
    _edit(baseline, "  russia_balancing:\n    low: 5\n    mode: 7\n    high: 8\n",
          "  russia_balancing:\n    low: 5\n    mode: 7\n    high: 9\n")
    data = _json(cli("diff", str(old), str(new), "--format", "json"))
    moved = {s["scenario"]: s for s in data["scenarios"]}
    [change] = moved["japan-turkey/baseline"]["changes"]
    assert change["text"] == "russia_balancing: 5 / 7 / 8 → 5 / 7 / 9 (pert)"
    assert change["old"] == {"low": 5, "mode": 7, "high": 8, "distribution": "pert",
                             "fixed": False}
    # a child that inherits the estimate names its parent instead of repeating the change
    children = [k for k, s in moved.items() if s["inherits_from"] == "japan-turkey/baseline"]
    assert children and all(moved[k]["inherited_changes"] == 1 and moved[k]["changes"] == []
                            for k in children)
    markdown = cli("diff", str(old), str(new), "--format", "markdown").stdout
    assert markdown.count("russia_balancing: 5 / 7 / 8 → 5 / 7 / 9 (pert)") == 1
    assert "1 inherited from japan-turkey/baseline" in markdown


def test_band_change_is_flagged(project: Path, tmp_path: Path) -> None:
    new = tmp_path / "new"
    shutil.copytree(project, new)
    _edit(new / "scenarios/demo/base.yaml", "low: 2\n    mode: 4\n    high: 7",
          "low: 8\n    mode: 9\n    high: 10")
    result = diff_paths(project, new).to_dict()
    base_row = next(s for s in result["scenarios"] if s["scenario"] == "demo/base")
    assert [c["text"] for c in base_row["changes"]] == ["r_a: 2 / 4 / 7 → 8 / 9 / 10 (pert)"]
    assert (base_row["before"]["band"], base_row["after"]["band"]) == ("fragile", "unstable")
    assert base_row["band_changed"] and result["band_changes"] >= 1


def test_markdown_stays_a_postable_comment_for_many_scenarios(project: Path, tmp_path: Path,
                                                              cli: Runner) -> None:
    """A pull-request comment holds at most 65,536 characters: the largest movements are shown
    and the rest counted; the JSON keeps every row."""
    for i in range(60):
        write(project / f"scenarios/many/s{i:02d}.yaml", f"""
            id: s{i:02d}
            title: Variant {i}
            partnership: many
            factors:
              r_a: {{value: {i % 10}}}
              o_a: {{value: 2}}
            """)
    new = tmp_path / "new"
    shutil.copytree(project, new)
    _edit(new / "factors/r_a.yaml", "weight: 3", "weight: 1")
    data = _json(cli("diff", str(project), str(new), "--format", "json"))
    # every scenario the weight reaches is listed, also s00 whose S it leaves (r_a = 0)
    assert len(data["scenarios"]) == 62
    many = next(p for p in data["partnerships"] if p["partnership"] == "many")
    assert many["before"] is None and many["note_before"].startswith(
        "an outlook needs a probability in every scenario")
    markdown = cli("diff", str(project), str(new), "--format", "markdown").stdout
    assert "… and 12 more scenario(s) with smaller |ΔS| (all in `--format json`)" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith(("| many/", "| demo/"))]
    assert len(rows) == 50 and len(markdown) < 65_536
    assert "| many |" not in markdown  # no outlook on either side: nothing to show


# ---------------------------------------------------------------------------------------------
# 2. each partnership's expected stability


def test_partnership_expected_stability_is_the_outlooks(shipped_copy: Path, cli: Runner
                                                        ) -> None:
    data = _json(cli("diff", str(ROOT), str(shipped_copy), "--format", "json"))
    rows = {p["partnership"]: p for p in data["partnerships"]}
    assert set(rows) == {"indonesia-turkey", "japan-turkey", "japan-uk"}
    for side, root in (("before", ROOT), ("after", shipped_copy)):
        scenarios = re.load_scenarios(root / "scenarios/japan-turkey",
                                      re.load_catalogue(root / "factors"))
        expected = math.fsum(s.probability * re.score(s).stability for s in scenarios)
        row = rows["japan-turkey"][side]
        assert row["expected_stability"] == pytest.approx(expected, abs=1e-12)
        # the outlook command's own rule gives the same number
        assert row["expected_stability"] == pytest.approx(
            outlook(scenarios, n=64, method="mc").to_dict()["expected_stability"], abs=1e-12)
        assert row["band"] == band_of(expected, scenario_bands(scenarios[0]))
        assert row["scenarios"] == len(scenarios)
    jt = rows["japan-turkey"]
    assert jt["delta_expected_stability"] == pytest.approx(
        jt["after"]["expected_stability"] - jt["before"]["expected_stability"])
    # Indonesia–Turkey overrides the weight: its outlook does not move
    assert rows["indonesia-turkey"]["moved"] is False
    markdown = cli("diff", str(ROOT), str(shipped_copy), "--format", "markdown").stdout
    assert "| Partnership | E[S] | Δ E[S] | Band | Note |" in markdown
    assert f"| japan-turkey | {jt['before']['expected_stability']:.1f} → " \
           f"{jt['after']['expected_stability']:.1f} | {jt['delta_expected_stability']:+.2f} |" \
        in markdown


def test_partnership_without_an_outlook_says_why(project: Path, tmp_path: Path,
                                                 cli: Runner) -> None:
    new = tmp_path / "new"
    shutil.copytree(project, new)
    _edit(new / "scenarios/demo/up.yaml", "probability: 0.25", "probability: 0.5")
    data = _json(cli("diff", str(project), str(new), "--format", "json"))
    [demo] = data["partnerships"]
    assert demo["before"]["expected_stability"] > 0 and demo["after"] is None
    assert demo["note_after"].startswith("probabilities sum to 1.25, not 1")


# ---------------------------------------------------------------------------------------------
# 3. gates


@pytest.fixture
def band_flip(project: Path, tmp_path: Path) -> Path:
    """The project with base's r_a raised so that base (and the outlook) turn unstable."""
    new = tmp_path / "new"
    shutil.copytree(project, new)
    _edit(new / "scenarios/demo/base.yaml", "low: 2\n    mode: 4\n    high: 7",
          "low: 8\n    mode: 9\n    high: 10")
    return new


def test_fail_on_band_change_exits_1_and_still_writes_the_output(
        project: Path, band_flip: Path, tmp_path: Path, cli: Runner) -> None:
    plain = _json(cli("diff", str(project), str(band_flip), "--format", "json"))
    assert plain["gates"] == {"band_change": False, "max_delta": None, "passed": True,
                              "tripped": []}
    out = tmp_path / "comment.md"
    proc = cli("diff", str(project), str(band_flip), "--fail-on", "band-change", "-o", str(out))
    line = _one_line(proc, 1)
    assert line.startswith("riskengine diff: gate tripped: band-change: ")
    assert "demo/base fragile → unstable" in line
    text = out.read_text()
    assert text.startswith("### riskengine: score changes") and "⛔ gate tripped" in text
    data = _json(cli("diff", str(project), str(band_flip), "--fail-on", "band-change",
                     "--format", "json"), 1)
    tripped = {(t["gate"], t["subject"]): t["detail"] for t in data["gates"]["tripped"]}
    assert tripped[("band-change", "demo/base")] == "fragile → unstable"
    demo = data["partnerships"][0]
    if demo["band_changed"]:  # the outlook's band is gated too
        assert ("band-change", "demo outlook") in tripped
    assert data["gates"]["passed"] is False


def test_outlook_band_change_trips_the_gate(project: Path, tmp_path: Path, cli: Runner
                                            ) -> None:
    """The outlook crosses a band while no scenario does: the probability moves from base
    (fragile) to up (stable)."""
    new = tmp_path / "new"
    shutil.copytree(project, new)
    results = {s.id: re.score(s) for s in re.load_scenarios(project / "scenarios")}
    assert (results["base"].band, results["up"].band) == ("fragile", "stable")
    _edit(new / "scenarios/demo/base.yaml", "probability: 0.75", "probability: 0.0")
    _edit(new / "scenarios/demo/up.yaml", "probability: 0.25", "probability: 1.0")
    data = _json(cli("diff", str(project), str(new), "--fail-on", "band-change",
                     "--format", "json"), 1)
    [demo] = data["partnerships"]
    assert demo["before"]["expected_stability"] == pytest.approx(
        0.75 * results["base"].stability + 0.25 * results["up"].stability, abs=1e-12)
    assert demo["after"]["expected_stability"] == pytest.approx(results["up"].stability,
                                                                abs=1e-12)
    assert (demo["before"]["band"], demo["after"]["band"]) == ("fragile", "stable")
    assert data["band_changes"] == 0
    assert data["gates"]["tripped"] == [{"gate": "band-change", "subject": "demo outlook",
                                         "detail": "fragile → stable"}]
    line = _one_line(cli("diff", str(project), str(new), "--fail-on", "band-change"), 1)
    assert line == ("riskengine diff: gate tripped: band-change: 1 (demo outlook fragile → "
                    "stable)")


def test_fail_on_delta(project: Path, band_flip: Path, cli: Runner) -> None:
    data = _json(cli("diff", str(project), str(band_flip), "--format", "json"))
    biggest = max(abs(s["delta_stability"]) for s in data["scenarios"])
    passed = _json(cli("diff", str(project), str(band_flip), "--format", "json",
                       "--fail-on-delta", f"{biggest + 0.01}"))
    assert passed["gates"]["passed"] and passed["gates"]["max_delta"] == biggest + 0.01
    proc = cli("diff", str(project), str(band_flip), "--fail-on-delta", "0.5")
    line = _one_line(proc, 1)
    assert "|ΔS| > 0.5" in line and "demo/base ΔS" in line
    assert "Score changes" in proc.stdout  # the table is still printed
    both = _json(cli("diff", str(project), str(band_flip), "--format", "json",
                     "--fail-on-delta", "0", "--fail-on", "band-change"), 1)
    assert {t["gate"] for t in both["gates"]["tripped"]} == {"band-change", "delta"}


@pytest.mark.parametrize("flags, message", [
    (["--fail-on-delta", "nan"], "--fail-on-delta nan: must be a finite number >= 0"),
    (["--fail-on-delta", "inf"], "--fail-on-delta inf: must be a finite number >= 0"),
    (["--fail-on-delta", "1e999"], "--fail-on-delta 1e999: must be a finite number >= 0"),
    (["--fail-on-delta=-1"], "--fail-on-delta -1: must be a finite number >= 0"),
    (["--fail-on-delta", "two"], "--fail-on-delta 'two': expected a number of points"),
    (["--fail-on", "band-changes"], "--fail-on 'band-changes': expected one of band-change"),
    (["--fail-on=--git=x"], "--fail-on '--git=x': expected one of band-change"),
    (["--fail-on", "band-change,delta"], "--fail-on 'delta': expected one of band-change"),
])
def test_bad_gate_flags_are_one_line_usage_errors(project: Path, cli: Runner,
                                                  flags: list[str], message: str) -> None:
    line = _one_line(cli("diff", str(project), str(project), *flags), 2)
    assert line.startswith("riskengine diff: error: ") and message in line


def test_help_documents_the_gates_and_exit_codes(cli: Runner) -> None:
    text = " ".join(cli("diff", "--help").stdout.split())
    assert "--fail-on GATE" in text and "--fail-on-delta X" in text
    assert "Exit codes: 0 no gate tripped" in text and "1 a gate tripped" in text
    readme = (ROOT / "README.md").read_text()
    assert "--fail-on band-change" in readme and "--fail-on-delta" in readme


# ---------------------------------------------------------------------------------------------
# 4. different projects, different catalogues


def test_each_side_reads_its_own_catalogue(project: Path, tmp_path: Path, cli: Runner
                                           ) -> None:
    other = tmp_path / "elsewhere/other-project"
    shutil.copytree(project, other)
    _edit(other / "factors/r_a.yaml", "  max: 10\n", "  max: 20\n")
    data = _json(cli("diff", str(project), str(other), "--format", "json"))
    assert data["catalogues"]["differ"] is True
    assert data["catalogues"]["new"].endswith("other-project/factors")
    for row in data["scenarios"]:
        assert row["before"]["catalogue"] == data["catalogues"]["old"]
        assert row["after"]["catalogue"] == data["catalogues"]["new"]
        key = row["scenario"].split("/")[1]
        for side, root in (("before", project), ("after", other)):
            scenario = re.load_scenario(root / f"scenarios/demo/{key}.yaml",
                                        re.load_catalogue(root / "factors"))
            assert row[side]["stability"] == pytest.approx(re.score(scenario).stability,
                                                           abs=1e-12)
    assert data["scenarios"] and all(abs(r["delta_stability"]) > 0 for r in data["scenarios"])
    # scenario folders alone: each finds the factors/ above it, not the other's
    folders = _json(cli("diff", str(project / "scenarios"), str(other / "scenarios"),
                        "--format", "json"))
    assert folders["scenarios"] == data["scenarios"]
    markdown = cli("diff", str(project), str(other), "--format", "markdown").stdout
    assert "other-project/factors` (every scenario)" in markdown
    # the same catalogue on both sides is not called out
    same = _json(cli("diff", str(project / "scenarios"), str(project / "scenarios"),
                     "--format", "json"))
    assert same["catalogues"]["differ"] is False and same["scenarios"] == []


def test_each_side_reads_its_projects_config(project: Path, tmp_path: Path, cli: Runner
                                             ) -> None:
    """A project whose riskengine.toml puts the catalogue in catalogue/: diffed against the
    plain layout, each side reads its own."""
    other = tmp_path / "configured"
    shutil.copytree(project / "scenarios", other / "cases")
    shutil.copytree(project / "factors", other / "catalogue")
    write(other / "riskengine.toml", 'factors = "catalogue"\nscenarios = "cases"\n')
    _edit(other / "catalogue/o_b.yaml", "weight: 2", "weight: 5")
    data = _json(cli("diff", str(project), str(other), "--format", "json"))
    assert data["catalogues"]["new"].endswith("configured/catalogue")
    [group] = data["shared_changes"]
    assert [c["text"] for c in group["changes"]] == ["o_b: weight 2 → 5"]
    assert group["scenarios"] == ["demo/base", "demo/up"]


# ---------------------------------------------------------------------------------------------
# git


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _commit_all(repo: Path) -> None:
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "start")


@needs_git
def test_diff_against_a_git_revision(project: Path, cli: Runner) -> None:
    _commit_all(project)
    factor = project / "factors/r_a.yaml"
    factor.write_text(factor.read_text().replace("weight: 3", "weight: 1"))
    write(project / "scenarios/demo/new.yaml", "id: new\ntitle: New\nextends: base\n")
    data = _json(cli("diff", "--git", "HEAD", "--format", "json", cwd=project))
    assert data["old"] == "HEAD" and data["new"] == "working tree"
    assert data["catalogues"] == {"old": "HEAD:factors", "new": "factors", "differ": False}
    [group] = data["shared_changes"]
    assert [c["text"] for c in group["changes"]] == ["r_a: weight 3 → 1"]
    assert group["scenarios"] == ["demo/base", "demo/up"]
    added = next(s for s in data["scenarios"] if s["scenario"] == "demo/new")
    assert added["before"] is None and [c["text"] for c in added["changes"]] == [
        "scenario added"]
    assert factor.read_text().count("weight: 1") == 1  # the working tree is untouched


@needs_git
def test_git_hostile_revisions_and_paths_are_one_line_errors(
        project: Path, tmp_path_factory: pytest.TempPathFactory, cli: Runner) -> None:
    _commit_all(project)
    for rev in ("--upload-pack=x", "-x"):
        line = _one_line(cli("diff", f"--git={rev}", "--fail-on", "band-change", cwd=project), 2)
        assert "must not start with '-'" in line
    for rev in ("HEAD:../../etc", "HEAD:/etc", "no-such-rev", "HEAD~5"):
        line = _one_line(cli("diff", "--git", rev, cwd=project), 2)
        assert line == f"riskengine diff: error: --git {rev}: not a commit or tree in this " \
                       "repository"
    outside = tmp_path_factory.mktemp("not-a-repo")
    line = _one_line(cli("diff", "--git", "HEAD", str(outside), cwd=project), 2)
    assert line.startswith("riskengine diff: error: --git HEAD: ") and "git" in line
    line = _one_line(cli("diff", "--git", "HEAD", str(outside / "missing"), cwd=project), 2)
    assert "no such folder" in line
    # a path in a revision is read as a path to a tree, never a way out of the repository
    line = _one_line(cli("diff", "--git", "HEAD:scenarios", cwd=project), 2)
    assert "--git HEAD:scenarios: not a commit or tree" in line
    # the gate flags are checked before git runs
    line = _one_line(cli("diff", "--git", "HEAD", "--fail-on-delta", "nan", cwd=project), 2)
    assert "--fail-on-delta nan" in line


@needs_git
def test_git_huge_file_in_the_revision_is_refused_by_name(project: Path, cli: Runner) -> None:
    huge = project / "scenarios/demo/huge.yaml"
    huge.write_text("# " + "x" * 1_500_000 + "\n")
    _commit_all(project)
    huge.unlink()
    line = _one_line(cli("diff", "--git", "HEAD", cwd=project), 1)
    assert line == ("HEAD:scenarios/demo/huge.yaml: file larger than the 1,000,000-byte "
                    "limit [RE002]")


@needs_git
def test_git_revision_config_is_read_inside_the_revision_only(
        project: Path, tmp_path_factory: pytest.TempPathFactory, cli: Runner,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    # a config above the temporary folder must never be the revision's project
    decoy = tmp_path_factory.mktemp("decoy")
    write(decoy / "riskengine.toml", 'factors = "evil"\n')
    monkeypatch.setattr(tempfile, "tempdir", str(decoy))
    _commit_all(project)
    data = _json(cli("diff", "--git", "HEAD", "--format", "json", cwd=project))
    assert data["shared_changes"] == [] and data["scenarios"] == []
    # the revision's own config may not point out of the project
    write(project / "riskengine.toml", 'factors = "../../etc"\n')
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "escape")
    (project / "riskengine.toml").unlink()
    line = _one_line(cli("diff", "--git", "HEAD", cwd=project), 1)
    assert line == ("HEAD:riskengine.toml:1:1: factors: '../../etc' lies outside the project "
                    "folder HEAD: [RE802]")


def test_extract_writes_only_project_files_each_cut_past_the_limit(tmp_path: Path) -> None:
    from riskengine.diff import _extract

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, size in (("p/data.bin", 5000), ("p/huge.yaml", 5000), ("p/ok.yaml", 10),
                           ("p/riskengine.toml", 10)):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"a" * size))
    buffer.seek(0)
    assert _extract(buffer, str(tmp_path), "R", limit=100) == []
    assert not (tmp_path / "p/data.bin").exists()
    assert (tmp_path / "p/huge.yaml").stat().st_size == 101
    assert (tmp_path / "p/ok.yaml").read_bytes() == b"a" * 10
    assert (tmp_path / "p/riskengine.toml").exists()


def test_diff_errors(project: Path, tmp_path: Path, cli: Runner) -> None:
    unknown = cli("diff", "--git", "no-such-rev", cwd=project)
    assert unknown.returncode == 2 and "--git no-such-rev:" in unknown.stderr
    assert cli("diff", str(project), cwd=project).returncode == 2  # one folder, no --git
    broken = tmp_path / "broken"
    shutil.copytree(project, broken)
    write(broken / "scenarios/demo/up.yaml", "id: up\ntitle: Up\nextends: nope\n")
    proc = cli("diff", str(project), str(broken), "--fail-on", "band-change")
    assert proc.returncode == 1
    assert "up.yaml:3:1: extends: parent scenario 'nope' not found" in proc.stderr
    assert "Traceback" not in proc.stderr and "gate" not in proc.stderr


def test_diff_shows_tree_changes_once_with_the_scenarios_on_the_tree(tmp_path: Path,
                                                                     cli: Runner) -> None:
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
    data = _json(cli("diff", str(old), str(new), "--format", "json"))
    [group] = data["shared_changes"]
    assert (group["kind"], group["id"]) == ("tree", "pillars")
    assert [c["text"] for c in group["changes"]] == [
        "pillars: node risk: method geometric_complements → arithmetic",
        "pillars: russia_balancing: weight 3 → 2"]
    assert group["scenarios"] == []  # no scenario was on the tree before
    moved = {s["scenario"]: s for s in data["scenarios"]}
    # every japan-turkey scenario extends the baseline, so all five move onto the tree
    assert {k for k in moved if k.startswith("japan-turkey/")} == {
        f"japan-turkey/{p.stem}" for p in (new / "scenarios/japan-turkey").glob("*.yaml")}
    assert [c["text"] for c in moved["japan-turkey/baseline"]["changes"]] == [
        "tree: default → pillars"]
    assert moved["japan-turkey/baseline"]["after"]["tree"] == "pillars"
    after = re.score(re.load_scenarios(baseline)[0])
    assert moved["japan-turkey/baseline"]["after"]["stability"] == pytest.approx(
        after.stability, abs=1e-12)
    assert not any(k.startswith("japan-uk/") for k in moved)  # no tree named there
    markdown = cli("diff", str(old), str(new), "--format", "markdown").stdout
    assert "1 tree change(s)" in markdown
    assert "- tree **pillars**: `node risk: method geometric_complements → arithmetic`" \
        in markdown
    # once on the tree on both sides, a tree change lists the scenarios it moves
    shutil.rmtree(old)
    shutil.copytree(new, old)
    tree.write_text(tree.read_text().replace("{factor: russia_balancing, weight: 2}",
                                             "{factor: russia_balancing, weight: 4}"))
    data = _json(cli("diff", str(old), str(new), "--format", "json"))
    [group] = data["shared_changes"]
    assert sorted(group["scenarios"]) == sorted(k for k in moved
                                                if k.startswith("japan-turkey/"))


# ---------------------------------------------------------------------------------------------
# 6. the example workflow


WORKFLOW = ROOT / "examples/github-workflow.yml"
MARKER = "<!-- riskengine-diff -->"


def _steps() -> list[dict[str, Any]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    [job] = workflow["jobs"].values()
    return list(job["steps"])


@needs_git
def test_example_workflow_gates_and_keeps_one_sticky_comment(project: Path, cli: Runner
                                                             ) -> None:
    steps = _steps()
    [diff_step] = [s for s in steps if "riskengine diff" in s.get("run", "")]
    [comment] = [s for s in steps if MARKER in s.get("run", "")]
    # one comment: found by its hidden marker and edited, else created
    assert "PATCH" in comment["run"] and "gh pr comment" in comment["run"]
    # never on a fork's pull request (its token cannot write), but the gate still runs
    fork_check = "github.event.pull_request.head.repo.full_name == github.repository"
    assert fork_check in comment["if"]
    assert "if" not in diff_step or "head.repo" not in diff_step["if"]
    [gate] = [s for s in steps if s is not comment and "steps.diff.outputs" in s.get("if", "")]
    assert "head.repo" not in gate["if"]
    # the command it runs, run here on a pull request that moves a band
    [line] = [ln for ln in diff_step["run"].splitlines() if "riskengine diff" in ln]
    argv = shlex.split(line.replace("${{ github.base_ref }}", "main"))
    assert argv[:2] == ["riskengine", "diff"] and "--fail-on" in argv
    assert argv[argv.index("--fail-on") + 1] == "band-change"
    _commit_all(project)
    _git(project, "update-ref", "refs/remotes/origin/main", "HEAD")
    _edit(project / "scenarios/demo/base.yaml", "low: 2\n    mode: 4\n    high: 7",
          "low: 8\n    mode: 9\n    high: 10")
    proc = cli(*argv[1:], cwd=project)
    assert proc.returncode == 1 and "gate tripped: band-change" in proc.stderr
    output = argv[argv.index("-o") + 1]
    assert (project / output).read_text().startswith("### riskengine: score changes (origin/main")


# ---------------------------------------------------------------------------------------------
# --git reuses the working tree's scores for the folders the revision holds unchanged


def _partnership(project: Path, name: str) -> None:
    """Another partnership's folder: a copy of demo's."""
    for file in (project / "scenarios/demo").glob("*.yaml"):
        write(project / "scenarios" / name / file.name,
              file.read_text().replace("partnership: demo", f"partnership: {name}"))


def _both_ways(project: Path, monkeypatch: pytest.MonkeyPatch, path: Path | None = None
               ) -> tuple[Any, int]:
    """``diff_git("HEAD")`` with reuse, checked against reading the whole revision (the same
    result, or the same problems); and how many sides were read whole."""
    import sys

    import riskengine.diff  # noqa: F401 - the module, which riskengine.diff (a function) hides

    module = sys.modules["riskengine.diff"]
    reads: list[Any] = []
    whole = module.load_snapshot

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return whole(*args, **kwargs)

    monkeypatch.setattr(module, "load_snapshot", counted)
    where = path or project
    try:
        reused = module.diff_git("HEAD", where).to_dict()
    except re.InputError as exc:
        with pytest.raises(re.InputError) as again:
            module.diff_git("HEAD", where, reuse=False)
        assert [str(p) for p in again.value.problems] == [str(p) for p in exc.problems]
        return exc, len(reads)
    assert module.diff_git("HEAD", where, reuse=False).to_dict() == reused
    return reused, len(reads) - 2  # the second call read both sides whole


@needs_git
def test_git_unchanged_folders_are_not_read_again_and_the_diff_is_the_same(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    for name in ("other", "third"):
        _partnership(project, name)
    _commit_all(project)
    data, whole = _both_ways(project, monkeypatch)
    assert whole == 1 and data["scenarios"] == [] and data["unchanged"] == 6
    _edit(project / "scenarios/demo/base.yaml", "mode: 4", "mode: 5")
    data, whole = _both_ways(project, monkeypatch)
    assert whole == 1 and {s["scenario"] for s in data["scenarios"]} == {"demo/base", "demo/up"}
    # files added, removed, a folder added and one gone, a hidden file no side reads
    write(project / "scenarios/demo/new.yaml", "id: new\ntitle: New\nextends: base\n")
    (project / "scenarios/other/up.yaml").unlink()
    _partnership(project, "fourth")
    shutil.rmtree(project / "scenarios/third")
    write(project / "scenarios/demo/.draft.yaml", "not: [a scenario")
    data, whole = _both_ways(project, monkeypatch)
    assert whole == 1
    changes = {s["scenario"]: [c["text"] for c in s["changes"]] for s in data["scenarios"]}
    assert changes["demo/new"] == changes["fourth/base"] == ["scenario added"]
    assert changes["other/up"] == changes["third/base"] == ["scenario removed"]
    # run from the scenarios folder, a project's other entry
    assert _both_ways(project, monkeypatch, project / "scenarios")[1] == 1
    # a catalogue change may move any scenario: the revision is read whole
    _edit(project / "factors/r_a.yaml", "weight: 3", "weight: 1")
    data, whole = _both_ways(project, monkeypatch)
    assert whole == 2 and [g["id"] for g in data["shared_changes"]] == ["r_a"]


@needs_git
def test_git_problem_across_folders_of_the_revision_is_still_reported(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    _partnership(project, "other")
    # the revision has partnership demo in two folders; the working tree has fixed it
    _edit(project / "scenarios/other/base.yaml", "partnership: other", "partnership: demo")
    _commit_all(project)
    _edit(project / "scenarios/other/base.yaml", "partnership: demo", "partnership: other")
    found, _ = _both_ways(project, monkeypatch)
    assert isinstance(found, re.InputError)
    assert "HEAD:scenarios/other/base.yaml:1:1: id: scenario demo/base is also defined in " \
        "HEAD:scenarios/demo/base.yaml [RE202]" in [str(p) for p in found.problems]


def test_extract_leaves_files_the_working_tree_holds_and_stays_inside(tmp_path: Path) -> None:
    from riskengine.diff import GitError, _extract, _Unwritten

    disk, dest = tmp_path / "disk", tmp_path / "dest"
    write(disk / "s/p/same.yaml", "a: 1\n")
    write(disk / "s/p/changed.yaml", "a: 1\n")
    dest.mkdir()

    def tar_of(*members: tuple[str, bytes | str]) -> io.BytesIO:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, content in members:
                info = tarfile.TarInfo(name)
                if isinstance(content, str):  # a symlink to it
                    info.type, info.linkname = tarfile.SYMTYPE, content
                    tar.addfile(info)
                else:
                    info.size = len(content)
                    tar.addfile(info, io.BytesIO(content))
        buffer.seek(0)
        return buffer

    unwritten = _Unwritten(str(disk), ("s/",))
    assert _extract(tar_of(("s/p/same.yaml", b"a: 1\n"), ("s/p/changed.yaml", b"a: 2\n")),
                    str(dest), "R", unwritten=unwritten) == []
    assert unwritten.same == {"s/p/same.yaml"} and (dest / "s/p").is_dir()
    assert not (dest / "s/p/same.yaml").exists()
    assert (dest / "s/p/changed.yaml").read_bytes() == b"a: 2\n"
    unwritten.write(str(dest))
    assert (dest / "s/p/same.yaml").read_bytes() == b"a: 1\n"
    # a name leading out is refused, and after a link every path is checked as tarfile does
    with pytest.raises(GitError, match="cannot extract the revision safely"):
        _extract(tar_of(("s/../../out.yaml", b"x")), str(dest), "R",
                 unwritten=_Unwritten(str(disk), ("s/",)))
    skipped = _extract(tar_of(("s/up", "../.."), ("s/q", "p"), ("s/q/in.yaml", b"b: 1\n")),
                       str(dest), "R", unwritten=_Unwritten(str(disk), ("s/",)))
    assert skipped == ["R:s/up: a symlink to ../.., outside the revision"]
    assert (dest / "s/p/in.yaml").read_bytes() == b"b: 1\n"
    assert not (tmp_path / "out.yaml").exists()


@needs_git
def test_git_outlook_note_names_the_revisions_files_as_git_does(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the note once named the temporary folder the revision was extracted to
    monkeypatch.chdir(project)
    _partnership(project, "other")
    _edit(project / "scenarios/other/up.yaml", "probability: 0.25", "probability: 0.5")
    _commit_all(project)
    _edit(project / "scenarios/demo/base.yaml", "mode: 4", "mode: 5")
    data, whole = _both_ways(project, monkeypatch)
    assert whole == 1
    [other] = [p for p in data["partnerships"] if p["partnership"] == "other"]
    assert other["note_before"] == ("probabilities sum to 1.25, not 1 (HEAD:scenarios/other/"
                                    "base.yaml, HEAD:scenarios/other/up.yaml)")
    assert other["note_after"] == ("probabilities sum to 1.25, not 1 "
                                   "(scenarios/other/base.yaml, scenarios/other/up.yaml)")


@needs_git
def test_git_a_folder_changed_below_reads_its_parent_folder_again(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a scenario's population is every scenario of its folder and below: a file added below
    # may change it
    import sys

    monkeypatch.chdir(project)
    _partnership(project, "other")
    _commit_all(project)
    write(project / "scenarios/demo/deeper/base.yaml", (project / "scenarios/demo/base.yaml")
          .read_text().replace("partnership: demo", "partnership: deeper"))
    module = sys.modules["riskengine.diff"]
    read: list[str] = []
    whole = module.apply_scenarios

    def recorded(paths: Any, *args: Any, **kwargs: Any) -> Any:
        read.extend(os.path.relpath(p, os.path.commonpath([str(p), project.parent]))
                    for p in (paths if isinstance(paths, list) else []))
        return whole(paths, *args, **kwargs)

    monkeypatch.setattr(module, "apply_scenarios", recorded)
    assert _both_ways(project, monkeypatch)[1] == 1
    assert sorted(Path(p).name for p in read[:2]) == ["base.yaml", "up.yaml"]
    assert all("/demo/" in p for p in read[:2])
