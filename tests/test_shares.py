"""A large project's scenario files are loaded and checked in shares of whole folders, one
forked process a share (riskengine.executors.forked_map): validate and run must give exactly
what one process gives, findings across the shares included. The threshold is lowered here so
a small project is shared out, and forking is allowed whatever threads the test process has.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.generate import generate
from riskengine import executors, loading
from riskengine.cli import main
from riskengine.executors import forked_map
from riskengine.loading import apply_project_scenarios, folder_shares, load_scenarios
from riskengine.models import Scenario
from riskengine.scoring import score, score_many

from .test_parallel_loading import _cli


@pytest.fixture
def shared_out(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every project is shared out; counts the shares collected from forked children."""
    monkeypatch.setattr(loading, "SPLIT_MIN_FILES", 0)
    return _forking_on_two_cores(monkeypatch)


def _forking_on_two_cores(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Two cores and forking allowed; the pids of the children collected, listed."""
    monkeypatch.setattr(loading, "default_jobs", lambda: 2)  # shares are capped at the cores
    monkeypatch.setattr(executors, "can_fork", lambda: True)
    monkeypatch.setattr(loading, "can_fork", lambda: True)
    collected: list[int] = []
    collect = executors._collect

    def counting(pid: int, read_end: int) -> object:
        collected.append(pid)
        return collect(pid, read_end)

    monkeypatch.setattr(executors, "_collect", counting)
    return collected


def _project_with_trouble_across_folders(tmp_path: Path) -> Path:
    """Four generated folders, and a fifth (in the other share) holding a second file of one
    scenario key, a file of a partnership that lives in another folder, and a broken file."""
    root = generate(tmp_path / "p", n_factors=30, n_scenarios=40, per_folder=10,
                    per_scenario=6)
    (root / "riskengine.toml").write_text("", encoding="utf-8")
    baseline = (root / "scenarios" / "partnership-000" / "baseline.yaml").read_text(
        encoding="utf-8")
    stray = root / "scenarios" / "stray"
    stray.mkdir()
    (stray / "variant-2.yaml").write_text(baseline.replace("id: baseline", "id: variant-2"),
                                          encoding="utf-8")
    (stray / "odd.yaml").write_text(baseline.replace("id: baseline", "id: odd"),
                                    encoding="utf-8")
    (stray / "broken.yaml").write_text("id: broken\ntitle: [\n", encoding="utf-8")
    return root


def test_validate_findings_across_shares_are_those_of_one_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        shared_out: list[int]) -> None:
    monkeypatch.chdir(_project_with_trouble_across_folders(tmp_path))
    alone = _cli(capsys, "validate", "--format", "json", "--jobs", "1")
    assert not shared_out
    shared = _cli(capsys, "validate", "--format", "json", "--jobs", "2")
    assert len(shared_out) == 1  # this process took one share, a forked child the other
    assert shared == alone
    code, out, _ = shared
    assert code == 1
    found = {(p["path"], p["code"]) for p in json.loads(out)["problems"]}
    assert {("scenarios/stray/variant-2.yaml", "RE202"),  # its key is partnership-000's
            ("scenarios/stray/odd.yaml", "RE502"),  # partnership-000 lives in another folder
            ("scenarios/stray/broken.yaml", "RE001")} <= found
    assert len(json.loads(out)["scenarios"]) == 42  # graded, in the order of the files
    # text output too, with the reliability table
    assert _cli(capsys, "validate", "--jobs", "2") == _cli(capsys, "validate", "--jobs", "1")


def test_run_across_shares_is_one_process_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        shared_out: list[int]) -> None:
    monkeypatch.chdir(generate(tmp_path / "p", n_factors=30, n_scenarios=40, per_folder=10,
                               per_scenario=6))
    for form in ("json", "csv", "markdown", "text"):
        alone = _cli(capsys, "run", "scenarios", "--format", form, "--jobs", "1")
        shared = _cli(capsys, "run", "scenarios", "--format", form, "--jobs", "2")
        assert shared == alone and alone[0] == 0
        if form == "json":
            one = alone
    assert len(shared_out) == 4
    # scored a few at a time (score_many's matrices): the records of one scenario at a time
    monkeypatch.setattr("riskengine.cli.RECORDS_AT_ONCE", 3)
    for jobs in ("1", "2"):
        assert _cli(capsys, "run", "scenarios", "--format", "json", "--jobs", jobs) == one
    records = json.loads(one[1])
    assert [r["stability"] for r in records] == [
        score(s).stability for s in load_scenarios("scenarios", jobs=1)]
    # files named out of their folders' order, one twice: records in the order named
    named = ["scenarios/partnership-003/variant-2.yaml", "scenarios/partnership-000",
             "scenarios/partnership-003/baseline.yaml", "scenarios/partnership-003/variant-2.yaml"]
    alone = _cli(capsys, "run", *named, "--format", "json", "--jobs", "1")
    assert _cli(capsys, "run", *named, "--format", "json", "--jobs", "2") == alone
    assert [r["scenario"] for r in json.loads(alone[1])][:2] == ["variant-2", "baseline"]


def test_each_of_all_is_given_each_shares_scenarios_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_out: list[int]) -> None:
    root = generate(tmp_path / "p", n_factors=30, n_scenarios=40, per_folder=10,
                    per_scenario=6)
    calls: list[int] = []

    def scored(scenarios: list[Scenario], catalogue: object) -> list[tuple[str, float]]:
        calls.append(len(scenarios))
        return [(s.key, r.stability) for s, r in zip(scenarios, score_many(scenarios),
                                                     strict=True)]

    one_by_one = apply_project_scenarios(root / "scenarios",
                                         lambda s, _: (s.key, score(s).stability), jobs=1)
    assert apply_project_scenarios(root / "scenarios", each_of_all=scored, jobs=1) == one_by_one
    assert calls == [40]  # one process: all its scenarios in one call
    shared = apply_project_scenarios(root / "scenarios", each_of_all=scored, jobs=2)
    assert shared == one_by_one and len(shared_out) == 1  # the child's call is not seen here
    for wrong in ({}, {"each": lambda s, _: s, "each_of_all": scored}):
        with pytest.raises(TypeError, match="either each or each_of_all"):
            apply_project_scenarios(root / "scenarios", jobs=1, **wrong)  # type: ignore[arg-type]


def test_run_errors_across_shares_are_those_of_one_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        shared_out: list[int]) -> None:
    monkeypatch.chdir(_project_with_trouble_across_folders(tmp_path))
    alone = _cli(capsys, "run", "scenarios", "--jobs", "1")
    shared = _cli(capsys, "run", "scenarios", "--jobs", "2")
    assert shared == alone
    code, out, err = shared
    assert code == 1 and not out
    assert "scenarios/stray/variant-2.yaml" in err and "[RE202]" in err
    assert "[RE502]" in err and "scenarios/stray/broken.yaml" in err


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), min_size=1, max_size=40),
       st.integers(1, 4))
def test_folder_shares_keep_folders_whole(picks: list[tuple[int, int]], shares: int) -> None:
    files = [Path(f"f{folder}") / f"s{name}.yaml" for folder, name in picks]
    parts = folder_shares(files, shares)
    assert 1 <= len(parts) <= shares and all(parts)
    numbered = sorted(item for part in parts for item in part)
    assert numbered == list(enumerate(files))  # every file once, with its place
    homes: dict[Path, int] = {}
    for k, part in enumerate(parts):
        assert [index for index, _ in part] == sorted(
            index for index, _ in part if homes.setdefault(files[index].parent, k) == k)
    assert len(parts) <= len({f.parent for f in files})


def _square_here_or_fail(item: int) -> tuple[int, bool]:
    if item == 3:
        raise ValueError("no threes")
    if item == 4:
        os._exit(7)  # a child that dies without a word
    return item * item, True


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fork whatever threads an earlier test of this process left running."""
    monkeypatch.setattr(executors, "can_fork", lambda: True)


@pytest.mark.usefixtures("forking")
def test_forked_map_gives_results_in_order_and_reports_failures() -> None:
    parent = os.getpid()
    seen = forked_map(lambda item: (item, os.getpid()), [1, 2, 5])
    assert [item for item, _ in seen] == [1, 2, 5]
    assert seen[0][1] == parent and len({pid for _, pid in seen}) == 3
    with pytest.raises(RuntimeError, match="in a worker process: ValueError: no threes"):
        forked_map(_square_here_or_fail, [1, 3])
    with pytest.raises(RuntimeError, match="ended without its result"):
        forked_map(_square_here_or_fail, [1, 4])


@pytest.mark.usefixtures("forking")
def test_forked_map_stops_its_children_when_the_work_here_fails(tmp_path: Path) -> None:
    def slow_elsewhere(item: int) -> int:
        if item == 0:
            deadline = time.monotonic() + 20
            while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)  # both children at work
            raise KeyboardInterrupt
        (tmp_path / str(os.getpid())).touch()
        time.sleep(30)
        return item

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        forked_map(slow_elsewhere, [0, 1, 2])
    assert time.monotonic() - started < 25  # not waiting for the sleeping children
    assert len(list(tmp_path.iterdir())) == 2
    for child in tmp_path.iterdir():  # stopped and reaped: no such process any more
        with pytest.raises(ProcessLookupError):
            os.kill(int(child.name), 0)


