"""Scenarios and partnerships side by side, with uncertainty, deltas and pairwise odds.

All scenarios are simulated with common random numbers (:func:`simulate_many`): an uncertain
quantity (:func:`~riskengine.simulation.draw_key`: a factor of one party, or of one
partnership) gets the same uniform draws in every scenario that estimates it, so "probability
that A scores above B" measures the difference between their estimates, not sampling noise,
and partnerships that share no party are compared as the independent quantities they are.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import combinations, pairwise
from typing import Any, Literal

import numpy as np

from riskengine.executors import default_jobs
from riskengine.loading import outlook_problems
from riskengine.models import Factor, Scenario
from riskengine.outlook import Outlook, outlook
from riskengine.problems import InputError, Problem, display_path
from riskengine.reliability import Reliability, reliability
from riskengine.scoring import (
    FloatArray,
    Result,
    has_sides,
    point_stability,
    scenario_bands,
    score_many,
)
from riskengine.simulation import (
    KEEP_BYTES,
    STREAM_BLOCK,
    ExactResult,
    Marginals,
    Method,
    Progress,
    RunResult,
    Sampler,
    Simulation,
    StreamSpec,
    _chunk_rows,
    _members,
    _stream,
    block_ranges,
    draw_keys,
    exact_results,
    linear_form,
    run_members,
    run_task,
    stream_part,
)

Pairs = Literal["default", "all"]
PAIR_SCOPES = {"default": "within partnerships and between baselines", "all": "all"}
# P(outlook A beats outlook B): a ranking of partnerships needs each one against its
# neighbours; every pair costs every scenario of one against every scenario of the other, so
# all pairs grow with the square of a portfolio (100 partnerships of 10: 495,000 scenario pairs)
OUTLOOK_PAIR_SCOPES = {"default": "neighbours in the ranking by expected stability",
                       "all": "all"}


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


#: The columns of a scenario row, in order, with the same names in text, JSON (each row's
#: flat keys), CSV, Markdown, xlsx and :meth:`Comparison.to_frame`; ``p_<band>`` (the
#: probability of each band, one column per band of the trees compared) follows ``band``.
#: CSV, xlsx and the DataFrame add ``node_<id>`` (each tree node's value) after them.
SCENARIO_COLUMNS = ("partnership", "scenario", "probability", "stability", "stability_p5",
                    "stability_p50", "stability_p95", "risk_index", "opportunity_index", "band",
                    "p_<band>", "baseline", "delta_vs_baseline", "reliability_grade",
                    "reliability_score", "tree_id", "catalogue", "method")
#: The columns of a partnership row (:meth:`Comparison.outlook_rows`): its outlook.
OUTLOOK_COLUMNS = ("partnership", "scenarios", "expected_stability", "stability_p5",
                   "stability_p50", "stability_p95", "p_<band>", "catalogue", "method")


def expand_columns(template: Sequence[str], bands: Sequence[str]) -> list[str]:
    """``template`` with ``p_<band>`` replaced by one ``p_<name>`` column per band."""
    return [c for name in template
            for c in ([f"p_{b}" for b in bands] if name == "p_<band>" else [name])]


def _union(names: Any) -> list[str]:
    return list(dict.fromkeys(name for group in names for name in group))


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` found: scenario rows, pairwise odds, and each partnership's
    outlook with the odds that one partnership's outlook beats another's.

    ``outlooks`` holds the partnerships whose scenarios carry probabilities summing to 1;
    ``without_outlook`` names the others and why (no outlook row for them).
    """

    scenarios: tuple[Scenario, ...]
    results: tuple[Result, ...]
    simulations: tuple[Simulation, ...]
    pair_odds: tuple[dict[str, Any], ...] = ()
    pair_scope: str = PAIR_SCOPES["all"]
    outlooks: tuple[Outlook, ...] = ()
    outlook_odds: tuple[dict[str, Any], ...] = ()
    without_outlook: tuple[dict[str, str], ...] = ()
    reliabilities: tuple[Reliability, ...] = ()
    catalogues: tuple[str | None, ...] = ()
    # each scenario's exact laws of S, R and O (None: Monte Carlo), for callers that reuse them
    laws: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    outlook_pair_scope: str = OUTLOOK_PAIR_SCOPES["all"]

    @property
    def method(self) -> str:
        methods = ({sim.method for sim in self.simulations}
                   | {p["method"] for p in (*self.pair_odds, *self.outlook_odds)}
                   | {o.method for o in self.outlooks})
        return methods.pop() if len(methods) == 1 else "mixed"

    def rows(self) -> list[dict[str, Any]]:
        """One row per scenario, best S first: the ``run`` fields plus ``simulation``, and
        every column of :data:`SCENARIO_COLUMNS` as a flat key."""
        by_key = {r.key: r for r in self.results}
        # one partnership's scenarios at a time: reference_of over all of them would be
        # quadratic in the number of scenarios
        groups = _groups(self.scenarios)
        rows = []
        for m, (scenario, result, sim) in enumerate(zip(self.scenarios, self.results,
                                                        self.simulations, strict=True)):
            ref = reference_of(scenario, [self.scenarios[i] for i in
                                          groups[scenario.partnership]])
            row = result.to_dict()
            row["simulation"] = summary = sim.to_dict()
            rel = self.reliabilities[m] if self.reliabilities else reliability(scenario)
            row |= {
                "probability": scenario.probability,
                "stability_p5": summary["p5"], "stability_p50": summary["p50"],
                "stability_p95": summary["p95"],
                **{f"p_{band}": p for band, p in summary["band_probabilities"].items()},
                "baseline": ref.id if ref is not None else None,
                "delta_vs_baseline": (result.stability - by_key[ref.key].stability
                                      if ref is not None else None),
                "reliability_grade": rel.grade, "reliability_score": rel.score,
                "tree_id": (row.get("tree") or {}).get("id", "default"),
                "catalogue": self.catalogues[m] if self.catalogues else None,
                "method": sim.method}
            rows.append(row)
        return sorted(rows, key=lambda r: (-r["stability"], r["partnership"], r["scenario"]))

    def bands(self) -> list[str]:
        """Every band of the scenarios' trees, in order of first appearance."""
        return _union(sim.to_dict()["band_probabilities"] for sim in self.simulations)

    def columns(self) -> list[str]:
        """The scenario rows' columns (:data:`SCENARIO_COLUMNS` with this comparison's
        bands)."""
        return expand_columns(SCENARIO_COLUMNS, self.bands())

    def outlook_columns(self) -> list[str]:
        return expand_columns(OUTLOOK_COLUMNS, _union(
            o.to_dict()["simulation"]["band_probabilities"] for o in self.outlooks))

    def pairs(self) -> list[dict[str, Any]]:
        """P(S_a > S_b) for the compared pairs (:attr:`pair_scope`): from the exact law of
        S_a - S_b where both are linear in the same independent inputs, else counted over the
        common-random-number draws."""
        return [dict(p) for p in self.pair_odds]

    def outlook_rows(self) -> list[dict[str, Any]]:
        """One row per partnership with an outlook, highest expected S first: the columns of
        :data:`OUTLOOK_COLUMNS`."""
        rows = []
        # each scenario's catalogue by key, once: per outlook over every scenario was
        # 100,000 steps for 100 partnerships of 10
        catalogue_of = dict(zip((s.key for s in self.scenarios), self.catalogues, strict=True)
                            ) if self.catalogues else {}
        for o in self.outlooks:
            d = o.to_dict()
            sim = d["simulation"]
            catalogues = {c for c in (catalogue_of.get(s.key) for s in o.scenarios)
                          if c is not None}
            rows.append({"partnership": o.partnership, "scenarios": len(o.scenarios),
                         "expected_stability": d["expected_stability"],
                         "stability_p5": sim["p5"], "stability_p50": sim["p50"],
                         "stability_p95": sim["p95"],
                         **{f"p_{band}": p for band, p in sim["band_probabilities"].items()},
                         "catalogue": ", ".join(sorted(catalogues)) or None,
                         "method": o.method})
        return sorted(rows, key=lambda r: (-r["expected_stability"], r["partnership"]))

    def outlook_pairs(self) -> list[dict[str, Any]]:
        """P(outlook A beats outlook B) for every pair of partnerships with outlooks: each
        partnership's scenario is chosen by its probabilities, independently of the other's,
        so P = sum_k sum_l p_k q_l P(A_k > B_l) over the pairs' exact or counted odds."""
        return [dict(p) for p in self.outlook_odds]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.simulations[0].n if self.simulations else 0,
                "seed": self.simulations[0].seed if self.simulations else None,
                "method": self.method, "columns": self.columns(), "rows": self.rows(),
                "pair_scope": self.pair_scope, "pairs": self.pairs(),
                "outlook_columns": self.outlook_columns(),
                "partnerships": self.outlook_rows(),
                "partnership_pair_scope": self.outlook_pair_scope,
                "partnership_pairs": self.outlook_pairs(),
                "without_outlook": [dict(w) for w in self.without_outlook]}

    def to_frame(self) -> Any:
        """The scenario ranking as a DataFrame indexed by (partnership, scenario): the
        columns of :meth:`columns`, then ``node_<id>`` for each tree node (its value on its
        tree's scale, a pillar's sub-score)."""
        import pandas as pd

        rows = self.rows()
        nodes = _union([n["id"] for n in r.get("nodes", [])] for r in rows)
        columns = self.columns()
        return pd.DataFrame(
            [{**{c: r.get(c) for c in columns},
              **{f"node_{n}": v for n, v in ((n["id"], n["value"])
                                             for n in r.get("nodes", []))}} for r in rows],
            columns=[*columns, *(f"node_{n}" for n in nodes)]
        ).set_index(["partnership", "scenario"])

    def outlooks_frame(self) -> Any:
        """The partnership ranking (:meth:`outlook_rows`) as a DataFrame indexed by
        partnership."""
        import pandas as pd

        return pd.DataFrame(self.outlook_rows(), columns=self.outlook_columns()
                            ).set_index("partnership")

    def pairs_frame(self) -> Any:
        """P(row beats column) as a square DataFrame."""
        import pandas as pd

        keys = [f"{r['partnership']}/{r['scenario']}" for r in self.rows()]
        frame = pd.DataFrame(np.nan, index=keys, columns=keys)
        for pair in self.pairs():
            frame.loc[pair["a"], pair["b"]] = pair["p_a_beats_b"]
            frame.loc[pair["b"], pair["a"]] = 1.0 - pair["p_a_beats_b"] - pair["p_tie"]
        return frame

    def outlook_pairs_frame(self) -> Any:
        """P(row's outlook beats column's) as a square DataFrame of partnerships."""
        import pandas as pd

        keys = [r["partnership"] for r in self.outlook_rows()]
        frame = pd.DataFrame(np.nan, index=keys, columns=keys)
        for pair in self.outlook_pairs():
            frame.loc[pair["a"], pair["b"]] = pair["p_a_beats_b"]
            frame.loc[pair["b"], pair["a"]] = 1.0 - pair["p_a_beats_b"] - pair["p_tie"]
        return frame

    def _repr_html_(self) -> str:
        html = self.to_frame().to_html(float_format=lambda v: f"{v:.2f}", na_rep="–")
        if self.outlooks:
            html += "<p><b>Partnerships</b> (outlooks)</p>" + self.outlooks_frame().to_html(
                float_format=lambda v: f"{v:.2f}", na_rep="–")
        return html


