"""The outlook of a partnership: its scenarios mixed by their probabilities.

The expected stability is ``sum(p_k S_k)`` of the deterministic scores (MODEL.md); the
distribution is the mixture of the scenarios' distributions: of their exact laws when every
scenario is linear in independent inputs (``method="auto"`` or ``"exact"``), else of their
simulated draws, each draw of scenario ``k`` carrying weight ``p_k / n``. The Monte Carlo
mixture's percentiles are found while drawing, in memory that does not grow with ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskengine.loading import outlook_problems
from riskengine.models import Scenario
from riskengine.problems import InputError
from riskengine.scoring import (
    BandRule,
    FloatArray,
    Result,
    has_sides,
    scenario_bands,
    score_many,
)
from riskengine.simulation import (
    PERCENTILES,
    Method,
    Progress,
    Sampler,
    Simulation,
    band_probabilities,
    choose_method,
    exact_summary,
    run_members,
)


def weighted_percentiles(values: FloatArray, weights: FloatArray,
                         q: Sequence[float] = PERCENTILES) -> list[float]:
    """Percentiles of a weighted sample (inverse of the weighted empirical CDF)."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    # the tolerance absorbs rounding in the running sum, so equal weights give numpy's
    # "inverted_cdf" percentiles exactly
    idx = np.searchsorted(cumulative, np.asarray(q) / 100.0 - 1e-12, side="left")
    return [float(v) for v in values[order][np.minimum(idx, values.size - 1)]]


@dataclass(frozen=True)
class Outlook:
    """One partnership's outlook (:func:`outlook`): its scenarios mixed by their
    probabilities. ``to_dict()`` gives the expected S, the mixture's percentiles and band odds
    (``simulation``) and each scenario's share; ``to_frame()`` the scenarios as a DataFrame."""

    partnership: str
    scenarios: tuple[Scenario, ...]
    results: tuple[Result, ...]
    simulations: tuple[Simulation, ...]
    summary: dict[str, Any] | None = None  # mean, p5, p50, p95, band_probabilities
    method: str = "mc"

    @property
    def probabilities(self) -> FloatArray:
        return np.array([s.probability or 0.0 for s in self.scenarios])

    def mixture(self) -> tuple[FloatArray, FloatArray]:
        """All simulated S values and each one's weight in the mixture."""
        values = np.concatenate([sim.stability for sim in self.simulations])
        weights = np.concatenate([np.full(sim.n, p / sim.n) for sim, p in
                                  zip(self.simulations, self.probabilities, strict=True)])
        return values, weights

    def to_dict(self) -> dict[str, Any]:
        summary = self.summary
        if summary is None:  # built by hand from simulations: mix their draws
            values, weights = self.mixture()
            p5, p50, p95 = weighted_percentiles(values, weights)
            summary = {"mean": float(np.sum(values * weights)), "p5": p5, "p50": p50,
                       "p95": p95, "band_probabilities": band_probabilities(
                           values, scenario_bands(self.scenarios[0]), weights)}
        probs = self.probabilities
        expected = math.fsum(p * r.stability for p, r in zip(probs, self.results, strict=True))
        return {
            "partnership": self.partnership,
            "expected_stability": expected,
            "simulation": {
                "n": int(sum(sim.n for sim in self.simulations)),
                "seed": self.simulations[0].seed,
                "method": self.method,
                **summary,
            },
            "scenarios": [
                {"scenario": s.id, "title": s.title, "probability": p, "stability": r.stability,
                 "band": r.band, "share_of_expected": p * r.stability / expected if expected
                 else 0.0, "p5": sim.stats.moments[0]["p5"],
                 "p95": sim.stats.moments[0]["p95"]}
                for s, p, r, sim in zip(self.scenarios, probs, self.results, self.simulations,
                                        strict=True)],
        }

    def to_frame(self) -> Any:
        """The scenarios as a DataFrame indexed by scenario: probability, S, band, share of
        the expected S, p5 and p95."""
        import pandas as pd

        return pd.DataFrame(self.to_dict()["scenarios"]).set_index("scenario")

    def _repr_html_(self) -> str:
        d = self.to_dict()
        return (f"<p><b>{self.partnership}</b> outlook: expected S = "
                f"{d['expected_stability']:.1f}</p>" + self.to_frame().to_html())


