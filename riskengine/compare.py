"""Scenarios and partnerships side by side, with uncertainty, deltas and pairwise odds.

All scenarios are simulated with common random numbers (:func:`simulate_many`): a factor gets
the same uniform draws in every scenario that estimates it, so "probability that A scores above
B" measures the difference between their estimates, not sampling noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from riskengine.models import Scenario
from riskengine.problems import InputError, Problem
from riskengine.scoring import Result, has_sides, scenario_bands, score
from riskengine.simulation import (
    Marginals,
    Method,
    Progress,
    Sampler,
    Simulation,
    choose_method,
    exact_summary,
    linear_form,
    run_members,
)


def reference_of(scenario: Scenario, scenarios: Sequence[Scenario]) -> Scenario | None:
    """The partnership's baseline: the scenario named ``baseline``, else its root ancestor."""
    same = [s for s in scenarios if s.partnership == scenario.partnership]
    named = [s for s in same if s.id == "baseline"]
    if named:
        return named[0]
    by_id = {s.id: s for s in same}
    current = scenario
    while current.extends and current.extends in by_id:
        current = by_id[current.extends]
    return current if current is not scenario or not scenario.extends else None


@dataclass(frozen=True)
class Comparison:
    scenarios: tuple[Scenario, ...]
    results: tuple[Result, ...]
    simulations: tuple[Simulation, ...]
    pair_odds: tuple[dict[str, Any], ...] = ()

    @property
    def method(self) -> str:
        methods = {sim.method for sim in self.simulations} | {p["method"]
                                                               for p in self.pair_odds}
        return methods.pop() if len(methods) == 1 else "mixed"

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
        """P(S_a > S_b) for every pair: from the exact law of S_a - S_b where both are linear
        in the same independent inputs, else counted over the common-random-number draws."""
        return [dict(p) for p in self.pair_odds]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.simulations[0].n if self.simulations else 0,
                "seed": self.simulations[0].seed if self.simulations else None,
                "method": self.method, "rows": self.rows(), "pairs": self.pairs()}

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
            sampler: Sampler = "random", progress: Progress | None = None,
            method: Method = "auto", executor: Executor | None = None) -> Comparison:
    """Score ``scenarios`` and summarise their uncertainty: exact laws where ``method`` allows
    (see :func:`riskengine.simulation.simulate`), else Monte Carlo with common random numbers.
    ``executor``: draw the stream blocks on its workers (the same numbers).
    """
    seen: dict[str, Scenario] = {}
    for s in scenarios:
        if s.key in seen:
            raise InputError([Problem(s.source or s.id, None, None, "id", f"scenario {s.key} "
                                      f"is also defined in {seen[s.key].source}", "RE202")])
        seen[s.key] = s
    laws = choose_method(scenarios, method)
    all_pairs = list(combinations(range(len(scenarios)), 2))
    exact_pairs = {}
    if method != "mc":
        for i, j in all_pairs:
            if laws[i] is not None and laws[j] is not None:
                odds = difference_odds(scenarios[i], scenarios[j])
                if odds is not None:
                    exact_pairs[i, j] = odds
    mc_pairs = [p for p in all_pairs if p not in exact_pairs]
    need_mc = any(law is None for law in laws) or bool(mc_pairs)

    def rerun(m: int) -> Any:
        return run_members(scenarios, n, seed, sampler, True)[1](m)

    arrays_of = rerun
    result = None
    if need_mc:
        result, arrays_of = run_members(scenarios, n, seed, sampler, True, progress=progress,
                                        pairs=mc_pairs, executor=executor)
    elif progress is not None:
        progress(n * len(scenarios))
    sims = []
    for m, (s, law) in enumerate(zip(scenarios, laws, strict=True)):
        draws = _bind(arrays_of, m)
        if law is not None:
            sims.append(Simulation(s.id, s.partnership, n, seed, sampler, scenario_bands(s),
                                   exact_summary(law, scenario_bands(s)), "exact", draws,
                                   has_sides(s)))
        else:
            assert result is not None
            sims.append(Simulation(s.id, s.partnership, n, seed, sampler, scenario_bands(s),
                                   result.summaries[m], "mc", draws, has_sides(s)))
    results = tuple(score(s) for s in scenarios)
    odds = []
    for i, j in all_pairs:
        if (i, j) in exact_pairs:
            p_beats, p_tie, how = *exact_pairs[i, j], "exact"
        else:
            assert result is not None
            p_beats, p_tie, how = *result.pairs[i, j], "mc"
        odds.append({"a": results[i].key, "b": results[j].key, "p_a_beats_b": p_beats,
                     "p_tie": p_tie, "method": how})
    return Comparison(tuple(scenarios), results, tuple(sims), tuple(odds))


def _bind(func: Any, m: int) -> Any:
    return lambda: func(m)


def difference_odds(a: Scenario, b: Scenario) -> tuple[float, float] | None:
    """P(S_a > S_b) and P(S_a == S_b) from the exact law of S_a - S_b, or None.

    Under common random numbers a factor shared by both scenarios is one input only if both
    estimate it the same way; then S_a - S_b is linear in independent inputs. Otherwise (the
    same uniform drives two different estimates) it is not, and the caller counts draws.
    """
    from riskengine import exact

    form_a, form_b = linear_form(a), linear_form(b)
    if form_a is None or form_b is None:
        return None
    m_a, m_b = Marginals.of(a), Marginals.of(b)
    index_a = {e.factor.id: i for i, e in enumerate(a.estimates)}
    index_b = {e.factor.id: i for i, e in enumerate(b.estimates)}
    for fid in index_a.keys() & index_b.keys():
        i, j = index_a[fid], index_b[fid]
        if (m_a.kind[i], m_a.low[i], m_a.mode[i], m_a.high[i]) != (
                m_b.kind[j], m_b.low[j], m_b.mode[j], m_b.high[j]):
            return None
    ids = sorted(index_a.keys() | index_b.keys())
    coef = np.zeros(len(ids))
    fields = {name: np.zeros(len(ids)) for name in ("low", "mode", "high")}
    kind = np.zeros(len(ids), dtype=np.int8)
    for sign, form, marg, index in ((1.0, form_a, m_a, index_a), (-1.0, form_b, m_b, index_b)):
        for col, fid in enumerate(ids):
            if fid in index:
                i = index[fid]
                coef[col] += sign * form[1][0][i]
                kind[col] = marg.kind[i]
                for name in fields:
                    fields[name][col] = getattr(marg, name)[i]
    merged = Marginals(fields["low"], fields["mode"], fields["high"], kind)
    alpha, beta = merged.pert_ab()
    c0 = float(form_a[0][0] - form_b[0][0])
    law = exact.linear_law(c0, coef, kind, merged.low, merged.mode, merged.high, alpha, beta,
                           mean=c0 + float(coef @ merged.mean()),
                           std=float(np.sqrt(coef**2 @ merged.variance())))
    return exact.prob_positive(law)