def compare(scenarios: Sequence[Scenario], n: int = 20_000, seed: int = 0,
            sampler: Sampler = "random", progress: Progress | None = None,
            method: Method = "auto", pairs: Pairs = "default",
            executor: Executor | None = None,
            catalogue: CatalogueOf | Mapping[str, Factor] | None = None,
            keep_draws: bool = True) -> Comparison:
    """Score ``scenarios`` and summarise their uncertainty: exact laws where ``method`` allows
    (see :func:`riskengine.simulation.simulate`), else Monte Carlo with common random numbers.

    ``pairs="default"`` computes P(A beats B) for every pair within a partnership and for the
    pairs of the partnerships' baselines (:func:`reference_of`): linear in the number of
    scenarios for a fixed partnership size, and simulated one partnership at a time, so memory
    does not grow with the number of partnerships. ``pairs="all"`` computes every pair, in one
    run over all scenarios.
    ``executor``: draw the stream blocks on its workers (the same numbers
    to the last digit).

    Each partnership whose scenarios carry probabilities summing to 1 also gets its outlook
    (:func:`riskengine.outlook.outlook`), and every pair of such partnerships the odds that one
    outlook beats the other (:meth:`Comparison.outlook_pairs`). ``catalogue``: the factors the
    scenarios were loaded with, for each row's reliability coverage: one catalogue, or a
    function giving each scenario's (``Loaded.catalogue_of`` when they come from several
    projects). Each row's ``catalogue`` column is the scenario's own ``catalogue`` (set by the
    loader), else the given catalogue's folder.

    ``keep_draws``: hold the simulations' per-draw outputs (up to ``KEEP_BYTES`` in all) so
    that a chart of them draws nothing again; False when only the summaries are used (the
    ``compare`` command): each ``Simulation``'s draws then come from a second drawing if asked
    for, the same numbers.
    """
    if pairs not in PAIR_SCOPES:
        raise PairsError(f"unknown pairs {pairs!r}: use default or all")
    seen: dict[str, Scenario] = {}
    for s in scenarios:
        if s.key in seen:
            raise InputError([Problem(s.source or s.id, None, None, "id", f"scenario {s.key} "
                                      f"is also defined in {seen[s.key].source}", "RE202")])
        seen[s.key] = s
    group_map = _groups(scenarios)
    groups = list(group_map.values())
    if pairs == "all":
        wanted = list(combinations(range(len(scenarios)), 2))
        runs = [list(range(len(scenarios)))]
    else:
        bases = [_baseline(scenarios, group) for group in groups]
        wanted = sorted({*(p for group in groups for p in combinations(group, 2)),
                         *((min(p), max(p)) for p in combinations(bases, 2))})
        runs = groups
    # the partnerships that have an outlook: probabilities in every scenario, summing to 1
    reasons = {p: outlook_problems([scenarios[m] for m in g]) for p, g in group_map.items()}
    with_outlook = {p: g for p, g in group_map.items() if not reasons[p]}
    # each partnership's laws, the exact odds of the pairs within it and its outlook's
    # mixture, together, on the workers while this thread scores; a partnership that shares
    # no quantity with another sends back only its baseline's law of S when the caller keeps
    # no laws: its outlook's odds come from its mixture law
    keys = {p: frozenset(key for m in g for key in draw_keys(scenarios[m]))
            for p, g in group_map.items()}
    unshared = _unshared(keys)
    keep = {} if keep_draws or pairs == "all" else {
        p: [g.index(base)] for (p, g), base in zip(group_map.items(), bases, strict=True)
        if p in unshared}
    pending = _ExactFound(scenarios, method, group_map, executor, {
        p: [scenarios[m].probability or 0.0 for m in g] for p, g in with_outlook.items()}, keep)
    # the full point scores and reliabilities while the workers find the laws, or (when
    # they draw runs instead, below) while they draw; the ranking needs only S before that
    early_scores = pending.futures is not None
    if early_scores:
        results, paths, rels = _full_scores(scenarios, catalogue)
    ranked = _ranked(scenarios, [r.stability for r in results] if early_scores
                     else [point_stability(s) for s in scenarios], with_outlook)
    partnered = _outlook_pairs(list(with_outlook), ranked, pairs)
    # P(outlook A beats outlook B): one integral of the two mixture laws when A and B share
    # no quantity (independent, whichever scenarios they end in), else every pair of
    # scenarios across A and B; found as the partnerships come back, like the baselines' pairs
    early = _PairsAsTheyCome(scenarios, [
        p for p in wanted if scenarios[p[0]].partnership != scenarios[p[1]].partnership],
        [(a, b) for a, b in partnered if not keys[a] & keys[b]])
    exact, within, found = pending.wait(early if method != "mc" else None)
    laws = [None if e is None else e[0] for e in exact]
    chosen = set(wanted)
    direct = early.outlook_odds
    cross = [p for p in _cross_pairs([(with_outlook[a], with_outlook[b]) for a, b in partnered
                                      if (a, b) not in direct]) if p not in chosen]
    rest = [p for p in (*wanted, *cross) if p not in within and p not in early.tried]
    if method != "mc":
        _found_again(scenarios, method, exact, laws, rest)
    exact_pairs, independent = (_exact_pairs(scenarios, laws, rest) if method != "mc"
                                else ({}, []))
    exact_pairs.update(within)
    exact_pairs.update(early.odds)
    exact_keys = {*exact_pairs, *independent}
    mc_pairs = [p for p in (*wanted, *cross) if p not in exact_keys]
    run_of = {m: r for r, run in enumerate(runs) for m in run}
    outside = [(i, j) for i, j in mc_pairs if run_of[i] != run_of[j]]
    # runs in the ranking's order, so the partnerships whose outlooks are compared come one
    # after the other and their draws are held briefly (the order changes no number)
    place = {name: k for k, name in enumerate(ranked)}
    order = sorted(range(len(runs)), key=lambda r: (
        place.get(scenarios[runs[r][0]].partnership, len(place)), r))
    counter = _CrossCounts.plan(outside, runs, order, run_of, n, sampler)
    summaries: dict[int, Any] = {}
    counted: dict[tuple[int, int], tuple[float, float]] = {}
    draws: dict[int, Any] = {}
    mixtures: dict[str, Any] = {}
    # the first pass's draws are kept for the arrays while they fit in KEEP_BYTES; beyond
    # that a run is drawn again when its arrays are asked for, one run at a time
    budget = KEEP_BYTES if keep_draws else -1
    redraw = _Redraw(n, seed, sampler)
    inside_of: dict[int, list[tuple[int, int]]] = {}
    for i, j in mc_pairs:
        if run_of[i] == run_of[j]:
            inside_of.setdefault(run_of[i], []).append((i, j))
    tasks = []
    for r in order:
        run = runs[r]
        local = {m: i for i, m in enumerate(run)}
        inside = [(local[i], local[j]) for i, j in inside_of.get(r, [])]
        members = [scenarios[m] for m in run]
        want = [local[m] for m in counter.wanted(r)] if counter is not None else []
        if any(laws[m] is None for m in run) or inside or want:
            # a partnership's own run also finds its outlook's mixture percentiles (each
            # draw of scenario k weighs p_k / n), saving the outlook a pass of its own
            partnership = members[0].partnership
            mix = ([s.probability or 0.0 for s in members] if pairs != "all"
                   and partnership in with_outlook and any(laws[m] is None for m in run)
                   else None)
            budget -= 3 * 8 * n * len(run)
            # compiled here, where the scenarios' arrays are cached: a worker is sent arrays,
            # not the models (less than half the pickle, and cheaper at both ends)
            tasks.append((r, StreamSpec.of(members, n, seed, sampler, True, STREAM_BLOCK),
                          inside, mix, want, budget >= 0))
        else:
            if progress is not None:
                progress(n * len(run))
            draws.update((m, _bind(redraw.of(members), local[m])) for m in run)
    # many runs: each is one task of the executor (a run's numbers do not depend on where it
    # is drawn); one run: its blocks are shared out instead
    whole_runs = (executor is not None and len(tasks) > 1
                  and n * sum(len(task[1].members) for task in tasks) >= SHARE_RUNS_FROM)
    finished = _run_all(tasks, executor if whole_runs else None,
                        None if whole_runs else executor, progress)
    # The odds of the independent pairs from their laws (14,751 at 1,000 scenarios, 5 s of a
    # core) on a thread while this one scores and the workers draw the runs, when there are
    # workers (numpy lets go of the interpreter in the arithmetic, so the two overlap). That
    # thread alone touches the laws until it is joined, below.
    side = ThreadPoolExecutor(1) if executor is not None and len(independent) >= SIDE_PAIRS \
        else None
    try:
        later = side.submit(independent_odds_of, laws, independent) if side else None
        if later is None:
            exact_pairs.update(independent_odds_of(laws, independent))
        if not early_scores:
            results, paths, rels = _full_scores(scenarios, catalogue)
        for r, result, arrays_of in finished:
            run = runs[r]
            summaries.update((m, result.summaries[i]) for i, m in enumerate(run))
            counted.update(((run[i], run[j]), odds) for (i, j), odds in result.pairs.items())
            if result.mixture is not None:
                mixtures[scenarios[run[0]].partnership] = result.mixture
            if counter is not None:
                stability = {run[i]: v for i, v in result.stability.items()}
                counted.update(counter.add(r, stability))
            if arrays_of is None:
                arrays_of = redraw.of([scenarios[m] for m in run])
            draws.update((m, _bind(arrays_of, i)) for i, m in enumerate(run))
        if counter is None and outside:
            counted.update(_count_outside(scenarios, outside, set(cross), n, seed, sampler,
                                          executor))
        if later is not None:
            exact_pairs.update(later.result())
    finally:
        if side is not None:
            side.shutdown(wait=True, cancel_futures=True)
    sims = []
    for m, (s, law) in enumerate(zip(scenarios, laws, strict=True)):
        if law is not None:
            summary, how = exact[m][1], "exact"  # type: ignore[index]
        else:
            summary, how = summaries[m], "mc"
        sims.append(Simulation(s.id, s.partnership, n, seed, sampler, scenario_bands(s),
                               summary, how, draws[m], has_sides(s)))
    odds = []
    known: dict[tuple[int, int], tuple[float, float, str]] = {}
    for i, j in [*wanted, *cross]:
        if (i, j) in exact_pairs:
            p_beats, p_tie, how = *exact_pairs[i, j], "exact"
        else:
            p_beats, p_tie, how = *counted[i, j], "mc"
        known[i, j] = (p_beats, p_tie, how)
        if (i, j) in chosen:
            odds.append({"a": results[i].key, "b": results[j].key, "p_a_beats_b": p_beats,
                         "p_tie": p_tie, "method": how})
    outlooks = []
    for partnership, group in with_outlook.items():
        members = [scenarios[m] for m in group]
        if partnership in mixtures:
            outlooks.append(Outlook(partnership, tuple(members),
                                    tuple(results[m] for m in group),
                                    tuple(sims[m] for m in group), mixtures[partnership], "mc"))
        elif partnership in found and found[partnership].outlook is not None:
            outlooks.append(Outlook(partnership, tuple(members),
                                    tuple(results[m] for m in group),
                                    tuple(sims[m] for m in group), found[partnership].outlook,
                                    "exact"))
        elif all(laws[m] is not None for m in group):  # the exact laws already computed
            outlooks.append(outlook(members, n=n, seed=seed, sampler=sampler, method=method,
                                    executor=executor, laws=[laws[m] for m in group],
                                    results=[results[m] for m in group]))
        else:  # one run over all scenarios: the outlook's own computation
            outlooks.append(outlook(members, n=n, seed=seed, sampler=sampler, method=method,
                                    executor=executor))
    without = tuple({"partnership": p, "reason": reasons[p][0].message}
                    for p in group_map if reasons[p])
    return Comparison(tuple(scenarios), results, tuple(sims), tuple(odds), PAIR_SCOPES[pairs],
                      tuple(outlooks), _outlook_odds(scenarios, with_outlook, outlooks,
                                                     partnered, known, direct),
                      without, rels, paths, tuple(laws) if not keep else (),
                      OUTLOOK_PAIR_SCOPES[pairs])


