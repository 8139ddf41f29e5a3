"""Use riskengine from Python: load the catalogue, score every Japan–Turkey scenario, compare.

Run from the repository root:  .venv/bin/python examples/api_demo.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import riskengine as re

ROOT = Path(__file__).resolve().parents[1]

catalogue = re.load_catalogue(ROOT / "factors")
scenarios = re.load_scenarios(ROOT / "scenarios/japan-turkey", catalogue)
results = [re.score(s) for s in scenarios]

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
