"""Benchmarks of the uncertainty engine, each against a baseline run in the same process.

1. Monte Carlo, 1,000,000 samples x 30 PERT factors: riskengine's simulate() (draw, score,
   summarise) against drawing the same Beta variates alone with numpy. Target ratio <= 1.2.
2. Sobol indices with 95 % intervals, d = 30, N = 2^14: riskengine's estimator against SALib's
   sobol.sample + sobol.analyze (default bootstrap), both compared with the exact indices.
   Target: >= 15x faster, same or better accuracy.

Run:  python3 tasks.py bench   (or .venv/bin/python benchmarks/bench_uncertainty.py)
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

from riskengine.models import Estimate, Factor, Scale, Scenario
from riskengine.scoring import ModelArrays, aggregate, normalise
from riskengine.sensitivity import analytic_sobol, estimate_sobol
from riskengine.simulation import STREAM_BLOCK, Marginals, block_rng, simulate

N_MC = 1_000_000
D = 30
N_SOBOL = 2**14


def scenario_30() -> Scenario:
    estimates = []
    for i in range(D):
        factor = Factor(id=f"f{i:02d}", name=f"F{i}", kind="risk" if i < D // 2 else
                        "opportunity", description="benchmark factor",
                        scale=Scale(min=0, max=10, unit="score"), higher_means="more",
                        weight=1 + i % 4)
        estimates.append(Estimate(factor=factor, low=1 + i % 3, mode=3 + i % 5, high=9,
                                  distribution="pert", weight=factor.weight))
    return Scenario(id="bench", title="Benchmark", partnership="bench",
                    estimates=tuple(estimates))


def best_of(repeat: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_monte_carlo(scenario: Scenario) -> list[tuple[str, str, str, str]]:
    marginals = Marginals.of(scenario)
    a, b = marginals.pert_ab()

    def beta_alone() -> None:
        for block, start in enumerate(range(0, N_MC, STREAM_BLOCK)):
            block_rng(0, block).beta(a, b, size=(min(STREAM_BLOCK, N_MC - start), D))

    baseline = best_of(3, beta_alone)
    sim_only = best_of(3, lambda: simulate(scenario, N_MC, seed=0))
    with_summary = best_of(3, lambda: simulate(scenario, N_MC, seed=0).to_dict())
    return [
        ("MC 1e6 x 30 PERT", "numpy Beta draws alone (baseline)", f"{baseline:.3f} s", "1.00"),
        ("", "riskengine simulate() (draw + score)", f"{sim_only:.3f} s",
         f"{sim_only / baseline:.2f}"),
        ("", "simulate() + summary (percentiles, bands)", f"{with_summary:.3f} s",
         f"{with_summary / baseline:.2f}"),
    ]


def bench_sobol(scenario: Scenario) -> list[tuple[str, str, str, str]]:
    from SALib.analyze import sobol as salib_analyze
    from SALib.sample import sobol as salib_sample

    arrays = ModelArrays.of(scenario)
    marginals = Marginals.of(scenario)
    exact = np.array([r["total"] for r in analytic_sobol(scenario)])

    def model(x: np.ndarray) -> np.ndarray:
        return aggregate(normalise(x, arrays), arrays)[0]

    def ours() -> tuple[np.ndarray, np.ndarray]:
        first, _, total, _ = estimate_sobol(model, marginals.ppf, D, N_SOBOL, seed=0)
        return first, total

    problem = {"num_vars": D, "names": list(arrays.ids), "bounds": [[0.0, 1.0]] * D}

    def salib() -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            u = salib_sample.sample(problem, N_SOBOL, calc_second_order=False, seed=0)
            y = model(marginals.ppf(u))
            result = salib_analyze.analyze(problem, y, calc_second_order=False, seed=0)
        return np.asarray(result["S1"]), np.asarray(result["ST"])

    ours_times, salib_times = [], []
    for _ in range(3):
        start = time.perf_counter()
        our_first, our_total = ours()
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        sa_first, sa_total = salib()
        salib_times.append(time.perf_counter() - start)
    t_ours, t_salib = min(ours_times), min(salib_times)

    def error(first: np.ndarray, total: np.ndarray) -> float:
        return float(max(np.abs(first - exact).max(), np.abs(total - exact).max()))

    return [
        ("Sobol d=30 N=2^14", "SALib sample + analyze (baseline)", f"{t_salib:.3f} s", "1.00"),
        ("", "riskengine estimate_sobol", f"{t_ours:.3f} s", f"{t_ours / t_salib:.3f}"),
        ("", "speed-up vs SALib", f"{t_salib / t_ours:.1f}x", ""),
        ("", "max |error| vs analytic: SALib", f"{error(sa_first, sa_total):.4f}", ""),
        ("", "max |error| vs analytic: riskengine", f"{error(our_first, our_total):.4f}", ""),
        ("", "median run, riskengine / SALib",
         f"{statistics.median(ours_times):.3f} / {statistics.median(salib_times):.3f} s", ""),
    ]


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    scenario = scenario_30()
    table = Table(title="riskengine uncertainty benchmarks (best of 3)", title_justify="left")
    for name in ("benchmark", "what", "figure", "ratio to baseline"):
        table.add_column(name, justify="right" if name != "what" else "left")
    for row in (*bench_monte_carlo(scenario), *bench_sobol(scenario)):
        table.add_row(*row)
    Console(width=110).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