def _full_scores(scenarios: Sequence[Scenario],
                 catalogue: CatalogueOf | Mapping[str, Factor] | None
                 ) -> tuple[tuple[Result, ...], tuple[str | None, ...], tuple[Reliability, ...]]:
    """Each scenario's point score, catalogue folder and reliability."""
    return (tuple(score_many(scenarios)),
            tuple(s.catalogue or _root_of(_catalogue_for(s, catalogue)) for s in scenarios),
            tuple(reliability(s, _coverage_catalogue(s, catalogue)) for s in scenarios))


def _unshared(keys: Mapping[str, frozenset[tuple[str, str]]]) -> set[str]:
    """The partnerships none of whose quantities (draw keys) another one has."""
    owners: dict[tuple[str, str], set[str]] = {}
    for name, own in keys.items():
        for key in own:
            owners.setdefault(key, set()).add(name)
    shared = {name for names in owners.values() if len(names) > 1 for name in names}
    return set(keys) - shared


def _mixture_odds(a: Any, b: Any) -> tuple[float, float, str]:
    """P(A > B) and P(A == B) of two independent outlooks from their mixture laws. B's
    integral tables are let go at once: a partnership is in two such pairs at most, and 100
    mixtures' tables held 50 MB."""
    odds = independent_odds(a, b)
    b.forget_integrals()
    return (*odds, "exact")


