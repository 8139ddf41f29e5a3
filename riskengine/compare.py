"""Scenarios and partnerships side by side, with uncertainty, deltas and pairwise odds.

All scenarios are simulated with common random numbers (:func:`simulate_many`): a factor gets
the same uniform draws in every scenario that estimates it, so "probability that A scores above
B" measures the difference between their estimates, not sampling noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from riskengine.models import Scenario
from riskengine.problems import InputError, Problem
from riskengine.scoring import Result, score
from riskengine.simulation import Progress, Sampler, Simulation, simulate_many


def reference_of(scenario: Scenario, scenarios: Sequence[Scenario]) -> Scenario | None:
    """The partnership's baseline: the scenario named ``baseline``, else its root ancestor."""
    same = [s for s in scenarios if s.partnership == scenario.partnership]
    named = [s for s in same if s.id == "baseline"]
    if named:
        return named[0]
    by_id = {s.id: s for s in same}
    current, seen = scenario, {scenario.id}
    # `seen`: scenarios of one partnership from two folders (built through the API; loading
    # refuses them) can name each other's ids in a circle
    while current.extends and current.extends in by_id and current.extends not in seen:
        current = by_id[current.extends]
        seen.add(current.id)
    return current if current is not scenario or not scenario.extends else None


@dataclass(frozen=True)
class Comparison:
    scenarios: tuple[Scenario, ...]
    results: tuple[Result, ...]
    simulations: tuple[Simulation, ...]

    def rows(self) -> list[dict[str, Any]]:
        """One row per scenario (the ``run`` fields plus ``simulation``), best S first."""
        by_key = {r.key: r for r in self.results}
        rows = []
        for scenario, result, sim in zip(self.scenarios, self.results, self.simulations,
                                         strict=True):
            ref = reference_of(scenario, self.scenarios)
            row = result.to_dict()
            row["simulation"] = sim.to_dict()
            row["baseline"] = ref.id if ref is not None else None
            row["delta_vs_baseline"] = (result.stability - by_key[ref.key].stability
                                        if ref is not None else None)
            rows.append(row)
        return sorted(rows, key=lambda r: (-r["stability"], r["partnership"], r["scenario"]))

    def pairs(self) -> list[dict[str, Any]]:
        """P(S_a > S_b) for every pair, from the common-random-number draws."""
        out = []
        for (i, a), (j, b) in combinations(enumerate(self.results), 2):
            s_a, s_b = self.simulations[i].stability, self.simulations[j].stability
            out.append({"a": a.key, "b": b.key, "p_a_beats_b": float(np.mean(s_a > s_b)),
                        "p_tie": float(np.mean(s_a == s_b))})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.simulations[0].n if self.simulations else 0,
                "seed": self.simulations[0].seed if self.simulations else None,
                "rows": self.rows(), "pairs": self.pairs()}

    def to_frame(self) -> Any:
        """The ranking as a DataFrame: S with p5–p95, R, O, band, delta against baseline."""
        import pandas as pd

        return pd.DataFrame([{
            "scenario": f"{r['partnership']}/{r['scenario']}", "S": r["stability"],
            "S_p5": r["simulation"]["p5"], "S_p95": r["simulation"]["p95"],
            "R": r["risk_index"], "O": r["opportunity_index"], "band": r["band"],
            "P_stable": r["simulation"]["band_probabilities"]["stable"],
            "delta_vs_baseline": r["delta_vs_baseline"]} for r in self.rows()]
        ).set_index("scenario")

    def pairs_frame(self) -> Any:
        """P(row beats column) as a square DataFrame."""
        import pandas as pd

        keys = [f"{r['partnership']}/{r['scenario']}" for r in self.rows()]
        frame = pd.DataFrame(np.nan, index=keys, columns=keys)
        for pair in self.pairs():
            frame.loc[pair["a"], pair["b"]] = pair["p_a_beats_b"]
            frame.loc[pair["b"], pair["a"]] = 1.0 - pair["p_a_beats_b"] - pair["p_tie"]
        return frame

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(float_format=lambda v: f"{v:.2f}", na_rep="–")


def compare(scenarios: Sequence[Scenario], n: int = 20_000, seed: int = 0,
            sampler: Sampler = "random", progress: Progress | None = None) -> Comparison:
    """Score and simulate ``scenarios`` with common random numbers."""
    seen: dict[str, Scenario] = {}
    for s in scenarios:
        if s.key in seen:
            raise InputError([Problem(s.source or s.id, None, None, "id", f"scenario {s.key} "
                                      f"is also defined in {seen[s.key].source}", "RE202")])
        seen[s.key] = s
    sims = simulate_many(scenarios, n, seed=seed, sampler=sampler, progress=progress)
    return Comparison(tuple(scenarios), tuple(score(s) for s in scenarios), tuple(sims))