def test_hostile_files_in_a_forked_share_give_one_process_findings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        shared_out: list[int]) -> None:
    """Every hostile file of tests/test_hostile.py that cannot crash a process, as a scenario
    file in the folder a forked child checks, and a folder named like a file: the findings,
    their lines and the exit codes are those of one process, for validate and run."""
    from .test_hostile import CAN_CRASH_THE_PROCESS, HOSTILE

    root = _project_with_trouble_across_folders(tmp_path)
    stray = root / "scenarios" / "stray"
    for name, content, _ in HOSTILE:
        if name not in CAN_CRASH_THE_PROCESS:
            (stray / f"{name}.yaml").write_bytes(content)
    (stray / "folder.yaml").mkdir()
    monkeypatch.chdir(root)
    for argv in (("validate", "--format", "json"), ("run", "scenarios")):
        alone = _cli(capsys, *argv, "--jobs", "1")
        shared = _cli(capsys, *argv, "--jobs", "2")
        assert shared == alone
        assert alone[0] == 1 and "huge.yaml" in alone[1] + alone[2]
    assert len(shared_out) == 2


def test_jobs_beyond_four_a_core_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A typo of --jobs would start as many worker processes, or fork as many copies of a
    loaded project: refused as a usage error, before any file is read."""
    monkeypatch.chdir(tmp_path)
    limit = 4 * (os.cpu_count() or 1)
    for command in (["validate", "nothing"], ["run", "nothing"], ["compare", "nothing"],
                    ["report", "nothing", "-o", "r.html"]):
        for value in (str(limit + 1), "99999999999999999999"):
            with pytest.raises(SystemExit) as stopped:
                main([*command, "--jobs", value])
            assert stopped.value.code == 2
            assert f"argument --jobs: at most {limit} (4 per core" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written


def test_diff_scored_where_loaded_is_the_diff_scored_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        shared_out: list[int]) -> None:
    """diff scores each side's scenarios where they are loaded: the same JSON as scoring
    them all in this process."""
    import shutil

    old = generate(tmp_path / "old", n_factors=30, n_scenarios=40, per_folder=10,
                   per_scenario=6)
    new = tmp_path / "new"
    shutil.copytree(old, new)
    moved = new / "scenarios" / "partnership-003" / "variant-2.yaml"
    moved.write_text(moved.read_text(encoding="utf-8").replace("shift: 1", "shift: -0.5"),
                     encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    shared = _cli(capsys, "diff", "old", "new", "--format", "json")
    assert len(shared_out) == 2  # one child a side
    monkeypatch.setattr(loading, "SPLIT_MIN_FILES", 10**9)
    assert _cli(capsys, "diff", "old", "new", "--format", "json") == shared
    assert shared[0] == 0
    assert json.loads(shared[1])["scenarios"][0]["scenario"] == "partnership-003/variant-2"


def test_suppressions_in_either_share_act_as_in_one_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        shared_out: list[int]) -> None:
    """The shares send back the suppressions of the files they read (their text was at hand);
    the catalogue's are taken from its documents: none is read again, and every one acts."""
    root = generate(tmp_path / "p", n_factors=30, n_scenarios=40, per_folder=10,
                    per_scenario=6)
    monkeypatch.chdir(root)
    unused = sorted(p["path"] for p in json.loads(_cli(
        capsys, "validate", "--format", "json", "--jobs", "1")[1])["problems"]
        if p["code"] == "RE606")
    assert len(unused) >= 2
    with open(unused[0], "a", encoding="utf-8") as factor:
        factor.write("# riskengine: ignore-file[RE606] kept for a coming scenario\n")
    for folder, comment in (("partnership-000", "# riskengine: ignore-file[RE999]\n"),
                            ("partnership-003", "# riskengine: nonsense\n")):
        with open(f"scenarios/{folder}/variant-1.yaml", "a", encoding="utf-8") as scenario:
            scenario.write(comment)
    shared_out.clear()
    alone = _cli(capsys, "validate", "--format", "json", "--jobs", "1")
    shared = _cli(capsys, "validate", "--format", "json", "--jobs", "2")
    assert len(shared_out) == 1 and shared == alone
    found = {(p["path"], p["code"]) for p in json.loads(alone[1])["problems"]}
    assert ("scenarios/partnership-000/variant-1.yaml", "RE613") in found
    assert ("scenarios/partnership-003/variant-1.yaml", "RE614") in found
    assert (unused[0], "RE606") not in found and (unused[1], "RE606") in found


