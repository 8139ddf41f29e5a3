"""Scenarios and partnerships side by side, with uncertainty, deltas and pairwise odds.

All scenarios are simulated with common random numbers (:func:`simulate_many`): a factor gets
the same uniform draws in every scenario that estimates it, so "probability that A scores above
B" measures the difference between their estimates, not sampling noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

import numpy as np

from riskengine.models import Scenario
from riskengine.problems import InputError, Problem
from riskengine.scoring import Result, has_sides, scenario_bands, score
from riskengine.simulation import (
    KEEP_BYTES,
    Marginals,
    Method,
    Progress,
    Sampler,
    Simulation,
    StreamSpec,
    _chunk_rows,
    _members,
    _stream,
    block_ranges,
    choose_method,
    exact_summary,
    linear_form,
    run_members,
    stream_part,
)

Pairs = Literal["default", "all"]
PAIR_SCOPES = {"default": "within partnerships and between baselines", "all": "all"}


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
    pair_odds: tuple[dict[str, Any], ...] = ()
    pair_scope: str = PAIR_SCOPES["all"]
    # each scenario's exact laws of S, R and O (None: Monte Carlo), for callers that reuse them
    laws: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def method(self) -> str:
        methods = {sim.method for sim in self.simulations} | {p["method"]
                                                               for p in self.pair_odds}
        return methods.pop() if len(methods) == 1 else "mixed"

    def rows(self) -> list[dict[str, Any]]:
        """One row per scenario (the ``run`` fields plus ``simulation``), best S first."""
        by_key = {r.key: r for r in self.results}
        # one partnership's scenarios at a time: reference_of over all of them would be
        # quadratic in the number of scenarios
        groups = _groups(self.scenarios)
        rows = []
        for scenario, result, sim in zip(self.scenarios, self.results, self.simulations,
                                         strict=True):
            ref = reference_of(scenario, [self.scenarios[i] for i in
                                          groups[scenario.partnership]])
            row = result.to_dict()
            row["simulation"] = sim.to_dict()
            row["baseline"] = ref.id if ref is not None else None
            row["delta_vs_baseline"] = (result.stability - by_key[ref.key].stability
                                        if ref is not None else None)
            rows.append(row)
        return sorted(rows, key=lambda r: (-r["stability"], r["partnership"], r["scenario"]))

    def pairs(self) -> list[dict[str, Any]]:
        """P(S_a > S_b) for the compared pairs (:attr:`pair_scope`): from the exact law of
        S_a - S_b where both are linear in the same independent inputs, else counted over the
        common-random-number draws."""
        return [dict(p) for p in self.pair_odds]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.simulations[0].n if self.simulations else 0,
                "seed": self.simulations[0].seed if self.simulations else None,
                "method": self.method, "rows": self.rows(), "pair_scope": self.pair_scope,
                "pairs": self.pairs()}

    def to_frame(self) -> Any:
        """The ranking as a DataFrame: S with p5–p95, R, O, band, delta against baseline."""
        import pandas as pd

        return pd.DataFrame([{
            "scenario": f"{r['partnership']}/{r['scenario']}", "S": r["stability"],
            "S_p5": r["simulation"]["p5"], "S_p95": r["simulation"]["p95"],
            "R": r["risk_index"], "O": r["opportunity_index"], "band": r["band"],
            **{f"P_{band}": p for band, p in r["simulation"]["band_probabilities"].items()},
            "delta_vs_baseline": r["delta_vs_baseline"],
            "tree": (r.get("tree") or {}).get("id", "default"),
            # each tree node's value on its tree's scale (a pillar's sub-score)
            **{f"node_{n['id']}": n["value"] for n in r.get("nodes", [])}}
            for r in self.rows()]).set_index("scenario")

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
            method: Method = "auto", pairs: Pairs = "default",
            executor: Executor | None = None) -> Comparison:
    """Score ``scenarios`` and summarise their uncertainty: exact laws where ``method`` allows
    (see :func:`riskengine.simulation.simulate`), else Monte Carlo with common random numbers.

    ``pairs="default"`` computes P(A beats B) for every pair within a partnership and for the
    pairs of the partnerships' baselines (:func:`reference_of`): linear in the number of
    scenarios for a fixed partnership size, and simulated one partnership at a time, so memory
    does not grow with the number of partnerships. ``pairs="all"`` computes every pair, in one
    run over all scenarios.
    ``executor``: draw the stream blocks on its workers (the same numbers
    to the last digit).
    """
    if pairs not in PAIR_SCOPES:
        raise PairsError(f"unknown pairs {pairs!r}: use default or all")
    seen: dict[str, Scenario] = {}
    for s in scenarios:
        if s.key in seen:
            raise InputError([Problem(s.source or s.id, None, None, "id", f"scenario {s.key} "
                                      f"is also defined in {seen[s.key].source}", "RE202")])
        seen[s.key] = s
    laws = choose_method(scenarios, method)
    groups = list(_groups(scenarios).values())
    if pairs == "all":
        wanted = list(combinations(range(len(scenarios)), 2))
        runs = [list(range(len(scenarios)))]
    else:
        bases = [_baseline(scenarios, group) for group in groups]
        wanted = sorted({*(p for group in groups for p in combinations(group, 2)),
                         *((min(p), max(p)) for p in combinations(bases, 2))})
        runs = groups
    exact_pairs = _exact_pairs(scenarios, laws, wanted) if method != "mc" else {}
    mc_pairs = [p for p in wanted if p not in exact_pairs]
    run_of = {m: r for r, run in enumerate(runs) for m in run}
    summaries: dict[int, Any] = {}
    counted: dict[tuple[int, int], tuple[float, float]] = {}
    draws: dict[int, Any] = {}
    # the first pass's draws are kept for the arrays while they fit in KEEP_BYTES; beyond
    # that a run is drawn again when its arrays are asked for, one run at a time
    budget = KEEP_BYTES
    redraw = _Redraw(n, seed, sampler)
    for r, run in enumerate(runs):
        local = {m: i for i, m in enumerate(run)}
        inside = [(local[i], local[j]) for i, j in mc_pairs
                  if run_of[i] == r and run_of[j] == r]
        members = [scenarios[m] for m in run]
        if any(laws[m] is None for m in run) or inside:
            result, arrays_of = run_members(members, n, seed, sampler, True,
                                            progress=progress, pairs=inside,
                                            executor=executor)
            summaries.update((m, result.summaries[local[m]]) for m in run)
            counted.update(((run[i], run[j]), odds) for (i, j), odds in result.pairs.items())
        else:
            arrays_of = None
            if progress is not None:
                progress(n * len(run))
        budget -= 3 * 8 * n * len(run)
        if arrays_of is None or budget < 0:
            arrays_of = redraw.of(members)
        draws.update((m, _bind(arrays_of, local[m])) for m in run)
    across = [p for p in mc_pairs if p not in counted]
    if across:  # baselines of different partnerships: one more pass, over them alone
        counted.update(_count_pairs(scenarios, across, n, seed, sampler, executor))
    sims = []
    for m, (s, law) in enumerate(zip(scenarios, laws, strict=True)):
        if law is not None:
            summary, how = exact_summary(law, scenario_bands(s)), "exact"
        else:
            summary, how = summaries[m], "mc"
        sims.append(Simulation(s.id, s.partnership, n, seed, sampler, scenario_bands(s),
                               summary, how, draws[m], has_sides(s)))
    results = tuple(score(s) for s in scenarios)
    odds = []
    for i, j in wanted:
        if (i, j) in exact_pairs:
            p_beats, p_tie, how = *exact_pairs[i, j], "exact"
        else:
            p_beats, p_tie, how = *counted[i, j], "mc"
        odds.append({"a": results[i].key, "b": results[j].key, "p_a_beats_b": p_beats,
                     "p_tie": p_tie, "method": how})
    return Comparison(tuple(scenarios), results, tuple(sims), tuple(odds), PAIR_SCOPES[pairs],
                      tuple(laws))


class PairsError(ValueError):
    """An unknown ``pairs`` scope."""

    usage_error = True  # the CLI reports it as a usage error (exit 2)


def _groups(scenarios: Sequence[Scenario]) -> dict[str, list[int]]:
    """Each partnership's scenario indices, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for m, s in enumerate(scenarios):
        groups.setdefault(s.partnership, []).append(m)
    return groups


