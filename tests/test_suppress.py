"""Quieter, sharper CI: inline suppressions, per-file ignores, ``--statistics``, RE602 per
estimate and one message per root cause, through the real ``riskengine validate``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from riskengine.suppressions import glob_matches
from riskengine.validation import validate

from .conftest import Runner, factor_yaml, write

BASE = "scenarios/demo/base.yaml"
UP = "scenarios/demo/up.yaml"
EV = "confidence: low, evidence: [{source: T, date: 2025-09-01}]"


def base(*lines: str, header: str = "") -> str:
    """A valid base scenario (its outlook completed by ``up``) whose factors are ``lines``
    (line 7 onwards), each estimate with one source dated 2025-09-01, as_of 2025-09-03."""
    return ("id: base\ntitle: Base\npartnership: demo\nas_of: 2025-09-03\nprobability: 0.75\n"
            + header + "factors:\n" + "".join(f"  {line}\n" for line in lines))


FOUR = (f"r_a: {{value: 2, {EV}}}", f"r_b: {{value: 6, {EV}}}", f"o_a: {{value: 2, {EV}}}",
        f"o_b: {{value: 5, {EV}}}")
CLEAN_UP = "id: up\ntitle: Up\nextends: base\nprobability: 0.25\n"


def findings(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The findings of a ``--format json`` run, as the text format prints each one."""
    data = json.loads(proc.stdout)
    out = []
    for p in data["problems"]:
        where = ":".join(str(x) for x in (p["path"], p["line"], p["col"]) if x is not None)
        field = f"{p['field']}: " if p["field"] else ""
        out.append(f"{where}: {field}{p['message']} [{p['code']}]")
    return out


def stale(factor: str, line: int, col: int = 59) -> str:
    return (f"{BASE}:{line}:{col}: factors.{factor}.evidence[0].date: the newest evidence for "
            f"'{factor}', dated 2025-09-01, is 2 days older than as_of 2025-09-03 (limit 1) "
            "[RE602]")


@pytest.fixture
def demo(project: Path) -> Path:
    write(project / BASE, base(*FOUR))
    write(project / UP, CLEAN_UP)
    return project


# ---------------------------------------------------------------------------------------------
# inline suppressions


def test_a_trailing_comment_silences_its_codes_on_its_line_only(demo: Path, cli: Runner) -> None:
    write(demo / BASE, base(FOUR[0] + "  # riskengine: ignore[RE602] the one source there is",
                            *FOUR[1:]))
    proc = cli("validate", "--max-evidence-age", "1", "--format", "json", cwd=demo)
    assert proc.returncode == 0
    assert findings(proc) == [stale("r_b", 8), stale("o_a", 9), stale("o_b", 10)]
    stats = json.loads(proc.stdout)["statistics"]
    assert stats["suppressed"] == {"inline": 1, "per_file_ignores": 0,
                                   "inline_by_code": {"RE602": 1},
                                   "per_file_ignores_by_code": {}}
    assert stats["codes"] == [{"code": "RE602", "count": 3, "meaning": "an estimate's newest "
                               "evidence is older than --max-evidence-age at the scenario's "
                               "as_of"}]


def test_ignore_file_and_prefixes(demo: Path, cli: Runner) -> None:
    write(demo / BASE, "# riskengine: ignore-file[RE6]  historical sources on purpose\n"
          + base(*FOUR))
    proc = cli("validate", "--max-evidence-age", "1", "--format", "json", cwd=demo)
    assert findings(proc) == []
    assert json.loads(proc.stdout)["statistics"]["suppressed"]["inline"] == 4
    # an own-line `ignore` speaks for its own line only, where nothing is found
    write(demo / BASE, base(*FOUR[:3], "# riskengine: ignore[RE602]", FOUR[3]))
    proc = cli("validate", "--max-evidence-age", "1", "--format", "json", cwd=demo)
    assert findings(proc) == [
        stale("r_a", 7), stale("r_b", 8), stale("o_a", 9),
        f"{BASE}:10:3: suppression `ignore[RE602]` matches no finding on this line [RE612]",
        stale("o_b", 11)]