def test_run_simulate_in_the_shares_is_one_process_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        shared_out: list[int]) -> None:
    """Each share simulates the scenarios it loads: the same records as simulating them
    after loading, in this process or on a pool, for the exact law and Monte Carlo."""
    from riskengine import parallel

    monkeypatch.chdir(generate(tmp_path / "p", n_factors=30, n_scenarios=40, per_folder=10,
                               per_scenario=6))
    simulated_here: list[int] = []
    pooled = parallel.simulations

    def counting(scenarios: list[object], *args: object, **kwargs: object) -> object:
        simulated_here.append(len(scenarios))
        return pooled(scenarios, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "simulations", counting)
    # each method once, each format once: the formats are written from the same records
    for method, form in (("auto", "json"), ("mc", "csv")):
        argv = ("run", "scenarios", "--simulate", "300", "--method", method, "--format", form)
        alone = _cli(capsys, *argv, "--jobs", "1")
        assert simulated_here.pop() == 40  # one process: all simulated after loading
        shared = _cli(capsys, *argv, "--jobs", "2")
        assert not simulated_here  # every one simulated in its share
        assert shared == alone and alone[0] == 0
    assert len(shared_out) == 2


def test_a_simulation_failing_in_a_share_is_reported_as_in_one_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        shared_out: list[int]) -> None:
    """`--method exact` of a scenario the exact law does not cover fails in its share; the
    scenario is simulated again here, where the usage error is reported as without shares."""
    root = generate(tmp_path / "p", n_factors=30, n_scenarios=40, per_folder=10,
                    per_scenario=6)
    variant = root / "scenarios" / "partnership-003" / "variant-1.yaml"
    variant.write_text(variant.read_text(encoding="utf-8").replace(
        "factors:\n", "model: {aggregation: geometric}\nfactors:\n", 1), encoding="utf-8")
    monkeypatch.chdir(root)
    argv = ("run", "scenarios", "--simulate", "100", "--method", "exact", "--format", "json")
    alone = _cli(capsys, *argv, "--jobs", "1")
    shared = _cli(capsys, *argv, "--jobs", "2")
    assert shared == alone
    code, out, err = shared
    assert code == 2 and not out and "partnership-003/variant-1" in err
    assert "Traceback" not in err and len(shared_out) == 1


