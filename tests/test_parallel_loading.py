"""Reading many files on worker processes gives what reading them here gives.

Large sets of files are read ahead on a pool (riskengine.files.ReadAhead): the scenarios, the
findings, their order and their lines and columns must be the same for any number of workers.
The threshold and batch size are lowered here so a small project takes the parallel path, in
several batches.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import pytest

from benchmarks.generate import generate
from riskengine import cli, files, yamlio
from riskengine.executors import LazyPool
from riskengine.files import ReadAhead, Readers, read_batch
from riskengine.loading import load_project_scenarios
from riskengine.problems import InputError
from riskengine.validation import validate
from riskengine.yamlio import PURE_ENV, RUAMEL_ENV, Document, read_yaml


@pytest.fixture
def parallel_small(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every set of files goes to the pool, three files a batch, and the caller waits for
    the workers instead of reading a file itself when they are behind (as it would on a busy
    machine), so every document comes from a worker. Counts the batches taken from them."""
    monkeypatch.setattr(files, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(files, "_MIN_BATCH", 3)
    taken: list[int] = []

    def waiting(self: ReadAhead, batch: int) -> Future[list[object]] | None:
        assert self._submitter is not None
        self._submitter.join()  # every batch handed over
        taken.append(batch)
        return self._batches[batch]  # type: ignore[return-value]

    monkeypatch.setattr(ReadAhead, "_ready", waiting)
    return taken


def _broken_project(tmp_path: Path) -> Path:
    """A generated project with one file of each kind of trouble among valid ones."""
    root = generate(tmp_path / "p", n_factors=30, n_scenarios=30, per_folder=10,
                    per_scenario=6)
    (root / "riskengine.toml").write_text("", encoding="utf-8")
    folder = root / "scenarios" / "partnership-001"
    (folder / "variant-1.yaml").write_text("id: variant-1\ntitle: [unclosed\n", encoding="utf-8")
    (folder / "variant-2.yaml").write_bytes(b"id: variant-2\ntitle: \xff\n")
    text = (folder / "variant-3.yaml").read_text(encoding="utf-8")
    (folder / "variant-3.yaml").write_text(text.replace("title:", "colour: red\ntitle:"),
                                           encoding="utf-8")
    (folder / "variant-4.yaml").write_text(text.replace("variant-3", "variant-4").replace(
        "title:", "title: twice\ntitle:"), encoding="utf-8")
    (folder / "variant-5.yaml").write_text(text.replace("variant-3", "variant-5").replace(
        "extends: baseline", "extends: nowhere"), encoding="utf-8")
    (root / "factors" / "f00003.yaml").write_text("id: f00003\nname: [\n", encoding="utf-8")
    (root / "scenarios" / "partnership-002" / "variant-6.yaml").write_text("", encoding="utf-8")
    return root


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_findings_identical_for_any_number_of_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        parallel_small: list[int]) -> None:
    root = _broken_project(tmp_path)
    monkeypatch.chdir(root)  # paths shown relative to here, whatever folder the workers began in
    serial = _cli(capsys, "validate", "--format", "json", "--jobs", "1")
    assert not parallel_small
    parallel = _cli(capsys, "validate", "--format", "json", "--jobs", "2")
    assert len(set(parallel_small)) > 2  # the catalogue and the scenarios, several batches
    assert parallel == serial
    code, out, _ = parallel
    assert code == 1
    found = {(p["path"], p["code"]) for p in json.loads(out)["problems"]}
    assert {("factors/f00003.yaml", "RE001"), ("scenarios/partnership-001/variant-1.yaml",
                                                "RE001"),
            ("scenarios/partnership-001/variant-2.yaml", "RE001"),
            ("scenarios/partnership-001/variant-3.yaml", "RE101"),
            ("scenarios/partnership-001/variant-4.yaml", "RE004"),
            ("scenarios/partnership-001/variant-5.yaml", "RE401"),
            ("scenarios/partnership-002/variant-6.yaml", "RE001")} <= found
    text_serial = _cli(capsys, "validate", "--jobs", "1")
    assert _cli(capsys, "validate", "--jobs", "2") == text_serial


def test_run_identical_for_any_number_of_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        parallel_small: list[int]) -> None:
    root = generate(tmp_path / "p", n_factors=30, n_scenarios=30, per_folder=10,
                    per_scenario=6)
    monkeypatch.chdir(root)
    args = ("run", "scenarios", "--format", "json", "--simulate", "200", "--method", "mc")
    serial = _cli(capsys, *args, "--jobs", "1")
    assert not parallel_small
    parallel = _cli(capsys, *args, "--jobs", "2")
    assert parallel_small
    assert parallel == serial
    assert serial[0] == 0 and len(json.loads(serial[1])) == 30


def test_loading_errors_identical_for_any_number_of_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel_small: list[int]) -> None:
    root = _broken_project(tmp_path)
    (root / "factors" / "f00003.yaml").write_text(
        (root / "factors" / "f00004.yaml").read_text(encoding="utf-8").replace(
            "f00004", "f00003"), encoding="utf-8")  # a catalogue that loads
    monkeypatch.chdir(root)
    raised = []
    for jobs in (1, 2):
        with pytest.raises(InputError) as caught:
            load_project_scenarios([Path("scenarios")], jobs=jobs)
        raised.append(caught.value.problems)
    assert raised[0] == raised[1]
    assert [(p.line, p.col) for p in raised[0]] == [(p.line, p.col) for p in raised[1]]
    assert parallel_small


def test_validate_api_identical_with_pure_parser(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel_small: list[int]) -> None:
    """The workers parse with the parser the caller chose (RISKENGINE_PURE_YAML)."""
    root = _broken_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv(PURE_ENV, "1")
    pure = [validate(["factors", "scenarios"], jobs=jobs) for jobs in (1, 2)]
    assert pure[0].problems == pure[1].problems
    assert pure[0].graded == pure[1].graded