def test_errors_can_be_suppressed_but_not_unreadable_files(demo: Path, cli: Runner) -> None:
    # an error in a readable file obeys a suppression like --ignore does ...
    write(demo / BASE, base(FOUR[0].replace("value: 2", "value: 20")
                            + "  # riskengine: ignore[RE302]", *FOUR[1:]))
    proc = cli("validate", "--format", "json", cwd=demo)
    assert findings(proc) == [] and proc.returncode == 0
    # ... a file that cannot be read as YAML is reported whatever its comments say
    write(demo / BASE, "# riskengine: ignore-file[RE004, RE0]\n" + base(*FOUR, FOUR[0]))
    proc = cli("validate", "--format", "json", cwd=demo)
    assert proc.returncode == 1
    assert findings(proc) == [
        f"{BASE}:1:1: RE0 in `ignore-file[RE004, RE0]` cannot be suppressed (the file could "
        "not be read as YAML) [RE613]",
        f"{BASE}:1:1: RE004 in `ignore-file[RE004, RE0]` cannot be suppressed (the file could "
        "not be read as YAML) [RE613]",
        f"{BASE}:12:3: factors.r_a: duplicate key 'r_a' (first at line 8) [RE004]"]


def test_text_that_only_looks_like_a_comment_suppresses_nothing(demo: Path, cli: Runner) -> None:
    quoted = FOUR[0].replace("source: T", "source: 'T # riskengine: ignore[RE602]'")
    write(demo / BASE, base(quoted, *FOUR[1:],
                            header="description: |\n  # riskengine: ignore-file[RE602]\n"))
    proc = cli("validate", "--max-evidence-age", "1", "--format", "json", cwd=demo)
    assert [f.rsplit(" [", 1)[1] for f in findings(proc)] == ["RE602]"] * 4


def test_windows_line_ends_and_tabs(demo: Path, cli: Runner) -> None:
    text = base(FOUR[0] + "\t# riskengine: ignore[RE602]", *FOUR[1:3],
                "# riskengine: ignore-file[RE604]", FOUR[3])
    (demo / BASE).write_bytes(text.replace("\n", "\r\n").encode())
    proc = cli("validate", "--max-evidence-age", "1", "--format", "json", cwd=demo)
    assert findings(proc) == [
        stale("r_b", 8), stale("o_a", 9),
        f"{BASE}:10:3: suppression `ignore-file[RE604]` matches no finding in this file [RE612]",
        stale("o_b", 11)]


def test_unused_means_checked_and_silent(demo: Path, cli: Runner) -> None:
    write(demo / BASE, base(FOUR[0] + "  # riskengine: ignore[RE602]", *FOUR[1:]))
    # RE602 is only checked with a maximum age, so the suppression is not stale without one
    assert findings(cli("validate", "--format", "json", cwd=demo)) == []
    # nor when the run does not select the code
    assert findings(cli("validate", "--max-evidence-age", "1", "--select", "RE3",
                        "--format", "json", cwd=demo)) == []
    # nor in a file whose error (selected or not) stopped the warnings' checks
    write(demo / BASE, base(FOUR[0] + "  # riskengine: ignore[RE602]", *FOUR[1:],
                            header="colour: red\n"))
    assert findings(cli("validate", "--max-evidence-age", "1", "--select", "RE6",
                        "--format", "json", cwd=demo)) == []
    # a finding about a whole factor is silenced at the factor's id
    write(demo / "factors/r_c.yaml", factor_yaml("r_c").replace(
        "id: r_c", "id: r_c  # riskengine: ignore[RE606] kept for the next partnership"))
    write(demo / BASE, base(*FOUR))
    proc = cli("validate", "--format", "json", cwd=demo)
    assert findings(proc) == []
    assert json.loads(proc.stdout)["statistics"]["suppressed"]["inline_by_code"] == {"RE606": 1}
    # a parent read only for its child is not checked whole: its suppressions are used, never
    # called unused
    write(demo / BASE, base(FOUR[0] + "  # riskengine: ignore[RE602, RE604]", *FOUR[1:]))
    write(demo / UP, CLEAN_UP + "factors:\n  r_a: {shift: 20}  # riskengine: ignore[RE403]\n")
    proc = cli("validate", UP, "--format", "json", cwd=demo)
    assert findings(proc) == []
    assert json.loads(proc.stdout)["statistics"]["suppressed"]["inline_by_code"] == {"RE403": 1}