def _found_again(scenarios: Sequence[Scenario], method: Method, exact: list[ExactResult],
                 laws: list[Any], pairs: Sequence[tuple[int, int]]) -> None:
    """The laws of S a worker did not send back (those outside :func:`partnership_exact`'s
    ``keep``, a ``(None,)`` in place of the law) that ``pairs`` still need, computed again
    here: the same numbers. (Only when an outlook without a mixture law is compared with one
    whose partnership kept its baseline's law alone.)"""
    for m in sorted({m for pair in pairs for m in pair}):
        if laws[m] is not None and laws[m][0] is None:
            exact[m] = exact_results([scenarios[m]], method)[0]
            laws[m] = None if exact[m] is None else exact[m][0]  # type: ignore[index]


#: Whole runs go to the executor's workers from this many draws in all (n times the scenarios
#: simulated), and exact laws from this many scenarios: below, starting a pool (half a second
#: of a core) and shipping the work cost more than the workers save (the shipped comparison,
#: 11 scenarios x 20,000 draws, takes a quarter of a second here).
SHARE_RUNS_FROM = 2_000_000
SHARE_LAWS_FROM = 64
#: From this many independent pairs (a third of a millisecond each), their odds are found on
#: a side thread when there are workers.
SIDE_PAIRS = 256

#: Up to this many scenarios, the pairs across partnerships are counted in one pass.
ONE_PASS = 48


CatalogueOf = Callable[[Scenario], Mapping[str, Factor]]


def _catalogue_for(scenario: Scenario, catalogue: CatalogueOf | Mapping[str, Factor] | None
                   ) -> Mapping[str, Factor] | None:
    if catalogue is None or isinstance(catalogue, Mapping):
        return catalogue
    return catalogue(scenario)


def _root_of(catalogue: Mapping[str, Factor] | None) -> str | None:
    root = getattr(catalogue, "root", None)
    return display_path(root) if root is not None else None


def _coverage_catalogue(scenario: Scenario,
                        catalogue: CatalogueOf | Mapping[str, Factor] | None
                        ) -> Mapping[str, Factor] | None:
    """The catalogue a scenario's reliability coverage is measured against: its own. One
    catalogue given for all is used only for the scenarios scored with it (a scenario of
    another project keeps its other components)."""
    chosen = _catalogue_for(scenario, catalogue)
    if isinstance(catalogue, Mapping) and scenario.catalogue is not None \
            and _root_of(chosen) not in (None, scenario.catalogue):
        return None
    return chosen