def test_read_batch_takes_the_callers_folder_and_parser(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.yaml").write_text("x: 1\ny: [2, 3]\n", encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("x: [\n", encoding="utf-8")
    monkeypatch.setenv(PURE_ENV, "")
    monkeypatch.setenv(RUAMEL_ENV, "1")
    here = os.getcwd()
    [(data, positions, text, none), (nothing, no_positions, no_text, problems)] = read_batch(
        ["a.yaml", "bad.yaml"], str(tmp_path), {PURE_ENV: "1"})
    try:
        assert os.getcwd() == str(tmp_path)
        assert os.environ[PURE_ENV] == "1"
        assert RUAMEL_ENV not in os.environ  # the caller's choice, not the worker's inherited
    finally:
        os.chdir(here)
    monkeypatch.setenv(PURE_ENV, "1")
    doc = read_yaml(tmp_path / "a.yaml")
    assert (data, positions, text, none) == (doc.data, doc.positions, None, None)
    assert nothing is None and no_positions is None and no_text is None
    assert problems is not None and problems[0][:2] == ("bad.yaml", 2)


def test_read_batch_sends_the_text_of_a_file_the_fast_parser_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Positions are found when a finding needs them, in the caller, from the text."""
    if not yamlio._has_fast():
        pytest.skip("yaml-rs is not installed")
    (tmp_path / "a.yaml").write_text("x: 1\ny:\n  z: [2, 3]\n", encoding="utf-8")
    here = os.getcwd()
    try:
        [(data, positions, text, none)] = read_batch(["a.yaml"], str(tmp_path), {})
    finally:
        os.chdir(here)
    assert positions is None and text == "x: 1\ny:\n  z: [2, 3]\n" and none is None
    doc = Document(tmp_path / "a.yaml", data, positions, text)
    assert doc.data == {"x": 1, "y": {"z": [2, 3]}}
    assert doc.position(("y", "z")) == (3, 3)


def test_read_ahead_reads_here_below_the_threshold_or_under_another_spelling(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    submitted: list[tuple[object, ...]] = []

    def submit(self: LazyPool, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        submitted.append(args)
        return Future()  # a pool that never answers: nothing may wait for it

    monkeypatch.setattr(LazyPool, "submit", submit)
    path = tmp_path / "a.yaml"
    path.write_text("x: 1\n", encoding="utf-8")
    with Readers(2) as shared, ReadAhead([path], shared) as ahead:
        assert ahead.read(path) == read_yaml(path)
    assert not submitted  # one file: no pool
    monkeypatch.setattr(files, "PARALLEL_MIN_FILES", 0)
    monkeypatch.chdir(tmp_path)
    with ReadAhead([path], 2) as ahead:
        assert submitted
        # the same file under another spelling is read here, and shown as that spelling
        assert ahead.read(Path("a.yaml")) == read_yaml(Path("a.yaml"))


def _idle_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, names: Sequence[str]
                  ) -> tuple[list[Path], list[Future[object]]]:
    """Files ``names`` read ahead one a batch by workers that never start on their own: each
    batch's future is the test's to complete or leave pending."""
    monkeypatch.setattr(files, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(files, "_MIN_BATCH", 1)
    futures: list[Future[object]] = []

    def submit(self: LazyPool, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        futures.append(Future())
        return futures[-1]

    monkeypatch.setattr(LazyPool, "submit", submit)
    paths = []
    for name in names:
        paths.append(tmp_path / f"{name}.yaml")
        paths[-1].write_text(f"id: {name}\n", encoding="utf-8")
    return paths, futures


def test_caller_reads_what_the_workers_have_not_reached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch not done when its first file is wanted is read here, and dropped if not begun."""
    paths, pending = _idle_workers(tmp_path, monkeypatch, ("a", "b"))
    with ReadAhead(paths, 2) as ahead:
        assert ahead._submitter is not None
        ahead._submitter.join()
        assert [ahead.read(p) for p in paths] == [read_yaml(p) for p in paths]
    assert len(pending) == 2 and all(f.cancelled() for f in pending)


def test_workers_behind_the_caller_get_no_more_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers that are up but a whole batch behind lack a core: the rest is read here."""
    paths, futures = _idle_workers(tmp_path, monkeypatch, ("a", "b", "c"))
    with ReadAhead(paths, 2) as ahead:
        assert ahead._submitter is not None
        ahead._submitter.join()
        first = read_yaml(paths[0])
        futures[0].set_result([(first.data, first.positions, None, None)])  # a worker read `a`
        assert ahead.read(paths[0]) == first
        assert not any(f.cancelled() for f in futures)
        assert ahead.read(paths[1]) == read_yaml(paths[1])  # `b` not begun: read here...
        assert futures[1].cancelled() and futures[2].cancelled()  # ...and no more for them
        assert ahead.read(paths[2]) == read_yaml(paths[2])


def test_closing_readers_leaves_no_pool_thread_behind() -> None:
    """Readers.close waits for the batch a worker is reading: a pool thread still running at
    interpreter exit raced it closing its pipe and printed a traceback after a failed run."""
    import threading
    import time
    from concurrent.futures.process import _ExecutorManagerThread

    readers = Readers(2)
    pool = readers.pool_for(files.PARALLEL_MIN_FILES)
    assert pool is not None
    busy = pool.submit(time.sleep, 0.5)  # a worker in the middle of a batch
    readers.close()
    assert busy.done()
    assert not [t for t in threading.enumerate()
                if isinstance(t, _ExecutorManagerThread) and t.is_alive()]