def test_suppression_findings_obey_select_and_strict(demo: Path, cli: Runner) -> None:
    write(demo / BASE, base(FOUR[0] + "  # riskengine: ignore[RE604]", *FOUR[1:]))
    assert cli("validate", cwd=demo).returncode == 0
    assert cli("validate", "--strict", cwd=demo).returncode == 1
    assert cli("validate", "--strict", "--ignore", "RE612", cwd=demo).returncode == 0
    write(demo / BASE, base(FOUR[0] + "  # riskengine: ignore", *FOUR[1:]))
    assert cli("validate", cwd=demo).returncode == 1  # a blanket suppression is an error


# ---------------------------------------------------------------------------------------------
# per-file ignores


@pytest.mark.parametrize(("pattern", "path", "hit"), [
    ("scenarios/demo/*", "scenarios/demo/base.yaml", True),
    ("scenarios/*", "scenarios/demo/base.yaml", True),  # fnmatch: * crosses folders
    ("base.yaml", "scenarios/demo/base.yaml", True),  # a bare name: in any folder
    ("*.yaml", "factors/r_a.yaml", True),
    ("demo/*.yaml", "scenarios/demo/base.yaml", True),  # PurePath.match: from the right
    ("scenarios/other/*", "scenarios/demo/base.yaml", False),
    ("factors/*", "scenarios/demo/base.yaml", False),
])
def test_glob_semantics(pattern: str, path: str, hit: bool) -> None:
    assert glob_matches(pattern, path) is hit