def _cross_pairs(group_pairs: Sequence[tuple[Sequence[int], Sequence[int]]]
                 ) -> list[tuple[int, int]]:
    """Every pair of scenarios across each pair of groups, as (lower, higher) index."""
    return [(min(k, j), max(k, j)) for ga, gb in group_pairs for k in ga for j in gb]


def _ranked(scenarios: Sequence[Scenario], stability: Sequence[float],
            with_outlook: Mapping[str, Sequence[int]]) -> list[str]:
    """The partnerships with an outlook, ranked by expected stability of the point scores
    ``stability``, Σ p_k S_k (known before anything is drawn), best first."""
    expected = {p: math.fsum(stability[m] * (scenarios[m].probability or 0.0)
                             for m in group) for p, group in with_outlook.items()}
    return sorted(with_outlook, key=lambda p: (-expected[p], p))


def _outlook_pairs(names: Sequence[str], ranked: Sequence[str], pairs: Pairs
                   ) -> list[tuple[str, str]]:
    """The pairs of partnerships whose outlooks are compared, in the order of ``names``: every
    pair, or (default) each partnership and its neighbours in the ``ranked`` order."""
    every = list(combinations(names, 2))
    if pairs == "all":
        return every
    neighbours = {frozenset(pair) for pair in pairwise(ranked)}
    return [pair for pair in every if frozenset(pair) in neighbours]


def _outlook_odds(scenarios: Sequence[Scenario], with_outlook: Mapping[str, Sequence[int]],
                  outlooks: Sequence[Outlook], partnered: Sequence[tuple[str, str]],
                  known: dict[tuple[int, int], tuple[float, float, str]],
                  direct: Mapping[tuple[str, str], tuple[float, float, str]] | None = None
                  ) -> tuple[dict[str, Any], ...]:
    """P(outlook A beats outlook B) for the ``partnered`` pairs of partnerships.

    The scenario each partnership ends up in is chosen by its own probabilities, independently
    of the other's, and given the two scenarios the scores are as common random numbers make
    them (dependent through a shared party's quantities, else independent); so
    P(A > B) = sum_k sum_l p_k q_l P(A_k > B_l), each term the pair's exact odds where both
    laws are linear, else counted over common random numbers.
    """
    odds: list[dict[str, Any]] = []
    by_name = {o.partnership: o for o in outlooks}
    for name_a, name_b in partnered:
        a, b = by_name[name_a], by_name[name_b]
        if direct is not None and (name_a, name_b) in direct:
            p_beats, p_tie, how = direct[name_a, name_b]
            odds.append({"a": a.partnership, "b": b.partnership, "p_a_beats_b": p_beats,
                         "p_tie": p_tie, "method": how})
            continue
        ga, gb = with_outlook[name_a], with_outlook[name_b]
        beats, ties, hows = [], [], set()
        for k in ga:
            for j in gb:
                p_beats, p_tie, how = known[min(k, j), max(k, j)]
                if k > j:  # stored as P(B_j > A_k)
                    p_beats = 1.0 - p_beats - p_tie
                weight = (scenarios[k].probability or 0.0) * (scenarios[j].probability or 0.0)
                beats.append(weight * p_beats)
                ties.append(weight * p_tie)
                hows.add(how)
        odds.append({"a": a.partnership, "b": b.partnership,
                     "p_a_beats_b": min(1.0, max(0.0, math.fsum(beats))),
                     "p_tie": min(1.0, max(0.0, math.fsum(ties))),
                     "method": hows.pop() if len(hows) == 1 else "mixed"})
    return tuple(odds)


@dataclass(frozen=True)
class PartnershipExact:
    """What one partnership's exact laws give (:func:`partnership_exact`), found where they
    are computed: a worker, when there is one."""

    results: list[ExactResult]  # each scenario's (law of S,) and summary; None: Monte Carlo
    odds: dict[tuple[int, int], tuple[float, float]]  # the exact odds of pairs within it
    outlook: dict[str, Any] | None = None  # the outlook's exact summary
    mixture: Any = None  # the outlook's mixture law (:func:`riskengine.exact.mixture_law`)


def partnership_exact(scenarios: Sequence[Scenario], method: Method,
                      probabilities: Sequence[float] | None = None,
                      keep: Sequence[int] | None = None) -> PartnershipExact:
    """One partnership's :func:`~riskengine.simulation.exact_results` and the exact odds of
    the pairs of its scenarios (indices into ``scenarios``) that have them; with
    ``probabilities``, its outlook's exact summary and mixture law too. All found where the
    laws are, on a worker, instead of one by one after them (4,500 laws of differences at
    1,000 scenarios). ``keep``: the only scenarios whose laws of S the caller needs later, when
    the outlook's odds can come from its mixture law (or it has no outlook): the others stay
    here, a comparison of 1,000 scenarios holding 100 laws instead of 1,000. Top level:
    picklable."""
    from riskengine import exact
    from riskengine.outlook import exact_mixture_summary

    results = exact_results(scenarios, method)
    laws = [None if r is None else r[0] for r in results]
    odds, independent = _exact_pairs(scenarios, laws,
                                     list(combinations(range(len(scenarios)), 2)))
    odds.update(independent_odds_of(laws, independent))
    summary = mixture = None
    if probabilities is not None and scenarios and all(law is not None for law in laws):
        weights = np.array(probabilities, dtype=float)
        stability = [law[0] for law in laws if law is not None]
        summary = exact_mixture_summary(stability, weights, scenario_bands(scenarios[0]))
        mixture = exact.mixture_law(stability, weights)
    if keep is not None and (probabilities is None or mixture is not None):
        kept = set(keep)
        results = [r if r is None or m in kept else ((None,), r[1])
                   for m, r in enumerate(results)]
    return PartnershipExact(results, odds, summary, mixture)