def test_a_catalogue_read_in_shares_gives_what_one_process_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A large catalogue's files are read in forked shares and built here: the findings, the
    suppressions written in factor files and the scores are those of one process, for files
    the fast parser reads, files only ruamel reads, and files that cannot be read."""
    root = generate(tmp_path / "p", n_factors=30, n_scenarios=20, per_folder=10,
                    per_scenario=6)
    (root / "riskengine.toml").write_text("", encoding="utf-8")
    factors = root / "factors"
    monkeypatch.chdir(root)
    run = ("run", "scenarios", "--format", "json")
    collected = _forking_on_two_cores(monkeypatch)
    scores_alone = _cli(capsys, *run, "--jobs", "1")
    monkeypatch.setattr(loading, "CATALOGUE_SPLIT_MIN_FILES", 0)
    assert _cli(capsys, *run, "--jobs", "2") == scores_alone and collected
    first = (factors / "f00001.yaml").read_text(encoding="utf-8")
    (factors / "other.yaml").write_text(first, encoding="utf-8")  # RE201, and RE202
    (factors / "broken.yaml").write_text("id: broken\nname: [\n", encoding="utf-8")
    ruamel_only = factors / "f00002.yaml"
    ruamel_only.write_text("---\n" + ruamel_only.read_text(encoding="utf-8"), encoding="utf-8")
    with (factors / "f00003.yaml").open("a", encoding="utf-8") as file:
        file.write("# riskengine: ignore-file[RE302]\n")  # unused: RE612
    # what a hostile contributor might put in the catalogue, read in a child first
    (factors / "binary.yaml").write_bytes(b"id: binary\x00\n")
    (factors / "deep.yaml").write_text("a: " + "[" * 10_000 + "\n", encoding="utf-8")
    (factors / "escape.yaml").write_text('id: escape\nname: "\x1b[31mred"\n', encoding="utf-8")
    huge = factors / "f00004.yaml"
    huge.write_text(huge.read_text(encoding="utf-8").replace("weight: 1", "weight: 1e999"),
                    encoding="utf-8")
    if hasattr(os, "mkfifo"):
        os.mkfifo(factors / "fifo.yaml")
    collected.clear()
    monkeypatch.setattr(loading, "CATALOGUE_SPLIT_MIN_FILES", 10**9)
    alone = _cli(capsys, "validate", "--format", "json", "--jobs", "2")
    assert not collected  # 40 scenario files are not shared out either
    monkeypatch.setattr(loading, "CATALOGUE_SPLIT_MIN_FILES", 0)
    shared = _cli(capsys, "validate", "--format", "json", "--jobs", "2")
    assert len(collected) == 1 and shared == alone
    found = {(p["path"], p["code"]) for p in json.loads(alone[1])["problems"]}
    assert {("factors/other.yaml", "RE201"), ("factors/other.yaml", "RE202"),
            ("factors/f00003.yaml", "RE612")} <= found
    for name in ("broken", "binary", "deep", "escape", "f00004"):
        assert any(path == f"factors/{name}.yaml" for path, _ in found), name
    assert "\x1b" not in alone[1] + alone[2]