def test_per_file_ignores_relative_to_the_project_root(
        demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(demo / BASE, base(FOUR[0] + "  # riskengine: ignore[RE602]", *FOUR[1:]))
    monkeypatch.chdir(demo / "scenarios")  # the globs do not depend on where validate runs
    found = validate([str(demo / "factors"), "demo"], max_evidence_age=1,
                     per_file_ignores={"scenarios/demo/base.yaml": ["RE602"],
                                       "factors/*": ["RE606"]}, project_root=demo)
    assert found.problems == []
    assert (len(found.suppressed_inline), len(found.suppressed_by_config)) == (1, 3)
    assert found.statistics["suppressed"]["per_file_ignores_by_code"] == {"RE602": 3}
    # RE001-RE004 cannot be ignored per file either
    write(demo / BASE, base(*FOUR, FOUR[0]))
    found = validate(["demo"], per_file_ignores={"*": ["RE0"]}, project_root=demo)
    assert [p.code for p in found.problems] == ["RE004"]
    with pytest.raises(ValueError, match=r"per-file-ignores 'x/\*': unknown rule code\(s\): RE9X"):
        validate(["demo"], per_file_ignores={"x/*": ["RE9X"]}, project_root=demo)


# ---------------------------------------------------------------------------------------------
# --statistics


def test_statistics_in_text(demo: Path, cli: Runner) -> None:
    write(demo / BASE, base(FOUR[0] + "  # riskengine: ignore[RE602]", *FOUR[1:3],
                            "o_b: {value: 5}"))
    proc = cli("validate", "--max-evidence-age", "1", "--statistics", cwd=demo)
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == [
        "1  RE601  estimate without evidence",
        "2  RE602  an estimate's newest evidence is older than --max-evidence-age at the "
        "scenario's as_of",
        "1  RE605  estimate without a stated confidence",
        "suppressed: 1 inline, 0 by per-file-ignores",
        "6 file(s) checked: 0 error(s), 4 warning(s), 1 suppressed — all files valid",
    ]
    # to a file: the same counts, and the summary on stderr
    out = demo / "stats.txt"
    proc = cli("validate", "--max-evidence-age", "1", "--statistics", "-o", str(out), cwd=demo)
    assert out.read_text().splitlines()[-1] == "suppressed: 1 inline, 0 by per-file-ignores"
    assert proc.stderr == "6 file(s) checked: 0 error(s), 4 warning(s), 1 suppressed\n"
    proc = cli("validate", "--max-evidence-age", "1", "--statistics", "--format", "github",
               cwd=demo)
    assert proc.stdout.count("::warning") == 4
    assert "suppressed: 1 inline, 0 by per-file-ignores\n" in proc.stderr


# ---------------------------------------------------------------------------------------------
# RE602 per estimate


def test_evidence_age_is_judged_by_the_newest_source(demo: Path, cli: Runner) -> None:
    old_and_new = ("r_a:\n    value: 2\n    confidence: low\n    evidence:\n"
                   "      - {source: A, date: 2019-01-01}\n      - {source: B, date: 2025-09-01}\n"
                   "      - {source: C, date: 2018-01-01}")
    all_old = old_and_new.replace("2025-09-01", "2020-06-30").replace("r_a", "r_b").replace(
        "value: 2", "value: 6")
    write(demo / BASE, base(old_and_new, all_old, *FOUR[2:]))
    proc = cli("validate", "--max-evidence-age", "365", "--format", "json", cwd=demo)
    assert findings(proc) == [
        f"{BASE}:19:21: factors.r_b.evidence[1].date: the newest evidence for 'r_b', dated "
        "2020-06-30, is 1,891 days older than as_of 2025-09-03 (limit 365) [RE602]"]


# ---------------------------------------------------------------------------------------------
# one message per root cause


def test_a_broken_factor_file_is_reported_once(demo: Path, cli: Runner) -> None:
    write(demo / "factors/r_a.yaml", "id: r_a\nname: [unclosed\n")
    write(demo / "models/t.yaml", "id: t\nname: T\ndescription: A tree.\nroot:\n  id: top\n"
          "  children:\n    - {factor: r_a}\n    - {factor: r_b}\n    - {factor: o_a}\n"
          "    - {factor: o_b}\n")
    write(demo / "scenarios/demo/down.yaml", CLEAN_UP.replace("up", "down").replace(
        "0.25", "0") + f"factors:\n  r_a: {{value: 3, {EV}}}\n")
    proc = cli("validate", "--format", "json", cwd=demo)
    assert proc.returncode == 1
    # not: unknown factor 'r_a' in base.yaml, down.yaml and the tree (did you mean 'r_b'?)
    assert findings(proc) == [
        "factors/r_a.yaml:3:1: YAML syntax error: while parsing a flow sequence did not find "
        "expected ',' or ']' (started at line 2) [RE001]"]
    # a factor nobody defines is still an unknown factor
    os.remove(demo / "factors/r_a.yaml")
    assert {f.rsplit(" [", 1)[1] for f in findings(cli("validate", "--format", "json",
                                                       cwd=demo))} == {"RE301]", "RE701]"}


@pytest.mark.parametrize(("broken", "expected"), [
    ("header", [f"{BASE}:6:1: colour: unknown key 'colour' [RE101]"]),
    ("weights", [f"{BASE}:6:1: factors: the risk factors' weights sum to 0; at least one must "
                 "be positive [RE305]"]),
])
def test_an_error_in_a_parent_is_reported_once_at_the_parent(
        demo: Path, cli: Runner, broken: str, expected: list[str]) -> None:
    if broken == "header":  # the parent cannot be read at all
        write(demo / BASE, base(*FOUR, header="colour: red\n"))
    else:  # it can, but not scored; nor can any child that inherits its weights
        write(demo / BASE, base(*(f.replace("value:", "weight: 0, value:") for f in FOUR[:2]),
                                *FOUR[2:]))
    write(demo / UP, CLEAN_UP.replace("0.25", "0.05") + f"factors:\n  o_b: {{value: 3, {EV}}}\n")
    for child in ("down", "left"):
        write(demo / f"scenarios/demo/{child}.yaml",
              CLEAN_UP.replace("up", child).replace("0.25", "0.1"))
    proc = cli("validate", "--format", "json", cwd=demo)
    assert proc.returncode == 1
    # not: "parent scenario 'base' has errors" or the weight check again in each child, nor
    # every factor the unreadable parent would have used reported as unused
    assert findings(proc) == expected
    # a child checked alone names its parent's problem, which is why it cannot be scored
    assert findings(cli("validate", "factors", UP, "--format", "json", cwd=demo)) == expected
    # a child's own mistake is still its own, where the parent can be read to check it against
    write(demo / UP, CLEAN_UP + "factors:\n  o_b: {value: 30}\n")
    own = [f"{UP}:6:9: factors.o_b.value: value 30 is outside the scale 0..10 (score) [RE302]"]
    assert findings(cli("validate", "factors", UP, "--format", "json", cwd=demo)) == (
        expected + own if broken == "weights" else expected)


# ---------------------------------------------------------------------------------------------
# the project's [validate] settings


def test_per_file_ignores_from_the_project_config(demo: Path, cli: Runner) -> None:
    write(demo / "scenarios/history/old.yaml", base(*FOUR).replace("id: base", "id: old")
          .replace("partnership: demo", "partnership: history").replace("probability: 0.75\n",
                                                                        ""))
    write(demo / "riskengine.toml", '[validate]\nmax-evidence-age = 1\n'
          '[validate.per-file-ignores]\n"scenarios/history/*" = ["RE602"]\n'
          '"base.yaml" = ["RE6"]\n')
    # the globs are the project root's, wherever validate runs and however paths are given
    for cwd, args in ((demo, ()), (demo / "scenarios", ("../factors", "history", "demo"))):
        proc = cli("validate", *args, "--format", "json", cwd=cwd)
        assert proc.returncode == 0 and findings(proc) == []
        assert json.loads(proc.stdout)["statistics"]["suppressed"] == {
            "inline": 0, "per_file_ignores": 8, "inline_by_code": {},
            "per_file_ignores_by_code": {"RE602": 8}}
    # a flag still overrides the config's maximum age: nothing old, nothing to ignore
    proc = cli("validate", "--max-evidence-age", "100000", "--statistics", cwd=demo)
    assert proc.stdout.splitlines()[0] == "suppressed: 0 inline, 0 by per-file-ignores"
    # an inline suppression counts first, and is not stale because the config also ignores it
    write(demo / BASE, base(FOUR[0] + "  # riskengine: ignore[RE602]", *FOUR[1:]))
    stats = json.loads(cli("validate", "--format", "json", cwd=demo).stdout)["statistics"]
    assert (stats["suppressed"]["inline"], stats["suppressed"]["per_file_ignores"]) == (1, 7)
    assert stats["codes"] == []
    write(demo / "riskengine.toml", '[validate.per-file-ignores]\n"x/*" = ["RE999"]\n')
    proc = cli("validate", cwd=demo)
    assert proc.returncode == 2
    assert "per-file-ignores 'x/*': unknown rule code(s): RE999 (known:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_names_the_parents_problem(demo: Path, cli: Runner) -> None:
    write(demo / BASE, base(*FOUR, header="colour: red\n"))
    proc = cli("run", UP, cwd=demo)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"{BASE}:6:1: colour: unknown key 'colour' [RE101]"]