class _ExactFound:
    """The partnerships' :func:`partnership_exact`, started on the executor's workers when
    there is one (collected by :meth:`wait`, so the caller scores meanwhile), else computed
    in :meth:`wait`."""

    def __init__(self, scenarios: Sequence[Scenario], method: Method,
                 groups: Mapping[str, list[int]], executor: Executor | None,
                 probabilities: Mapping[str, list[float]], keep: Mapping[str, list[int]]
                 ) -> None:
        self.scenarios, self.method, self.groups = scenarios, method, groups
        self.items = [([scenarios[m] for m in g], probabilities.get(p), keep.get(p))
                      for p, g in groups.items()]
        share = (executor is not None and method != "mc" and len(groups) >= 2
                 and len(scenarios) >= SHARE_LAWS_FROM)
        self.futures: list[Future[PartnershipExact]] | None = (
            [executor.submit(partnership_exact, members, method, probs, kept)
             for members, probs, kept in self.items]
            if share and executor is not None else None)

    def wait(self, arrived: Callable[[str, PartnershipExact, list[int], list[ExactResult]],
                                     None] | None = None
             ) -> tuple[list[ExactResult], dict[tuple[int, int], tuple[float, float]],
                        dict[str, PartnershipExact]]:
        """Each scenario's exact result (None: Monte Carlo), the exact odds within the
        partnerships by scenario indices, and each partnership's :class:`PartnershipExact`.
        ``arrived(name, part, chunk, results)``: called as each partnership comes in (its
        name, what was found, its scenario indices, and every result so far), while the
        workers go on."""
        out: list[ExactResult] = [None] * len(self.scenarios)
        odds: dict[tuple[int, int], tuple[float, float]] = {}
        found: dict[str, PartnershipExact] = {}
        if self.method == "mc":
            return out, odds, found
        for k, (name, chunk) in enumerate(self.groups.items()):
            members, probabilities, keep = self.items[k]
            part = (self.futures[k].result() if self.futures is not None
                    else partnership_exact(members, self.method, probabilities, keep))
            found[name] = part
            for m, result in zip(chunk, part.results, strict=True):
                out[m] = result
            odds.update(((chunk[i], chunk[j]), value) for (i, j), value in part.odds.items())
            if arrived is not None:
                arrived(name, part, chunk, out)
        return out, odds, found


class _PairsAsTheyCome:
    """The exact odds of pairs across partnerships (the baselines'), each found as soon as
    both its scenarios' laws have come back from the workers: this thread would otherwise
    idle until the last partnership, then take the 4,950 integrals of 100 baselines alone."""

    def __init__(self, scenarios: Sequence[Scenario], pairs: Sequence[tuple[int, int]],
                 unshared: Sequence[tuple[str, str]] = ()) -> None:
        """``pairs``: of scenarios; ``unshared``: of partnerships that share no quantity,
        whose outlooks' odds come from their mixture laws when both have one."""
        self.scenarios = scenarios
        self.of_member: dict[int, list[tuple[int, int]]] = {}
        for pair in pairs:
            for m in pair:
                self.of_member.setdefault(m, []).append(pair)
        self.of_partnership: dict[str, list[tuple[str, str]]] = {}
        for names in unshared:
            for name in names:
                self.of_partnership.setdefault(name, []).append(names)
        self.here: set[int] = set()
        self.tried: set[tuple[int, int]] = set()  # found, or left to be counted
        self.odds: dict[tuple[int, int], tuple[float, float]] = {}
        self.mixtures: dict[str, Any] = {}
        self.outlook_odds: dict[tuple[str, str], tuple[float, float, str]] = {}
        self.seen = _Seen()

    def __call__(self, name: str, part: PartnershipExact, chunk: list[int],
                 results: list[ExactResult]) -> None:
        self.mixtures[name] = part.mixture
        for a, b in self.of_partnership.get(name, ()):
            mix_a, mix_b = self.mixtures.get(a), self.mixtures.get(b)
            if mix_a is not None and mix_b is not None:
                self.outlook_odds[a, b] = _mixture_odds(mix_a, mix_b)
        self.here.update(chunk)
        ready = sorted({pair for m in chunk for pair in self.of_member.get(m, ())
                        if pair[0] in self.here and pair[1] in self.here} - self.tried)
        if not ready:
            return
        laws = [None if r is None else r[0] for r in results]
        found, independent = _exact_pairs(self.scenarios, laws, ready, self.seen)
        found.update(independent_odds_of(laws, independent))
        self.tried.update(ready)
        self.odds.update(found)


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


@dataclass(frozen=True)
class _Linear:
    """What the exact odds of a scenario's pairs read from it, found once per scenario: its
    linear form, its marginals with PERT's (a, b), and each estimate's row by draw key."""

    form: Any
    marginals: Marginals
    index: dict[tuple[str, str], int]

    @classmethod
    def of(cls, scenario: Scenario) -> _Linear:
        return cls(linear_form(scenario), Marginals.of(scenario),
                   {key: i for i, key in enumerate(draw_keys(scenario))})


@dataclass
class _Seen:
    """What :func:`_exact_pairs` found of each scenario, kept by a caller that asks again."""

    prepared: dict[int, _Linear] = field(default_factory=dict)
    ids: dict[int, frozenset[tuple[str, str]]] = field(default_factory=dict)


def _exact_pairs(scenarios: Sequence[Scenario], laws: Sequence[Any],
                 wanted: Sequence[tuple[int, int]], seen: _Seen | None = None
                 ) -> tuple[dict[tuple[int, int], tuple[float, float]], list[tuple[int, int]]]:
    """The exact odds of the pairs where both scenarios have exact laws and share a quantity,
    and the pairs that share none: independent, their odds follow from the two laws of S
    already computed (:func:`independent_odds_of`, no new convolution)."""
    seen = seen if seen is not None else _Seen()
    prepared, ids = seen.prepared, seen.ids
    out = {}
    independent = []
    for i, j in wanted:
        if laws[i] is None or laws[j] is None:
            continue
        for m in (i, j):
            if m not in ids:
                ids[m] = frozenset(draw_keys(scenarios[m]))
        if not ids[i] & ids[j]:  # independent under common random numbers too
            independent.append((i, j))
            continue
        for m in (i, j):
            if m not in prepared:
                prepared[m] = _Linear.of(scenarios[m])
        odds = difference_odds(scenarios[i], scenarios[j], prepared[i], prepared[j])
        if odds is not None:
            out[i, j] = odds
    return out, independent


def _affine_image(m_a: Marginals, i: int, ab_a: tuple[FloatArray, FloatArray],
                  m_b: Marginals, j: int, ab_b: tuple[FloatArray, FloatArray]
                  ) -> tuple[float, float] | None:
    """(ratio, offset) when b's estimate j is ratio * (a's estimate i) + offset for every
    uniform, else None. Under common random numbers both are drawn from one uniform; two
    estimates of one kind and shape (a variant's ``shift``, a range rescaled about the same
    mode share) are then each low + width * the same standard variable: the PERT's Beta with
    the same (a, b), which the simulation draws from one table; the triangle with the same
    mode share; the uniform. A point value against a point value is a constant. (An estimate
    alike in both, its own image (1, 0), is found by the caller for all of them at once.)"""
    kind = m_a.kind[i]
    if kind != m_b.kind[j]:
        return None
    width_a, width_b = float(m_a.high[i] - m_a.low[i]), float(m_b.high[j] - m_b.low[j])
    if kind == Marginals.FIXED or (width_a == 0.0 and width_b == 0.0):
        return 0.0, float(m_b.low[j])
    if width_a <= 0.0 or width_b <= 0.0:
        return None
    if kind == Marginals.PERT and (ab_a[0][i], ab_a[1][i]) != (ab_b[0][j], ab_b[1][j]):
        return None
    if kind == Marginals.TRIANGULAR and (m_a.mode[i] - m_a.low[i]) / width_a != (
            m_b.mode[j] - m_b.low[j]) / width_b:
        return None
    ratio = width_b / width_a
    return ratio, float(m_b.low[j]) - ratio * float(m_a.low[i])


