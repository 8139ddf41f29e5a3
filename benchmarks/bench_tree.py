"""Benchmarks of the model tree, each against a baseline run in the same process.

1. The default tree against the flat formula it replaced, on the Monte Carlo benchmark
   (1,000,000 draws x 30 PERT factors, drawn and scored block by block): the same draws scored
   by ``scoring.aggregate`` (the tree kernel) and by the flat MODEL.md formula written out here
   as the old code had it (one (n, k) @ (k, 2) product, then S = 100 (b (1 - R) + (1 - b) O)).
   Target: tree <= 1.1 x flat.
2. INFORM Risk 2021, all 191 countries: loading and scoring deterministically (the whole
   `riskengine run --format json` path in process), and 10,000 draws for every country with
   +-0.5 uncertainty on every component, against the deterministic run.

Run:  python3 tasks.py bench   (or .venv/bin/python benchmarks/bench_tree.py)
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
from bench_uncertainty import best_of, scenario_30  # the same 30-factor scenario and timer

from riskengine.cli import main
from riskengine.loading import load_scenarios
from riskengine.models import Scenario
from riskengine.scoring import ModelArrays, aggregate, normalise
from riskengine.simulation import STREAM_BLOCK, Marginals, block_rng, simulate

ROOT = Path(__file__).resolve().parent.parent
INFORM = ROOT / "examples" / "inform-2021" / "scenarios" / "inform-2021"
N_MC = 1_000_000
REPEAT = 5


def flat_formula(s: np.ndarray, arrays: ModelArrays, beta: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MODEL.md's arithmetic formula as the flat code computed it before the tree."""
    risk_w = np.where(arrays.is_risk, arrays.weights, 0.0)
    opp_w = np.where(arrays.is_risk, 0.0, arrays.weights)
    both = s @ np.stack([risk_w, opp_w], axis=-1)
    r, o = both[..., 0], both[..., 1]
    return 100.0 * (beta * (1.0 - r) + (1.0 - beta) * o), r, o


def bench_default_tree() -> list[tuple[str, float, str]]:
    scenario = scenario_30()
    arrays = ModelArrays.of(scenario)
    marginals = Marginals.of(scenario)
    beta = scenario.model.risk_share

    def pipeline(score: Callable[[np.ndarray], object]) -> Callable[[], None]:
        def run() -> None:
            for block, start in enumerate(range(0, N_MC, STREAM_BLOCK)):
                raw = marginals.draw(block_rng(0, block), min(STREAM_BLOCK, N_MC - start))
                score(normalise(raw, arrays, out=raw))
        return run

    # the same numbers either way (checked on one block before timing)
    raw = marginals.draw(block_rng(0, 0), STREAM_BLOCK)
    s = normalise(raw, arrays)
    tree_s, flat_s = aggregate(s, arrays)[0], flat_formula(s, arrays, beta)[0]
    assert np.max(np.abs(tree_s - flat_s)) < 1e-9

    draws = best_of(REPEAT, pipeline(lambda s: None))
    flat = best_of(REPEAT, pipeline(lambda s: flat_formula(s, arrays, beta)))
    tree = best_of(REPEAT, pipeline(lambda s: aggregate(s, arrays)))
    whole = best_of(REPEAT, lambda: simulate(scenario, N_MC, seed=0))
    return [("draws + normalise alone (floor)", draws, "1.00 x floor"),
            ("draws + flat formula (old code)", flat, f"{flat / draws:.2f} x floor"),
            ("draws + default tree (aggregate)", tree,
             f"{tree / flat:.3f} x flat (target <= 1.1)"),
            ("simulate() whole, default tree", whole, f"{whole / draws:.2f} x floor")]


def with_ranges(scenario: Scenario) -> Scenario:
    """The country with +-0.5 (clipped to the scale) around every published component."""
    estimates = []
    for e in scenario.estimates:
        low = max(e.factor.scale.min, e.point - 0.5)
        high = min(e.factor.scale.max, e.point + 0.5)
        estimates.append(e.model_copy(update={"low": low, "mode": e.point, "high": high,
                                              "fixed": False, "distribution": "pert"}))
    return scenario.model_copy(update={"estimates": tuple(estimates)})


def bench_inform() -> list[tuple[str, float, str]]:
    def run_all() -> None:
        with redirect_stdout(io.StringIO()):
            assert main(["run", str(INFORM), "--format", "json"]) == 0

    deterministic = best_of(REPEAT, run_all)
    scenarios = [with_ranges(s) for s in load_scenarios(INFORM)]

    def draws() -> None:
        for scenario in scenarios:
            simulate(scenario, 10_000, seed=0)

    start = time.perf_counter()
    load_scenarios(INFORM)
    loading = time.perf_counter() - start
    simulated = best_of(3, draws)
    per_country = simulated / len(scenarios)
    return [("INFORM 191 countries: load only", loading, ""),
            ("INFORM 191: `run --format json` (load, score, write)", deterministic,
             f"{deterministic / loading:.2f} x load"),
            ("INFORM 191 x 10,000 draws (simulate each)", simulated,
             f"{per_country * 1e3:.1f} ms a country")]


def main_bench() -> int:
    print("Model tree benchmarks (best of several runs, seconds)")
    for title, rows in (("Default tree vs flat formula, 1e6 x 30 PERT", bench_default_tree()),
                        ("INFORM Risk 2021", bench_inform())):
        print(f"\n{title}")
        for label, seconds, ratio in rows:
            print(f"  {label:<52} {seconds:8.3f} s   {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