def _baseline(scenarios: Sequence[Scenario], group: list[int]) -> int:
    """Index of the partnership's baseline (the report's choice: its reference, else its
    first scenario)."""
    members = [scenarios[m] for m in group]
    ref = reference_of(members[0], members) or members[0]
    return next(m for m in group if scenarios[m] is ref)


class _Redraw:
    """Draws a run's arrays again on demand, holding one run's at a time (its members are
    usually asked for together), so a large comparison's memory stays that of one run."""

    def __init__(self, n: int, seed: int, sampler: Sampler) -> None:
        self.n, self.seed, self.sampler = n, seed, sampler
        self.current: tuple[int, Any] | None = None

    def of(self, members: list[Scenario]) -> Any:
        def arrays_of(m: int) -> Any:
            if self.current is None or self.current[0] != id(members):
                self.current = (id(members), run_members(members, self.n, self.seed,
                                                         self.sampler, True)[1])
            return self.current[1](m)

        return arrays_of


def _exact_pairs(scenarios: Sequence[Scenario], laws: Sequence[Any],
                 wanted: Sequence[tuple[int, int]]) -> dict[tuple[int, int],
                                                          tuple[float, float]]:
    """The exact odds of the pairs where both scenarios have exact laws."""
    forms: dict[int, Any] = {}
    ids = [frozenset(e.factor.id for e in s.estimates) for s in scenarios]
    out = {}
    for i, j in wanted:
        if laws[i] is None or laws[j] is None:
            continue
        if not ids[i] & ids[j]:
            # no factor in common: independent under common random numbers too, so the odds
            # follow from the two laws of S already computed (no new convolution)
            out[i, j] = independent_odds(laws[i][0], laws[j][0])
            continue
        for m in (i, j):
            if m not in forms:
                forms[m] = (linear_form(scenarios[m]), Marginals.of(scenarios[m]))
        odds = difference_odds(scenarios[i], scenarios[j], forms[i], forms[j])
        if odds is not None:
            out[i, j] = odds
    return out