def independent_odds_of(laws: Sequence[Any], pairs: Sequence[tuple[int, int]]
                        ) -> dict[tuple[int, int], tuple[float, float]]:
    """:func:`independent_odds` of each pair of scenarios, from their laws of S. The pairs are
    taken by their second law, whose integral tables each pair reads; they are dropped once
    its pairs are done, so at most one law's are held (the same numbers in any order)."""
    by_second: dict[int, list[int]] = {}
    for i, j in pairs:
        by_second.setdefault(j, []).append(i)
    out = {}
    for j, firsts in by_second.items():
        b = laws[j][0]
        for i in firsts:
            out[i, j] = independent_odds(laws[i][0], b)
        b.forget_integrals()
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
    from riskengine.exact import prob_greater

    return prob_greater(a, b), 0.0


#: The stability draws held at once for the pairs across runs stay under this; beyond it
#: those pairs are counted in passes of their own instead (the same numbers).
CROSS_BYTES = 96 * 2**20


@dataclass
class _CrossCounts:
    """P(S_i > S_j) and P(tie) for pairs of scenarios drawn in different runs, counted from the
    runs' own stability draws as the runs come in.

    Under the pseudo-random sampler a quantity's uniforms do not depend on the run that draws
    them (:class:`~riskengine.simulation._UniformSource`), so a scenario's draws are the same
    numbers in its own run as in any joint one: counting across runs gives exactly what one
    pass over both would. A scenario's draws are held from its run until its last pair is
    counted.
    """

    n: int
    due: dict[int, list[tuple[int, int]]]  # run -> the pairs complete once it is in
    needed: dict[int, list[int]]  # run -> its scenarios that some pair needs
    release: dict[int, int]  # scenario -> the run after which its draws are dropped
    held: dict[int, Any] = field(default_factory=dict)

    @classmethod
    def plan(cls, outside: Sequence[tuple[int, int]], runs: Sequence[Sequence[int]],
             order: Sequence[int], run_of: Mapping[int, int], n: int, sampler: Sampler
             ) -> _CrossCounts | None:
        """The schedule for ``outside`` pairs over the runs in ``order``, or None if they must
        be counted in passes of their own (a Sobol sequence is one joint stream, or the
        draws held at once would exceed :data:`CROSS_BYTES`)."""
        if sampler != "random":
            return None if outside else cls(n, {}, {}, {})
        position = {r: k for k, r in enumerate(order)}
        due: dict[int, list[tuple[int, int]]] = {}
        last: dict[int, int] = {}  # scenario -> position of the last run one of its pairs needs
        for i, j in outside:
            at = max(position[run_of[i]], position[run_of[j]])
            due.setdefault(order[at], []).append((i, j))
            for m in (i, j):
                last[m] = max(last.get(m, -1), at)
        # the most draws held at once: a scenario is held from its own run to its last pair
        change = np.zeros(len(order) + 1, dtype=np.int64)
        for m, at in last.items():
            change[position[run_of[m]]] += 1
            change[at + 1] -= 1
        if int(np.cumsum(change).max(initial=0)) * 8 * n > CROSS_BYTES:
            return None
        needed: dict[int, list[int]] = {}
        for m in sorted(last):
            needed.setdefault(run_of[m], []).append(m)
        return cls(n, due, needed, {m: order[at] for m, at in last.items()})

    def wanted(self, run: int) -> list[int]:
        return self.needed.get(run, [])

    def add(self, run: int, stability: Mapping[int, Any]
            ) -> dict[tuple[int, int], tuple[float, float]]:
        """Take a run's draws of the scenarios asked for; count the pairs now complete."""
        self.held.update(stability)
        out: dict[tuple[int, int], tuple[float, float]] = {}
        for i, j in self.due.get(run, []):
            a, b = self.held[i], self.held[j]
            out[i, j] = (float(np.count_nonzero(a > b) / self.n),
                         float(np.count_nonzero(a == b) / self.n))
        for m in [m for m in self.held if self.release[m] == run]:
            del self.held[m]
        return out


# run, its spec, its own pairs, its outlook's weights, members whose S the pairs across runs
# need, whether its outputs are kept for the simulations' arrays
RunTask = tuple[int, StreamSpec, list[tuple[int, int]], list[float] | None, list[int], bool]


def _run_all(tasks: Sequence[RunTask], pool: Executor | None, blocks: Executor | None,
             progress: Progress | None
             ) -> Iterator[tuple[int, RunResult, Callable[[int], Any] | None]]:
    """Each task's run, in the tasks' order: whole runs on ``pool``'s workers (a few ahead of
    the one being used, so finished runs do not pile up in memory), else here, with the stream
    blocks of each shared out on ``blocks``."""
    if pool is None:
        return _run_here(tasks, blocks, progress)
    ahead = 2 * default_jobs()  # a few a core: the window bounds memory, not the numbers
    pending: deque[tuple[RunTask, Future[tuple[RunResult, list[Any] | None]]]] = deque()
    queue = iter(tasks)
    for task in queue:  # submitted now: the caller works while the first runs are drawn
        pending.append((task, pool.submit(run_task, *task[1:])))
        if len(pending) >= ahead:
            break
    return _collect(pending, queue, pool, progress)


def _run_here(tasks: Sequence[RunTask], blocks: Executor | None, progress: Progress | None
              ) -> Iterator[tuple[int, RunResult, Callable[[int], Any] | None]]:
    for r, spec, inside, mix, want, keep in tasks:
        result, arrays_of = run_members(spec.members, spec.n, spec.seed, spec.sampler,
                                        spec.shared, progress=progress, pairs=inside,
                                        mixture=mix, executor=blocks, want=want)
        yield r, result, arrays_of if keep else None


def _collect(pending: deque[tuple[RunTask, Future[tuple[RunResult, list[Any] | None]]]],
             queue: Iterator[RunTask], pool: Executor, progress: Progress | None
             ) -> Iterator[tuple[int, RunResult, Callable[[int], Any] | None]]:
    while pending:
        (r, spec, *_), future = pending.popleft()
        for task in queue:
            pending.append((task, pool.submit(run_task, *task[1:])))
            break
        result, outputs = future.result()
        if progress is not None:
            progress(spec.n * len(spec.members))
        yield r, result, None if outputs is None else outputs.__getitem__


