"""Every core: the same numbers to the last digit whatever runs the blocks.

A run cut into stream blocks and drawn by a process pool or a thread pool must give exactly
what one process gives; so must a sweep cut into batches of scenarios. (A Dask cluster:
test_dask.py. The Sobol intervals from independent scramblings: test_sensitivity.py.)
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import fields, is_dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from riskengine import cli, simulation
from riskengine.compare import compare
from riskengine.executors import blas_threads, executor, process_pool
from riskengine.loading import load_scenarios
from riskengine.models import Scenario
from riskengine.outlook import outlook
from riskengine.parallel import sweep
from riskengine.simulation import (
    STREAM_BLOCK,
    CompiledScenario,
    RunResult,
    StreamSpec,
    block_ranges,
    run_members,
    run_task,
    simulate,
)

ROOT = Path(__file__).resolve().parents[1]
N = STREAM_BLOCK + 1_000  # two stream blocks, the second one partial


@pytest.fixture(scope="module")
def shipped() -> list[Scenario]:
    return load_scenarios(ROOT / "scenarios")


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    with process_pool(2) as workers:
        yield workers


def test_blocks_are_split_into_ranges_that_cover_them_once() -> None:
    for n in (1, STREAM_BLOCK, N, 40 * STREAM_BLOCK + 5):
        ranges = block_ranges(n, parts=7)
        assert [b for r in ranges for b in r] == list(range(-(-n // STREAM_BLOCK)))
        assert len(ranges) <= 7


@pytest.mark.parametrize("sampler", ["random", "sobol"])
def test_simulate_is_identical_on_a_process_pool(shipped: list[Scenario], pool: Executor,
                                                 sampler: str) -> None:
    # a correlated scenario (copula path) and, with Sobol, workers that fast-forward the
    # sequence to their first block
    scenario = next(s for s in shipped if s.correlations)
    alone = simulate(scenario, N, seed=7, sampler=sampler, method="mc")  # type: ignore[arg-type]
    shared = simulate(scenario, N, seed=7, sampler=sampler, method="mc",  # type: ignore[arg-type]
                      executor=pool)
    assert shared.stats == alone.stats
    assert np.array_equal(shared.stability, alone.stability)


def test_compare_and_outlook_are_identical_on_any_executor(shipped: list[Scenario],
                                                           pool: Executor,
                                                           share_small: None) -> None:
    # two partnerships: runs per partnership, then the baselines' pairs across them
    two = [s for s in shipped if s.partnership in ("japan-turkey", "japan-uk")]
    want = compare(two, n=N, seed=3, method="mc").to_dict()
    assert compare(two, n=N, seed=3, method="mc", executor=pool).to_dict() == want
    assert want["pairs"] and all(p["method"] == "mc" for p in want["pairs"])
    group = [s for s in shipped if s.partnership == "japan-turkey"]
    if all(s.probability for s in group):
        mixed = outlook(group, n=N, seed=3, method="mc").to_dict()
        assert outlook(group, n=N, seed=3, method="mc", executor=pool).to_dict() == mixed


def test_the_exact_percentile_passes_run_on_the_workers(shipped: list[Scenario],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # outputs too large to keep: the percentile passes draw the blocks again, here on the
    # workers, and find the same order statistics
    monkeypatch.setattr(simulation, "KEEP_BYTES", 0)
    members = shipped[:2]
    n = N
    pairs = [(0, 1)]
    alone, _ = run_members(members, n, 11, "random", True, pairs=pairs, mixture=[0.5, 0.5])
    with ThreadPoolExecutor(2) as threads:
        shared, _ = run_members(members, n, 11, "random", True, pairs=pairs,
                                mixture=[0.5, 0.5], executor=threads)
    assert shared == alone


def test_workers_use_one_blas_thread(pool: Executor) -> None:
    counts, variable = pool.submit(blas_threads).result()
    assert counts and set(counts) == {1}
    assert variable == "1"


def test_a_stream_is_drawn_on_one_blas_thread(shipped: list[Scenario],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit holds inside every stream, also for a BLAS loaded since the controller was
    found (scipy's, by the first stream), and the caller's thread count comes back after."""
    from threadpoolctl import threadpool_info

    def blas() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before, inside = blas(), []
    blocks = simulation._stream_blocks

    def spy(*args: Any, **kwargs: Any) -> Any:
        inside.append(blas())
        yield from blocks(*args, **kwargs)

    monkeypatch.setattr(simulation, "_stream_blocks", spy)
    for _ in range(2):
        simulate(shipped[0], n=500, seed=1, method="mc")
    assert len(inside) == 2 and all(counts and set(counts) == {1} for counts in inside)
    assert set(blas()) == set(before)  # scipy's BLAS, loaded meanwhile, starts at the default