def outlook(scenarios: Sequence[Scenario], n: int = 20_000, seed: int = 0,
            sampler: Sampler = "random", progress: Progress | None = None,
            method: Method = "auto", executor: Executor | None = None,
            simulations: Sequence[Simulation] | None = None,
            results: Sequence[Result] | None = None,
            laws: Sequence[Any] | None = None) -> Outlook:
    """Mix one partnership's scenarios; their probabilities must sum to 1 (within 1e-9).
    ``executor``: draw the stream blocks on its workers (the same numbers).

    ``simulations`` (and ``results``): the scenarios' own, already computed in the same order
    (by :func:`riskengine.compare.compare`, say): they are mixed as they are and nothing is
    drawn again. The mixture is exact when every one of them is; otherwise it mixes their
    draws, so its percentiles differ from a fresh outlook's by sampling noise only. ``laws``:
    the scenarios' exact laws as :func:`riskengine.simulation.choose_method` gives them
    (``Comparison.laws``), so they are not computed again.
    """
    problems = outlook_problems(scenarios)
    if problems:
        raise InputError(problems)
    if simulations is not None and len(simulations) != len(scenarios):
        raise ValueError("outlook: one simulation per scenario")
    if simulations is not None and any(sim.method != "exact" for sim in simulations):
        return Outlook(scenarios[0].partnership, tuple(scenarios),
                       tuple(results) if results is not None
                       else tuple(score_many(scenarios)), tuple(simulations))
    if laws is not None and len(laws) != len(scenarios):
        raise ValueError("outlook: one entry of laws per scenario")
    if laws is None:
        laws = choose_method(scenarios, "exact" if simulations is not None else method)
    probs = np.array([s.probability or 0.0 for s in scenarios])
    bands = scenario_bands(scenarios[0])
    results = tuple(results) if results is not None else tuple(score_many(scenarios))
    if all(law is not None for law in laws):
        summary = exact_mixture_summary([law[0] for law in laws if law is not None], probs,
                                        bands)

        def rerun(m: int) -> FloatArray:
            return run_members(scenarios, n, seed, sampler, False)[1](m)

        sims = tuple(simulations) if simulations is not None else tuple(
            Simulation(s.id, s.partnership, n, seed, sampler, scenario_bands(s),
                       exact_summary(law, scenario_bands(s)), "exact", _bind(rerun, m),
                       has_sides(s))
            for m, (s, law) in enumerate(zip(scenarios, laws, strict=True)) if law is not None)
        if progress is not None and simulations is None:
            progress(n * len(scenarios))
        return Outlook(scenarios[0].partnership, tuple(scenarios), results, sims, summary,
                       "exact")
    result, arrays_of = run_members(scenarios, n, seed, sampler, False, progress=progress,
                                    mixture=list(probs), executor=executor)
    sims = tuple(Simulation(s.id, s.partnership, n, seed, sampler, scenario_bands(s),
                            result.summaries[m], "mc", _bind(arrays_of, m), has_sides(s))
                 for m, s in enumerate(scenarios))
    return Outlook(scenarios[0].partnership, tuple(scenarios), results, sims, result.mixture,
                   "mc")


def exact_mixture_summary(laws: Sequence[Any], probs: FloatArray, bands: BandRule
                          ) -> dict[str, Any]:
    """An outlook's summary from its scenarios' exact laws of S (:class:`exact.Law`) and
    probabilities: the mean, the mixture's percentiles and its band probabilities."""
    from riskengine import exact

    p5, p50, p95 = (float(v) for v in exact.mixture_quantile(
        list(laws), probs, np.array(PERCENTILES) / 100.0))
    return {"mean": float(np.sum(probs * [law.mean for law in laws])),
            "p5": p5, "p50": p50, "p95": p95,
            "band_probabilities": exact.mixture_band_probabilities(list(laws), probs, bands)}


def _bind(func: Any, m: int) -> Any:
    return lambda: func(m)
