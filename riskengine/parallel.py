"""Every core, then a cluster: executors for the Monte Carlo and the portfolio sweep.

Work is cut into stream blocks (:func:`riskengine.simulation.run_members`) or into scenarios
(:func:`sweep`), and every partial result is combined in a fixed order, so the numbers are the
same to the last digit with one worker, a process pool or a Dask cluster. Any
:class:`concurrent.futures.Executor` will do; :func:`executor` makes the ones the CLI offers:

* ``local``: no pool, everything in this process;
* ``process`` (the default): a pool of ``jobs`` worker processes on this machine;
* ``dask://HOST:PORT``: the workers of a running Dask scheduler (``pip install
  riskengine[dask]``).

The worker functions are top-level functions of importable modules, so a pool can pickle them
by name; a Dask worker needs riskengine installed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from riskengine.models import Scenario

BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                  "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


class ExecutorError(ValueError):
    """A ``--executor`` or ``--jobs`` that cannot be used (a usage error, exit 2)."""

    usage_error = True


def default_jobs() -> int:
    return os.cpu_count() or 1


def one_blas_thread() -> None:
    """Pool initializer: one BLAS thread per worker process. The workers already share the
    cores between them; BLAS threads on top would only compete for them. Ctrl-C is the
    parent's to handle (it reports "interrupted" once), not every worker's traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in BLAS_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def blas_threads() -> tuple[list[int], str | None]:
    """This process's BLAS thread counts and OPENBLAS_NUM_THREADS (to check a worker)."""
    from threadpoolctl import threadpool_info

    return ([lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"],
            os.environ.get("OPENBLAS_NUM_THREADS"))


def process_pool(jobs: int) -> Executor:
    """A pool of ``jobs`` worker processes, each limited to one BLAS thread.

    The variables are set in the parent too while the pool starts, so a worker that loads its
    BLAS before the initializer runs (a forkserver or spawn start) still gets one thread."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    saved = {name: os.environ.get(name) for name in BLAS_VARIABLES}
    os.environ.update(dict.fromkeys(BLAS_VARIABLES, "1"))
    try:
        # forkserver, not fork: the caller may have threads (a Dask client, a progress bar)
        # whose locks a forked child would inherit mid-use
        context = multiprocessing.get_context("forkserver")
        # The server imports the engine once; every worker of every pool forked from it
        # starts with numpy and the kernel loaded instead of importing them again (the
        # setting counts only before the server's first start, which is all it needs).
        context.set_forkserver_preload(["riskengine.simulation", "riskengine.sensitivity",
                                        "riskengine.parallel", "riskengine.files"])
        pool = ProcessPoolExecutor(max_workers=jobs, initializer=one_blas_thread,
                                   mp_context=context)
        # start the workers now, while the variables are set
        pool.submit(int).result()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return pool


class LazyPool(Executor):
    """A process pool that starts its workers on the first task: a command whose work is too
    small to split (one stream block, one scenario) never pays for them."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool: Executor | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if self.pool is None:
            self.pool = process_pool(self.jobs)
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)
            self.pool = None


@contextmanager
def executor(spec: str = "process", jobs: int | None = None) -> Iterator[Executor | None]:
    """The executor named by ``spec`` (``local``, ``process`` or ``dask://HOST:PORT``), shut
    down on exit; None means "in this process". ``process`` with one job is in this process
    too: a pool of one only adds the cost of shipping the work."""
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise ExecutorError(f"--jobs {jobs}: must be at least 1")
    if spec == "local" or (spec == "process" and jobs == 1):
        yield None
        return
    if spec == "process":
        pool = LazyPool(jobs)
        try:
            yield pool
        finally:
            pool.shutdown(cancel_futures=True)
        return
    if spec.startswith("dask://") or spec.startswith("tcp://"):
        address = "tcp://" + spec.split("://", 1)[1]
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError(f"--executor {spec}: Dask is not installed (pip install "
                                "'riskengine[dask]')") from None
        try:
            client = Client(address, timeout="10s")
        except OSError as exc:
            raise ExecutorError(f"--executor {spec}: cannot reach the Dask scheduler at "
                                f"{address} ({exc})") from None
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    raise ExecutorError(f"--executor {spec}: use local, process or dask://HOST:PORT")


def ordered(pool: Executor | None, func: Callable[..., Any], items: Sequence[Any],
            *args: Any, progress: Callable[[int], None] | None = None) -> list[Any]:
    """``[func(item, *args) for item in items]``, on the pool's workers when there is one;
    the results come back in the order of ``items`` whatever order the workers finish in."""
    if pool is None:
        out = []
        for item in items:
            out.append(func(item, *args))
            if progress is not None:
                progress(1)
        return out
    futures = [pool.submit(func, item, *args) for item in items]
    out = []
    for future in futures:
        out.append(future.result())
        if progress is not None:
            progress(1)
    return out


# ---------------------------------------------------------------------------------------------
# the portfolio sweep


@dataclass(frozen=True)
class SweepRow:
    """One scenario of a sweep: its deterministic score and the summary of its simulation."""

    partnership: str
    scenario: str
    stability: float
    risk_index: float | None  # None for a tree without risk and opportunity nodes
    opportunity_index: float | None
    band: str
    method: str
    mean: float
    std: float
    p5: float
    p50: float
    p95: float
    band_probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"partnership": self.partnership, "scenario": self.scenario,
                "stability": self.stability, "risk_index": self.risk_index,
                "opportunity_index": self.opportunity_index, "band": self.band,
                "simulation": {"method": self.method, "mean": self.mean, "std": self.std,
                               "p5": self.p5, "p50": self.p50, "p95": self.p95,
                               "band_probabilities": dict(self.band_probabilities)}}

    def flat(self) -> dict[str, Any]:
        """The CSV row: one column per figure, ``P_<band>`` for the band probabilities."""
        return {"partnership": self.partnership, "scenario": self.scenario,
                "stability": self.stability, "risk_index": self.risk_index,
                "opportunity_index": self.opportunity_index, "band": self.band,
                "method": self.method, "mean": self.mean, "std": self.std, "p5": self.p5,
                "p50": self.p50, "p95": self.p95,
                **{f"P_{band}": p for band, p in self.band_probabilities.items()}}


