"""Benchmarks of the uncertainty engine, each against a baseline run in the same process.

1. Monte Carlo, 1,000,000 samples x 30 PERT factors: riskengine's simulate() (draw, score,
   summarise) against drawing the same Beta variates alone with numpy. Target ratio <= 1.2.
2. Sobol indices with 95 % intervals, d = 30: riskengine's estimate (``sobol(method=
   "estimate")``, randomised QMC) against SALib's sobol.sample + sobol.analyze (default
   bootstrap) at N = 2^14, both compared with the exact indices over three seeds; ours at
   N = 2^14 and then at larger N until its error is SALib's or less.
   Target: >= 15x faster at the same or better accuracy.

Run:  python3 tasks.py bench   (or .venv/bin/python benchmarks/bench_uncertainty.py)
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np

from riskengine.models import Estimate, Factor, Scale, Scenario
from riskengine.scoring import ModelArrays
from riskengine.sensitivity import analytic_sobol, sobol, stability_of
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
    # Monte Carlo asked for: this linear model's exact law (the default) takes milliseconds
    sim_only = best_of(3, lambda: simulate(scenario, N_MC, seed=0, method="mc"))
    with_summary = best_of(3, lambda: simulate(scenario, N_MC, seed=0, method="mc").to_dict())
    return [
        ("MC 1e6 x 30 PERT", "numpy Beta draws alone (baseline)", f"{baseline:.3f} s", "1.00"),
        ("", "riskengine simulate() (draw + score)", f"{sim_only:.3f} s",
         f"{sim_only / baseline:.2f}"),
        ("", "simulate() + summary (percentiles, bands)", f"{with_summary:.3f} s",
         f"{with_summary / baseline:.2f}"),
    ]


SEEDS = (0, 1, 2)


def bench_sobol(scenario: Scenario) -> list[tuple[str, str, str, str]]:
    """Each estimator over the same seeds: its median time and the median over seeds of its
    largest error against the exact indices (one seed's error is itself noisy). Ours is the
    API's estimate (``sobol(method="estimate")``): independent scramblings, for honest
    intervals, which at the same N give a less accurate point than one sequence of N; so it is
    also timed at the smallest N (a power of two) whose error is SALib's or less."""
    from SALib.analyze import sobol as salib_analyze
    from SALib.sample import sobol as salib_sample

    arrays = ModelArrays.of(scenario)
    marginals = Marginals.of(scenario)
    exact = np.array([r["total"] for r in analytic_sobol(scenario)])

    def error(first: np.ndarray, total: np.ndarray) -> float:
        return float(max(np.abs(first - exact).max(), np.abs(total - exact).max()))

    def model(x: np.ndarray) -> np.ndarray:
        return stability_of(x, arrays)

    problem = {"num_vars": D, "names": list(arrays.ids), "bounds": [[0.0, 1.0]] * D}

    def salib(seed: int) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            u = salib_sample.sample(problem, N_SOBOL, calc_second_order=False, seed=seed)
            y = model(marginals.ppf(u))
            result = salib_analyze.analyze(problem, y, calc_second_order=False, seed=seed)
        return error(np.asarray(result["S1"]), np.asarray(result["ST"]))

    def ours(n: int, seed: int) -> float:
        _, rows = sobol(scenario, n=n, seed=seed, method="estimate")
        return error(np.array([r["first_order"] for r in rows]),
                     np.array([r["total"] for r in rows]))

    def measured(run: Callable[[int], float]) -> tuple[float, float]:
        times, errors = [], []
        for seed in SEEDS:
            start = time.perf_counter()
            errors.append(run(seed))
            times.append(time.perf_counter() - start)
        return statistics.median(times), statistics.median(errors)

    t_salib, e_salib = measured(salib)
    power = N_SOBOL.bit_length() - 1
    rows = [("Sobol d=30", f"SALib sample + analyze, N = 2^{power} (baseline)",
             f"{t_salib:.3f} s", "1.00"),
            ("", "  its error: max |index - exact|", f"{e_salib:.5f}", "")]
    n = N_SOBOL
    while True:
        t_ours, e_ours = measured(functools.partial(ours, n))
        rows += [("", f"riskengine sobol(), N = 2^{n.bit_length() - 1}", f"{t_ours:.3f} s",
                  f"{t_ours / t_salib:.3f}"),
                 ("", "  its error: max |index - exact|", f"{e_ours:.5f}",
                  f"{e_ours / e_salib:.2f}"),
                 ("", "  speed-up vs SALib", f"{t_salib / t_ours:.1f}x", "")]
        if e_ours <= e_salib or n >= 16 * N_SOBOL:
            break
        n *= 2
    verdict = "met" if e_ours <= e_salib and t_salib / t_ours >= 15 else "not met"
    rows.append(("", "at the same or better accuracy: >= 15x faster",
                 f"{t_salib / t_ours:.1f}x: {verdict}", ""))
    return rows


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    scenario = scenario_30()
    table = Table(title="riskengine uncertainty benchmarks (Monte Carlo: best of 3; Sobol: "
                  f"medians over seeds {', '.join(map(str, SEEDS))})", title_justify="left")
    for name in ("benchmark", "what", "figure", "ratio to baseline"):
        table.add_column(name, justify="right" if name != "what" else "left")
    for row in (*bench_monte_carlo(scenario), *bench_sobol(scenario)):
        table.add_row(*row)
    Console(width=110).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