def _count_outside(scenarios: Sequence[Scenario], outside: Sequence[tuple[int, int]],
                   cross: set[tuple[int, int]], n: int, seed: int, sampler: Sampler,
                   executor: Executor | None) -> dict[tuple[int, int], tuple[float, float]]:
    """The pairs across runs in passes of their own (when :class:`_CrossCounts` cannot count
    them from the runs' draws): few scenarios in one pass; else the baselines' pairs in one,
    and the outlooks' pairs one pair of partnerships at a time, so memory stays that of two
    partnerships."""
    if len({m for p in outside for m in p}) <= ONE_PASS:
        return _count_pairs(scenarios, outside, n, seed, sampler, executor)
    counted = {}
    across = [p for p in outside if p not in cross]
    if across:
        counted.update(_count_pairs(scenarios, across, n, seed, sampler, executor))
    by_pair: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for i, j in outside:
        if (i, j) in cross:
            by_pair.setdefault((scenarios[i].partnership, scenarios[j].partnership),
                               []).append((i, j))
    for chunk in by_pair.values():
        counted.update(_count_pairs(scenarios, chunk, n, seed, sampler, executor))
    return counted


def _count_pairs(scenarios: Sequence[Scenario], pairs: Sequence[tuple[int, int]], n: int,
                 seed: int, sampler: Sampler, executor: Executor | None = None
                 ) -> dict[tuple[int, int], tuple[float, float]]:
    """P(S_i > S_j) and P(tie) by common random numbers, over the pairs' scenarios only:
    only the pair counts are kept, no summaries (the members' were found in their runs)."""
    involved = sorted({m for p in pairs for m in p})
    local = {m: i for i, m in enumerate(involved)}
    if executor is not None and len(block_ranges(n)) > 1:
        # integer counts per range of blocks: their sum does not depend on the split
        spec = StreamSpec.of([scenarios[m] for m in involved], n, seed, sampler, True, 1 << 16)
        wanted = [(local[i], local[j]) for i, j in pairs]
        futures = [executor.submit(stream_part, spec, blocks, wanted, False)
                   for blocks in block_ranges(n)]
        totals = np.sum([np.array(f.result().pair_counts) for f in futures], axis=0)
        return {p: (float(c[0] / n), float(c[1] / n))
                for p, c in zip(pairs, totals, strict=True)}
    members, sources = _members([scenarios[m] for m in involved], True, sampler)
    rows = _chunk_rows(members, sources, 1 << 16)
    counts = {p: np.zeros(2, dtype=np.int64) for p in pairs}
    for outs in _stream(members, sources, n, seed, sampler, rows):
        for (i, j), c in counts.items():
            a, b = outs[local[i]][0], outs[local[j]][0]
            c += [np.count_nonzero(a > b), np.count_nonzero(a == b)]
    return {p: (float(c[0] / n), float(c[1] / n)) for p, c in counts.items()}


def _bind(func: Any, m: int) -> Any:
    return lambda: func(m)


def difference_odds(a: Scenario, b: Scenario, pre_a: _Linear | None = None,
                    pre_b: _Linear | None = None) -> tuple[float, float] | None:
    """P(S_a > S_b) and P(S_a == S_b) from the exact law of S_a - S_b, or None.

    Under common random numbers a quantity shared by both scenarios (the same
    :func:`~riskengine.simulation.draw_key`: one party's factor, or a factor of one
    partnership) is one input only if both estimate it the same way; then S_a - S_b is linear
    in independent inputs. Otherwise (the same uniform drives two different estimates) it is
    not, and the caller counts draws. Quantities of one scenario only are independent inputs.
    ``pre_a``, ``pre_b``: what :class:`_Linear` finds of each, from a caller with many pairs.
    """
    from riskengine import exact

    pa = pre_a if pre_a is not None else _Linear.of(a)
    pb = pre_b if pre_b is not None else _Linear.of(b)
    if pa.form is None or pb.form is None:
        return None
    m_a, m_b = pa.marginals, pb.marginals
    # each shared quantity's estimate in b as an affine image of a's: b's value is
    # ratio * a's + offset, draw by draw
    affine: dict[tuple[str, str], tuple[float, float]] = {}
    ab_a, ab_b = m_a.pert_ab(), m_b.pert_ab()
    shared = list(pa.index.keys() & pb.index.keys())
    ia = np.fromiter((pa.index[fid] for fid in shared), dtype=np.intp, count=len(shared))
    ib = np.fromiter((pb.index[fid] for fid in shared), dtype=np.intp, count=len(shared))
    # most shared quantities are estimated alike in both (their own image), found at once
    alike = ((m_a.kind[ia] == m_b.kind[ib]) & (m_a.low[ia] == m_b.low[ib])
             & (m_a.mode[ia] == m_b.mode[ib]) & (m_a.high[ia] == m_b.high[ib]))
    for fid, i, j, same in zip(shared, ia.tolist(), ib.tolist(), alike.tolist(), strict=True):
        found = (1.0, 0.0) if same else _affine_image(m_a, i, ab_a, m_b, j, ab_b)
        if found is None:
            return None
        affine[fid] = found
    ids = sorted(pa.index.keys() | pb.index.keys())
    column = {fid: col for col, fid in enumerate(ids)}
    coef_a, coef_b = pa.form[1][0], pb.form[1][0]
    coef = np.zeros(len(ids))
    low, mode, high = np.zeros(len(ids)), np.zeros(len(ids)), np.zeros(len(ids))
    kind = np.zeros(len(ids), dtype=np.int8)
    c0 = float(pa.form[0][0] - pb.form[0][0])
    # a's estimates are the columns of their quantities, with a's coefficients
    rows_a = np.fromiter(pa.index.values(), dtype=np.intp, count=len(pa.index))
    cols_a = np.fromiter((column[fid] for fid in pa.index), dtype=np.intp, count=len(pa.index))
    coef[cols_a] += coef_a[rows_a]
    for field_, source in ((low, m_a.low), (mode, m_a.mode), (high, m_a.high)):
        field_[cols_a] = source[rows_a]
    kind[cols_a] = m_a.kind[rows_a]
    for col, fid in enumerate(ids):  # in the columns' order: c0 sums offsets in that order
        i = pb.index.get(fid)
        if i is None:
            continue
        if fid in affine:
            # - c_b (ratio x_a + offset): a's column, its coefficient less c_b ratio (for
            # an estimate alike in both, ratio 1 and offset 0: a's column less c_b)
            ratio, offset = affine[fid]
            coef[col] -= coef_b[i] * ratio
            c0 -= coef_b[i] * offset
            continue
        coef[col] -= coef_b[i]
        kind[col] = m_b.kind[i]
        low[col], mode[col], high[col] = m_b.low[i], m_b.mode[i], m_b.high[i]
    alpha, beta = Marginals(low, mode, high, kind).pert_ab()
    return exact.linear_prob_positive(c0, coef, kind, low, mode, high, alpha, beta)