def independent_odds(a: Any, b: Any) -> tuple[float, float]:
    """P(A > B) and P(A == B) for independent A and B given by their exact laws
    (:class:`riskengine.exact.Law`): the integral of F_B against A's law, exact for the
    piecewise-linear CDFs (A's density is constant on its cells, F_B linear on B's)."""
    if a.step == 0.0:
        below = float(b.cdf_at(a.start))
        if b.step == 0.0:
            return float(a.start > b.start), float(a.start == b.start)
        return below, 0.0
    if b.step == 0.0:
        return 1.0 - float(a.cdf_at(b.start)), 0.0
    edges = np.union1d(a.edges, b.edges)
    edges = edges[(edges >= a.edges[0]) & (edges <= a.edges[-1])]
    # on each piece between consecutive edges: A's mass there times the mean of F_B over it
    mass = np.diff(a.cdf_at(edges))
    f_b = b.cdf_at(edges)
    # b.cdf_at clips at B's true support, where F_B jumps by at most a cell's rounding
    return float(np.clip(np.sum(mass * (f_b[:-1] + f_b[1:]) / 2.0), 0.0, 1.0)), 0.0


def _count_pairs(scenarios: Sequence[Scenario], pairs: Sequence[tuple[int, int]], n: int,
                 seed: int, sampler: Sampler, executor: Executor | None = None
                 ) -> dict[tuple[int, int], tuple[float, float]]:
    """P(S_i > S_j) and P(tie) by common random numbers, over the pairs' scenarios only:
    only the pair counts are kept, no summaries (the members' were found in their runs)."""
    involved = sorted({m for p in pairs for m in p})
    local = {m: i for i, m in enumerate(involved)}
    if executor is not None and len(block_ranges(n)) > 1:
        # integer counts per range of blocks: their sum does not depend on the split
        spec = StreamSpec(tuple(scenarios[m] for m in involved), n, seed, sampler, True,
                          1 << 16)
        wanted = [(local[i], local[j]) for i, j in pairs]
        futures = [executor.submit(stream_part, spec, blocks, wanted, False)
                   for blocks in block_ranges(n)]
        totals = np.sum([np.array(f.result().pair_counts) for f in futures], axis=0)
        return {p: (float(c[0] / n), float(c[1] / n))
                for p, c in zip(pairs, totals, strict=True)}
    members, dims = _members([scenarios[m] for m in involved], True, sampler)
    rows = _chunk_rows(members, dims, 1 << 16)
    counts = {p: np.zeros(2, dtype=np.int64) for p in pairs}
    for outs in _stream(members, dims, n, seed, sampler, rows):
        for (i, j), c in counts.items():
            a, b = outs[local[i]][0], outs[local[j]][0]
            c += [np.count_nonzero(a > b), np.count_nonzero(a == b)]
    return {p: (float(c[0] / n), float(c[1] / n)) for p, c in counts.items()}


def _bind(func: Any, m: int) -> Any:
    return lambda: func(m)


def difference_odds(a: Scenario, b: Scenario, pre_a: Any = None, pre_b: Any = None
                    ) -> tuple[float, float] | None:
    """P(S_a > S_b) and P(S_a == S_b) from the exact law of S_a - S_b, or None.

    Under common random numbers a factor shared by both scenarios is one input only if both
    estimate it the same way; then S_a - S_b is linear in independent inputs. Otherwise (the
    same uniform drives two different estimates) it is not, and the caller counts draws.
    """
    from riskengine import exact

    # pre_a, pre_b: (linear_form, Marginals) computed once by a caller with many pairs
    form_a, m_a = pre_a if pre_a is not None else (linear_form(a), Marginals.of(a))
    form_b, m_b = pre_b if pre_b is not None else (linear_form(b), Marginals.of(b))
    if form_a is None or form_b is None:
        return None
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
