"""Use riskengine from Python: load the catalogue, score every Japan–Turkey scenario, compare.

Run from the repository root:  .venv/bin/python examples/api_demo.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import riskengine as rk

ROOT = Path(__file__).resolve().parents[1]

catalogue = rk.load_catalogue(ROOT / "factors")
scenarios = rk.load_scenarios(ROOT / "scenarios/japan-turkey", catalogue)
results = [rk.score(s) for s in scenarios]

baseline = next(r for r in results if r.scenario == "baseline")
print(f"Baseline: S = {baseline.stability:.1f} ({baseline.band})")
with pd.option_context("display.width", 120, "display.max_columns", 10):
    print(baseline.to_frame()[["kind", "value", "normalised", "weight", "contribution"]]
          .round(3))
print()

summary = pd.DataFrame(
    [{"scenario": r.scenario, "S": r.stability, "R": r.risk_index, "O": r.opportunity_index,
      "band": r.band, "delta_vs_baseline": r.stability - baseline.stability} for r in results]
).set_index("scenario").sort_values("S", ascending=False)
print(summary.round(2))
print()

# Uncertainty: 100,000 draws of the baseline, and the outlook of all five scenarios.
simulation = rk.simulate(baseline_scenario := scenarios[[s.id for s in scenarios].index(
    "baseline")], n=100_000, seed=7)
print(simulation.summary().round(3))
mixture = rk.outlook(scenarios, n=20_000, seed=7).to_dict()
print(f"Outlook: expected S = {mixture['expected_stability']:.1f}, "
      f"p5–p95 {mixture['simulation']['p5']:.1f}–{mixture['simulation']['p95']:.1f}")
drivers = rk.sensitivity(baseline_scenario).to_frame()
print("Largest driver of the baseline's spread:", drivers["total"].idxmax())