@dataclass(frozen=True)
class SweepSettings:
    n: int
    seed: int
    sampler: str
    method: str


def sweep_batch(batch: Sequence[Scenario], settings: SweepSettings) -> list[SweepRow]:
    """Worker: score and simulate a batch of scenarios, each exactly as ``run --simulate``
    does (top level: picklable)."""
    from riskengine.scoring import score
    from riskengine.simulation import simulate

    rows = []
    for scenario in batch:
        result = score(scenario)
        sim = simulate(scenario, settings.n, seed=settings.seed,
                       sampler=settings.sampler,  # type: ignore[arg-type]
                       method=settings.method)  # type: ignore[arg-type]
        s = sim.stats.moments[0]
        rows.append(SweepRow(scenario.partnership, scenario.id, result.stability,
                             result.risk_index, result.opportunity_index, result.band,
                             sim.method, s["mean"], s["std"], s["p5"], s["p50"], s["p95"],
                             dict(sim.stats.band_probabilities)))
    return rows


def sweep(scenarios: Sequence[Scenario], n: int = 10_000, seed: int = 0,
          sampler: str = "random", method: str = "auto", executor: Executor | None = None,
          batch: int | None = None, progress: Callable[[int], None] | None = None,
          ) -> list[SweepRow]:
    """Score and simulate many scenarios (a portfolio), one row each, in the given order.

    Each scenario is simulated on its own with ``seed``, as ``riskengine run --simulate``
    would, so a row does not depend on the other scenarios, on the batching or on the
    executor. ``batch``: scenarios per work item (default: about four items per core).
    """
    from riskengine.simulation import choose_method

    choose_method([], method)  # type: ignore[arg-type]  # an unknown method fails here, once
    if batch is None:
        batch = max(1, math.ceil(len(scenarios) / (4 * default_jobs())))
    batches = [tuple(scenarios[i:i + batch]) for i in range(0, len(scenarios), batch)]
    settings = SweepSettings(n, seed, sampler, method)
    parts = ordered(executor if len(batches) > 1 else None, sweep_batch, batches, settings,
                    progress=None if progress is None else _scaled(progress, batches))
    return [row for part in parts for row in part]


def _scaled(progress: Callable[[int], None], batches: Sequence[Sequence[Scenario]]
            ) -> Callable[[int], None]:
    sizes = iter([len(b) for b in batches])
    return lambda _: progress(next(sizes))


# ---------------------------------------------------------------------------------------------
# the sweep's outputs

SWEEP_HEADER = ("Scenario", "S", "R", "O", "Band", "mean", "p5", "p50", "p95", "P(band)")


def _sweep_cells(row: dict[str, Any]) -> list[str]:
    from riskengine.reporting import fmt

    sim = row["simulation"]
    odds = ", ".join(f"{band} {p:.0%}" for band, p in sim["band_probabilities"].items())
    return [f"{row['partnership']}/{row['scenario']}", fmt(row["stability"]),
            fmt(row["risk_index"], 3), fmt(row["opportunity_index"], 3), row["band"],
            fmt(sim["mean"]), fmt(sim["p5"]), fmt(sim["p50"]), fmt(sim["p95"]), odds]


def sweep_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One row per scenario; user text made safe for spreadsheets (reporting.cell)."""
    import csv
    import io

    from riskengine.reporting import cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    bands = list(dict.fromkeys(b for r in rows for b in r["simulation"]["band_probabilities"]))
    writer.writerow(["partnership", "scenario", "stability", "risk_index", "opportunity_index",
                     "band", "method", "mean", "std", "p5", "p50", "p95",
                     *(f"P_{cell(b)}" for b in bands)])
    for r in rows:
        sim = r["simulation"]
        writer.writerow([cell(r["partnership"]), cell(r["scenario"]), repr(r["stability"]),
                         "" if r["risk_index"] is None else repr(r["risk_index"]),
                         "" if r["opportunity_index"] is None else repr(r["opportunity_index"]),
                         cell(r["band"]), sim["method"], *(repr(sim[k]) for k in (
                             "mean", "std", "p5", "p50", "p95")),
                         *(repr(sim["band_probabilities"][b])
                           if b in sim["band_probabilities"] else "" for b in bands)])
    return out.getvalue()


def sweep_markdown(rows: Sequence[dict[str, Any]]) -> str:
    from riskengine.reporting import md

    lines = ["# Sweep", "", "| " + " | ".join(SWEEP_HEADER) + " |",
             "|:---|" + "---:|" * 3 + ":---|" + "---:|" * 4 + ":---|"]
    lines += ["| " + " | ".join(md(c) for c in _sweep_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def print_sweep(rows: Sequence[dict[str, Any]], console: Any) -> None:
    from rich.table import Table

    from riskengine.reporting import band_style, rich_text

    table = Table(title=f"[bold]Sweep[/] — {len(rows)} scenarios", title_justify="left",
                  show_edge=False)
    for name in SWEEP_HEADER:
        table.add_column(name, justify="left" if name in ("Scenario", "Band", "P(band)")
                         else "right")
    for row in rows:
        cells = [rich_text(c) for c in _sweep_cells(row)]
        cells[4] = f"[{band_style(row['band'])}]{cells[4]}[/]"
        table.add_row(*cells)
    console.print(table)