def test_sweep_rows_are_run_simulate_rows_whatever_the_batching(shipped: list[Scenario],
                                                                pool: Executor) -> None:
    rows = sweep(shipped, n=3_000, seed=2, method="mc")
    assert sweep(shipped, n=3_000, seed=2, method="mc", executor=pool, batch=2) == rows
    assert sweep(shipped, n=3_000, seed=2, method="mc", batch=5) == rows
    assert [(r.partnership, r.scenario) for r in rows] == [(s.partnership, s.id)
                                                            for s in shipped]
    one = simulate(shipped[4], 3_000, seed=2, method="mc").to_dict()
    assert rows[4].to_dict()["simulation"] == {k: one[k] for k in (
        "method", "mean", "std", "p5", "p50", "p95", "band_probabilities")}


def test_cli_jobs_give_the_same_json(capsys: pytest.CaptureFixture[str],
                                     share_small: None) -> None:
    outputs = []
    # three partnerships: each one's run is a task of the pool
    for flags in (["--jobs", "2"], ["--executor", "local"]):
        assert cli.main(["compare", str(ROOT / "scenarios"), "--simulate", "3000",
                         "--method", "mc", "--format", "json", "-q", *flags]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["rows"]


def test_cli_sensitivity_shares_out_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for flags in (["--jobs", "2"], ["--executor", "local"]):
        assert cli.main(["sensitivity", str(ROOT / "scenarios/japan-turkey/baseline.yaml"),
                         str(ROOT / "scenarios/japan-uk/baseline.yaml"), "--n", "64",
                         "--sobol", "estimate", "--format", "json", "-q", *flags]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert [r["partnership"] for r in json.loads(outputs[0])] == ["japan-turkey", "japan-uk"]


def test_cli_sweep_json_and_csv(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sweep", str(ROOT / "scenarios"), "--simulate", "2000", "--format",
                     "json", "-q", "--jobs", "2"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(list((ROOT / "scenarios").glob("*/*.yaml")))
    assert {"stability", "band", "simulation"} <= set(rows[0])
    assert cli.main(["sweep", str(ROOT / "scenarios/japan-turkey"), "--simulate", "2000",
                     "--format", "csv", "-q", "--executor", "local"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("partnership,scenario,stability,")
    japan = [r for r in rows if r["partnership"] == "japan-turkey"]
    assert len(lines) == 1 + len(japan)
    first = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert float(first["p50"]) == japan[0]["simulation"]["p50"]


def test_cli_unknown_executor_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sweep", str(ROOT / "scenarios/japan-turkey"), "-q", "--executor",
                     "ray://x"]) == 2
    assert capsys.readouterr().err == ("riskengine sweep: error: --executor ray://x: use "
                                       "local, process or dask://HOST:PORT\n")


def test_cli_jobs_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["compare", str(ROOT / "scenarios/japan-turkey"), "--jobs", "0"])
    assert stop.value.code == 2
    assert "argument --jobs: must be at least 1, got 0" in capsys.readouterr().err


def test_executor_names() -> None:
    with executor("local", 4) as ex:
        assert ex is None
    with executor("process", 1) as ex:
        assert ex is None  # one job: no pool to ship the work to


def _same_runs(got: tuple[RunResult, list[np.ndarray] | None],
               want: tuple[RunResult, list[np.ndarray] | None]) -> None:
    (result, outputs), (ref, ref_outputs) = got, want
    assert (result.summaries, result.pairs, result.mixture) == (ref.summaries, ref.pairs,
                                                                 ref.mixture)
    assert result.stability.keys() == ref.stability.keys()
    for m, values in result.stability.items():
        assert np.array_equal(values, ref.stability[m])
    assert (outputs is None) == (ref_outputs is None)
    for out, ref_out in zip(outputs or [], ref_outputs or [], strict=True):
        assert np.array_equal(out, ref_out)


@pytest.mark.parametrize("sampler", ["random", "sobol"])
def test_a_run_shipped_to_a_worker_gives_the_numbers_drawn_here(shipped: list[Scenario],
                                                                pool: Executor,
                                                                sampler: str) -> None:
    # what crosses to the worker is the compiled run (arrays, marginals, copula, draw keys),
    # not the models: a correlated baseline (the copula), variants sharing its columns, the
    # pairs, the outlook mixture, stability draws and the kept outputs all come back the same
    group = [s for s in shipped if s.partnership == "japan-turkey"]
    assert any(s.correlations for s in group)
    pairs = list(combinations(range(len(group)), 2))
    mixture = [1.0 / len(group)] * len(group)
    n = 5_000  # a whole run is one task whatever its blocks: one block is enough
    spec = StreamSpec.of(group, n, 5, sampler, True)  # type: ignore[arg-type]
    args = (pairs, mixture, [0, 2], True)
    there = pool.submit(run_task, spec, *args).result()
    _same_runs(there, run_task(spec, *args))
    # and the numbers of the models themselves, run here
    result, arrays_of = run_members(group, n, 5, sampler, True,  # type: ignore[arg-type]
                                    pairs=pairs, mixture=mixture, want=[0, 2])
    _same_runs(there, (result, [arrays_of(m) for m in range(len(group))]))


class _Watch(pickle.Pickler):
    """A pickler that notes every pydantic model it is asked to pickle."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
        self.models: list[str] = []

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, BaseModel):
            self.models.append(type(obj).__name__)
        return NotImplemented


class _Shipping(Executor):
    """Pickles every task as a process pool would (watching for models), then runs it here."""

    def __init__(self) -> None:
        self.tasks: list[str] = []
        self.models: list[str] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        watch = _Watch()
        watch.dump((fn, args, kwargs))
        self.tasks.append(fn.__name__)
        self.models += watch.models
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_compare_ships_its_runs_without_a_pydantic_model(shipped: list[Scenario],
                                                          share_small: None) -> None:
    watch = _Watch()
    watch.dump(tuple(shipped))
    assert "Scenario" in watch.models  # the watch sees models where there are some
    shipping = _Shipping()
    got = compare(shipped, n=3000, seed=3, method="mc", executor=shipping).to_dict()
    assert shipping.tasks and set(shipping.tasks) == {"run_task"}
    assert shipping.models == []
    assert got == compare(shipped, n=3000, seed=3, method="mc").to_dict()


def test_a_compiled_scenario_arrives_whole() -> None:
    # a tree over a population (the ASEM example): its bands and display scale travel as
    # plain fields and are rebuilt on arrival
    scenario = load_scenarios(ROOT / "examples" / "asem-2018" / "scenarios")[0]
    sent = CompiledScenario.of(scenario)
    back = pickle.loads(pickle.dumps(sent))
    assert _equal(back, sent)
    assert [(b.name, b.min) for b in back.arrays.bands] == [(b.name, b.min)
                                                           for b in sent.arrays.bands]
    assert back.arrays.tree.scale == sent.arrays.tree.scale


def _equal(a: Any, b: Any) -> bool:
    """Equal field by field, arrays element by element."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(_equal(getattr(a, f.name), getattr(b, f.name))
                                          for f in fields(a))
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(
            _equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_a_warmed_fork_server_gives_workers_one_blas_thread() -> None:
    """warm_workers starts the fork server early (in a fresh process: the server is one per
    process) with the BLAS variables at one thread, so its workers get one, and leaves this
    process's variables as they were."""
    import subprocess
    import sys

    # the server's own environment, which its workers inherit, read while it imports
    code = """
import os
import time
from multiprocessing import forkserver
from riskengine.executors import warm_workers
os.environ.pop("OMP_NUM_THREADS", None)
warm_workers()
assert "OMP_NUM_THREADS" not in os.environ
pid = forkserver._forkserver._forkserver_pid
# until the server has started the interpreter, /proc shows the environment this process
# began with (on a busy machine that took long enough to be read: a flaky failure)
for _ in range(2000):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        if b"forkserver" in f.read():
            break
    time.sleep(0.005)
with open(f"/proc/{pid}/environ", "rb") as f:
    print([v for v in f.read().split(b"\\0") if v.startswith(b"OMP_NUM_THREADS=")])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[b'OMP_NUM_THREADS=1']"


def test_cli_run_simulate_shares_scenarios_out(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small scenarios: run --simulate shares whole scenarios out (each one's numbers
    depend on nothing but itself and the seed): the same JSON as in this process, exact and
    Monte Carlo."""
    from riskengine import parallel

    monkeypatch.setattr(parallel, "RUN_SHARE_FROM", 2)
    shared: list[int] = []
    real = parallel.ordered

    def spy(pool: Any, func: Any, items: Any, *args: Any, **kwargs: Any) -> Any:
        if func is parallel.simulation_batch:
            shared.extend(len(batch) for batch in items)
        return real(pool, func, items, *args, **kwargs)

    monkeypatch.setattr(parallel, "ordered", spy)
    for method in ("auto", "mc"):
        outputs = []
        for flags in (["--executor", "local"], ["--jobs", "2"]):
            assert cli.main(["run", str(ROOT / "scenarios"), "--simulate", "500", "--method",
                             method, "--format", "json", "-q", *flags]) == 0
            outputs.append(capsys.readouterr().out)
        assert outputs[0] == outputs[1]
    assert sum(shared) == 2 * 11  # every scenario, in each method, through the batches
