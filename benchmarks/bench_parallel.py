"""Benchmarks of the parallel plumbing and the Sobol intervals, each against a baseline
measured in the same run.

1. A portfolio sweep: 1,000 generated scenarios x 1e5 Monte Carlo draws each (``sweep``), in
   this process (the baseline), on a process pool of 1 and of 2 workers. Target: 2 workers
   >= 1.8x the baseline on a 2-core machine. The rows must be identical.
2. One large run cut into stream blocks: ``simulate`` 2e6 draws x 30 PERT factors, in this
   process and on 2 workers (identical summaries).
3. A Dask ``LocalCluster`` (2 worker processes, 1 thread each) against this process on a
   smaller sweep (identical rows; timing, including the scheduler's overhead).
4. Sobol intervals on a linear model (d = 6, N = 1024, 200 seeds): coverage of the exact
   indices and mean width, the old bootstrap over rows of one scrambled sequence (baseline)
   against the new randomised-QMC Student-t interval over independent scramblings
   (``SOBOL_REPLICATES``).

Run:  python3 tasks.py bench   (or .venv/bin/python benchmarks/bench_parallel.py [--quick])
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from riskengine.executors import process_pool
from riskengine.models import Distribution, Estimate, Factor, Scale, Scenario
from riskengine.parallel import sweep
from riskengine.scoring import ModelArrays
from riskengine.sensitivity import (
    SOBOL_REPLICATES,
    analytic_sobol,
    estimate_sobol,
    sobol_indices,
    sobol_terms,
    stability_of,
)
from riskengine.simulation import Marginals, simulate

QUICK = "--quick" in sys.argv
N_SCENARIOS = 100 if QUICK else 1_000
N_DRAWS = 100_000
N_BIG = 2_000_000
SOBOL_SEEDS = 50 if QUICK else 200


def portfolio(count: int, factors: int = 12, seed: int = 0) -> list[Scenario]:
    """``count`` scenarios over one catalogue of ``factors`` factors, estimates drawn at
    random (PERT, triangular and uniform), in memory."""
    rng = np.random.default_rng(seed)
    catalogue = [Factor(id=f"f{i:02d}", name=f"F{i}", kind="risk" if i % 2 else "opportunity",
                        description="benchmark factor", scale=Scale(min=0, max=10, unit="u"),
                        higher_means="more", weight=1 + i % 4) for i in range(factors)]
    out = []
    for k in range(count):
        estimates = []
        for i, factor in enumerate(catalogue):
            low = round(float(rng.uniform(0, 8)), 2)
            high = round(float(rng.uniform(low + 1, 10)), 2)
            mode = round(float(rng.uniform(low, high)), 2)
            estimates.append(Estimate(factor=factor, low=float(low), mode=mode,
                                      high=float(high),
                                      distribution=("pert", "triangular", "uniform")[i % 3],
                                      weight=factor.weight))
        out.append(Scenario(id=f"s{k:04d}", title=f"Scenario {k}", partnership="bench",
                            estimates=tuple(estimates)))
    return out


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def load() -> str:
    """The 1-minute load average: on a 2-core machine above 2 means other processes took
    cores from the measurement."""
    return f"{os.getloadavg()[0]:.1f}"


Row = tuple[str, str, str, str, str]
SobolRow = tuple[str, str, str, str]  # estimator, coverage, mean width, time


def bench_sweep(scenarios: list[Scenario]) -> list[Row]:
    base, rows = timed(lambda: sweep(scenarios, N_DRAWS, seed=0, method="mc"))
    figures = [(f"sweep {len(scenarios)} x {N_DRAWS:.0e}", "this process (baseline)",
                f"{base:.1f} s", "1.00", load())]
    for jobs in (1, 2):
        with process_pool(jobs) as pool:
            took, again = timed(partial(sweep, scenarios, N_DRAWS, seed=0, method="mc",
                                        executor=pool))
        same = "identical" if again == rows else "DIFFERENT"
        figures.append(("", f"process pool, {jobs} worker(s) ({same})", f"{took:.1f} s",
                        f"{base / took:.2f}x", load()))
    return figures


def bench_blocks() -> list[Row]:
    scenario = portfolio(1, factors=30, seed=1)[0]
    base, alone = timed(lambda: simulate(scenario, N_BIG, seed=0, method="mc").stats)
    base_load = load()
    with process_pool(2) as pool:
        took, shared = timed(lambda: simulate(scenario, N_BIG, seed=0, method="mc",
                                              executor=pool).stats)
    same = "identical" if shared == alone else "DIFFERENT"
    return [(f"simulate {N_BIG:.0e} x 30", "this process (baseline)", f"{base:.1f} s", "1.00",
             base_load),
            ("", f"2 workers, by stream block ({same})", f"{took:.1f} s",
             f"{base / took:.2f}x", load())]


def bench_dask(scenarios: list[Scenario]) -> list[Row]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return [("Dask", "not installed: pip install 'riskengine[dask]'", "", "", "")]
    import dask

    base, rows = timed(lambda: sweep(scenarios, N_DRAWS, seed=0, method="mc"))
    base_load = load()
    # the workers' statistical profiler samples every stack 100 times a second: off here
    with dask.config.set({"distributed.worker.profile.enabled": False}), LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None) as cluster, Client(cluster) as client:
        ex = client.get_executor()
        took, again = timed(lambda: sweep(scenarios, N_DRAWS, seed=0, method="mc",
                                          executor=ex))
    same = "identical" if again == rows else "DIFFERENT"
    return [(f"Dask sweep {len(scenarios)} x {N_DRAWS:.0e}", "this process (baseline)",
             f"{base:.1f} s", "1.00", base_load),
            ("", f"LocalCluster 2 x 1 thread ({same})", f"{took:.1f} s", f"{base / took:.2f}x",
             load())]


def bootstrap_sobol(model: Callable[[np.ndarray], np.ndarray],
                    ppf: Callable[[np.ndarray], np.ndarray], dims: int, n: int, seed: int,
                    resamples: int = 200) -> tuple[np.ndarray, ...]:
    """The old estimator, kept here as the baseline: one scrambled Sobol sequence, its rows
    bootstrapped as if they were independent."""
    from scipy.stats import qmc

    rng = np.random.default_rng(seed)
    base = qmc.Sobol(2 * dims, scramble=True, seed=rng).random(n)
    terms = sobol_terms(model, ppf(base[:, :dims]), ppf(base[:, dims:]))
    first, total = sobol_indices(terms.mean(axis=0), dims)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)
    first_boot, total_boot = sobol_indices(counts @ terms / n, dims)
    return (first, np.percentile(first_boot, (2.5, 97.5), axis=0).T, total,
            np.percentile(total_boot, (2.5, 97.5), axis=0).T)


def linear_scenario(d: int = 6) -> Scenario:
    distributions: tuple[Distribution, ...] = ("pert", "triangular", "uniform")
    estimates = []
    for i in range(d):
        factor = Factor(id=f"f{i}", name=f"F{i}", kind="risk" if i % 2 else "opportunity",
                        description="d", scale=Scale(min=0, max=10, unit="u"),
                        higher_means="less" if i == 3 else "more", weight=1 + i)
        estimates.append(Estimate(factor=factor, low=1 + i % 3, mode=3 + i % 4, high=9,
                                  distribution=distributions[i % 3], weight=1 + i))
    return Scenario(id="lin", title="Linear", partnership="p", estimates=tuple(estimates))


def bench_sobol_intervals(n: int = 1024) -> list[SobolRow]:
    scenario = linear_scenario()
    arrays, marginals = ModelArrays.of(scenario), Marginals.of(scenario)
    exact = np.array([r["total"] for r in analytic_sobol(scenario)])
    d = exact.size

    def model(x: np.ndarray) -> np.ndarray:
        return stability_of(x, arrays)

    figures = []
    new = f"new: RQMC, Student-t over {SOBOL_REPLICATES} scramblings"
    for name, estimator in (("old: bootstrap of one sequence (baseline)", bootstrap_sobol),
                            (new, estimate_sobol)):
        covered, widths = [], []
        start = time.perf_counter()
        for seed in range(SOBOL_SEEDS):
            _, first_ci, _, total_ci = estimator(model, marginals.ppf, d, n, seed)
            for ci in (first_ci, total_ci):
                covered.append((ci[:, 0] <= exact) & (exact <= ci[:, 1]))
                widths.append(ci[:, 1] - ci[:, 0])
        took = time.perf_counter() - start
        rate = np.mean(covered, axis=0)
        figures.append((name, f"{np.mean(covered):.1%} (per index {rate.min():.1%}–"
                        f"{rate.max():.1%})", f"{np.mean(widths):.4f}", f"{took:.1f} s"))
    old_width, new_width = (float(f[2]) for f in figures)
    figures.append(("width, old / new", "", f"{old_width / new_width:.1f}x", ""))
    return figures


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    console.print(f"cores: {os.cpu_count()}, load average at start: "
                  f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    scenarios = portfolio(N_SCENARIOS)
    table = Table(title="riskengine parallel benchmarks (one run each)", title_justify="left")
    for name in ("benchmark", "what", "time", "speed-up vs baseline", "load after"):
        table.add_column(name, justify="left" if name == "what" else "right")
    for row in (*bench_sweep(scenarios), *bench_blocks(),
                *bench_dask(scenarios[: max(50, N_SCENARIOS // 5)])):
        table.add_row(*row)
    console.print(table)
    sobol = Table(title=f"Sobol 95 % intervals, linear model d = 6, N = 1024, {SOBOL_SEEDS} "
                        "seeds (first-order and total)", title_justify="left")
    for name in ("estimator", "coverage of the exact index", "mean width", "time"):
        sobol.add_column(name, justify="left" if name == "estimator" else "right")
    for sobol_row in bench_sobol_intervals():
        sobol.add_row(*sobol_row)
    console.print(sobol)
    console.print(f"load average at end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
