"""What drives a score: tornado swings, Sobol indices, weight robustness and breakpoints.

All of it evaluates the one scoring implementation (:func:`riskengine.scoring.aggregate`) on
whole matrices of inputs; the only Python loops are over factors, never over samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from riskengine.models import Scenario
from riskengine.scoring import (
    FloatArray,
    ModelArrays,
    aggregate,
    band_index,
    band_names,
    band_of,
    normalise,
)
from riskengine.simulation import Marginals
from riskengine.tree import contributions as tree_contributions
from riskengine.tree import evaluate, linear_coefficients

SobolMethod = Literal["auto", "analytic", "estimate"]


def stability_of(raw: FloatArray, arrays: ModelArrays) -> FloatArray:
    return aggregate(normalise(raw, arrays), arrays)[0]


# ---------------------------------------------------------------------------------------------
# tornado


def tornado(scenario: Scenario) -> list[dict[str, Any]]:
    """S with one factor at its low, then at its high, the others at their point value."""
    arrays = ModelArrays.of(scenario)
    k = len(arrays.ids)
    lows = np.tile(arrays.point, (k, 1))
    highs = lows.copy()
    np.fill_diagonal(lows, arrays.low)
    np.fill_diagonal(highs, arrays.high)
    low_scores, high_scores = stability_of(lows, arrays), stability_of(highs, arrays)
    rows = [{"id": fid, "low_score": float(lo), "high_score": float(hi),
             "swing": float(abs(hi - lo))}
            for fid, lo, hi in zip(arrays.ids, low_scores, high_scores, strict=True)]
    return sorted(rows, key=lambda r: (-r["swing"], r["id"]))


# ---------------------------------------------------------------------------------------------
# Sobol indices


def analytic_unavailable(scenario: Scenario) -> str | None:
    """Why the exact indices do not apply to ``scenario``, or None when they do."""
    if scenario.tree is None and scenario.model.aggregation != "arithmetic":
        return f"uses the {scenario.model.aggregation} model (exact indices need arithmetic)"
    if scenario.tree is not None and not ModelArrays.of(scenario).is_linear:
        return (f"uses tree {scenario.tree.id}, which is not linear in its inputs (exact indices "
                "need arithmetic nodes, no rounding and affine normalisation)")
    return None


MARGINS = "analytic, independent margins"  # the method named for a scenario with correlations


def sobol_exact(method: str) -> bool:
    """Whether Sobol indices named ``method`` (a result's ``sobol_method``) are exact: the
    analytic ones, which have no interval. Headings, tables and charts all ask this, rather
    than each reading it off the intervals (an estimate can have one of no width)."""
    return method.startswith("analytic")


def analytic_sobol(scenario: Scenario) -> list[dict[str, Any]]:
    """Exact indices for a tree that is linear in its inputs.

    Estimates lie inside their scales, so no clipping is active and the root is affine in the
    raw values: ``S = const + sum(c_i x_i)`` (for the default arithmetic tree ``c_i = slope_i *
    (-100 beta w_i)`` for a risk and ``slope_i * 100 (1 - beta) w_i`` for an opportunity). Then
    ``V_i = c_i^2 Var(x_i)`` and the first-order and total indices are both ``V_i / sum(V)``.

    With stated correlations a variance has no unique split between factors, and the indices
    are those of the independent margins (each factor's structural importance), as the
    estimator's are: the same formula, to which the estimates converge.
    """
    reason = analytic_unavailable(scenario)
    if reason:
        raise ValueError(f"analytic Sobol indices do not apply: {scenario.key} {reason}")
    arrays = ModelArrays.of(scenario)
    coef = arrays.slope * linear_coefficients(arrays.tree)[1]
    partial = coef**2 * Marginals.of(scenario).variance()
    total = partial.sum()
    share = partial / total if total > 0 else np.zeros_like(partial)
    return [{"id": fid, "first_order": float(v), "first_order_ci": [float(v), float(v)],
             "total": float(v), "total_ci": [float(v), float(v)]}
            for fid, v, var in zip(arrays.ids, share, partial, strict=True) if var > 0]


# Independent scramblings behind an estimate and its interval. Fewer, larger replicates keep
# more of the Sobol sequence's accuracy; more give the Student-t interval more degrees of
# freedom. Measured (benchmarks/bench_uncertainty.py, d = 30; coverage over 60-200 seeds on
# d = 3 and d = 30): 16 replicates missed the exact indices by 1.4 to 1.8 times what 8 do at
# the same N (medians over 3 and 8 seeds at 2^14), with intervals a quarter to a third wider
# on d = 3 and d = 30 (as wide on bench_parallel's d = 6); both covered 95-96 %. With 8, an
# estimate as accurate as SALib's one sequence of 2^14 takes 2^16 points, 25 times
# faster than SALib (0.55 s against 13.6 s); with 16 it took twice the points.
SOBOL_REPLICATES = 8


def sobol_terms(model: Callable[[FloatArray], FloatArray], a: FloatArray, b: FloatArray
                ) -> FloatArray:
    """The per-row terms of the Saltelli-2010 first-order and Jansen total estimators, shape
    (rows, 2 * dims + 4): every index is a ratio of their means (:func:`sobol_indices`).

    ``a`` and ``b`` are the two independent samples of inputs; each A_B^i swaps one column.
    ``model`` is given one scratch matrix for every A_B^i: it must not keep it.
    """
    rows, dims = a.shape
    # Centring the outputs leaves the indices unchanged but removes the mean from the
    # products f_B * (f_AB - f_A), whose variance would otherwise swamp the estimates.
    f_a, f_b = model(a), model(b)
    centre = np.mean(np.concatenate([f_a, f_b]))
    f_a, f_b = f_a - centre, f_b - centre
    terms = np.empty((rows, 2 * dims + 4))
    ab = a.copy()  # A_B^i: one column of B swapped in, and back after its run
    for i in range(dims):  # one model run per factor, over all rows
        ab[:, i] = b[:, i]
        f_ab = model(ab) - centre
        ab[:, i] = a[:, i]
        terms[:, i] = f_b * (f_ab - f_a)
        terms[:, dims + i] = 0.5 * (f_a - f_ab) ** 2
    terms[:, 2 * dims:] = np.column_stack([f_a, f_b, f_a**2, f_b**2])
    return terms


def sobol_indices(means: FloatArray, dims: int) -> tuple[FloatArray, FloatArray]:
    """First-order and total indices from means of :func:`sobol_terms` (any leading axes)."""
    m_a, m_b, m_a2, m_b2 = (means[..., 2 * dims + j] for j in range(4))
    variance = (m_a2 + m_b2) / 2 - ((m_a + m_b) / 2) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return (means[..., :dims] / variance[..., None],
                means[..., dims:2 * dims] / variance[..., None])


def estimate_sobol(model: Callable[[FloatArray], FloatArray], ppf: Callable[[FloatArray],
                   FloatArray], dims: int, n: int, seed: int,
                   replicates: int = SOBOL_REPLICATES, level: float = 0.95,
                   ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Saltelli-2010 first-order and Jansen total indices, with randomised-QMC 95 % intervals.

    ``model`` maps inputs (m, dims) to outputs (m,); ``ppf`` maps uniforms to inputs (the raw
    values, or any function of them column by column, as :func:`sobol` gives normalised ones).
    The points are ``replicates`` independent scramblings of the Sobol sequence in 2 * dims
    dimensions (seeds spawned from one SeedSequence), each of ``n // replicates`` points
    rounded down to a power of two (at least 2); in each, A and B are its two halves of
    columns and each A_B^i swaps one column.

    The replicates are independent and identically distributed, so the Student-t interval
    over their R estimates is honest; bootstrapping the rows of one scrambled sequence is not
    (its rows are far from independent: such intervals come out about ten times too wide).
    The point estimate is the same ratio of means over all the points (the means of all
    replicates pooled). Returns first, first_ci (dims, 2), total, total_ci (dims, 2).
    """
    from scipy.stats import qmc
    from scipy.stats import t as student_t

    if replicates < 2:
        raise ValueError("the interval needs at least 2 replicates")
    per = 1 << (max(2, n // replicates).bit_length() - 1)  # a power of two: balanced
    children = np.random.SeedSequence(seed).spawn(replicates)
    base = np.concatenate([qmc.Sobol(2 * dims, scramble=True,
                                     seed=np.random.default_rng(child)).random(per)
                           for child in children])
    terms = sobol_terms(model, ppf(base[:, :dims]), ppf(base[:, dims:]))
    first, total = sobol_indices(terms.mean(axis=0), dims)
    first_r, total_r = sobol_indices(terms.reshape(replicates, per, -1).mean(axis=1), dims)
    half = student_t.ppf(0.5 + level / 2, replicates - 1) / math.sqrt(replicates)
    first_half = half * first_r.std(axis=0, ddof=1)
    total_half = half * total_r.std(axis=0, ddof=1)
    return (first, np.column_stack([first - first_half, first + first_half]),
            total, np.column_stack([total - total_half, total + total_half]))


def sobol(scenario: Scenario, n: int = 4096, seed: int = 0, method: SobolMethod = "auto"
          ) -> tuple[str, list[dict[str, Any]]]:
    """Sobol indices of S over the uncertain factors; ``auto`` uses the exact ones when valid."""
    arrays = ModelArrays.of(scenario)
    exact = analytic_unavailable(scenario) is None
    if method == "analytic" or (method == "auto" and exact):
        return MARGINS if scenario.correlations else "analytic", analytic_sobol(scenario)
    # With stated correlations the variance has no unique split between factors; the indices
    # are then estimated on the independent margins, i.e. each factor's structural importance.
    marginals = Marginals.of(scenario)
    uncertain = np.flatnonzero(marginals.kind != Marginals.FIXED)
    point = normalise(arrays.point, arrays)

    # The estimator's inputs are the normalised values: normalising works value by value, so
    # a column swapped between the two samples is the same number normalised before or after
    # the swap. Each sample is then normalised once, not once per factor (a third of the
    # estimate's time), with the same numbers. In the usual case, every factor uncertain, the
    # estimator's columns are the model's: scattering them into a copy took half the rest.
    every = uncertain.size == len(arrays.ids)

    def ppf(u: FloatArray) -> FloatArray:
        if every:
            return normalise(marginals.ppf(u), arrays)
        full = np.full((u.shape[0], len(arrays.ids)), 0.5)
        full[:, uncertain] = u
        return normalise(marginals.ppf(full), arrays)[:, uncertain]

    def model(s: FloatArray) -> FloatArray:
        if every:
            return aggregate(s, arrays)[0]
        full = np.tile(point, (s.shape[0], 1))
        full[:, uncertain] = s
        return aggregate(full, arrays)[0]

    first, first_ci, total, total_ci = estimate_sobol(model, ppf, uncertain.size, n, seed)
    rows = [{"id": arrays.ids[j], "first_order": float(first[i]),
             "first_order_ci": [float(v) for v in first_ci[i]], "total": float(total[i]),
             "total_ci": [float(v) for v in total_ci[i]]} for i, j in enumerate(uncertain)]
    return "estimate", rows


# ---------------------------------------------------------------------------------------------
# weight robustness


def weight_robustness(scenario: Scenario, n: int = 4000, concentration: float = 50.0,
                      seed: int = 0) -> dict[str, Any]:
    """The score when the weights are Dirichlet draws around the nominal ones, node by node.

    Each tree node's normalised child weights ``w`` become ``Dirichlet(concentration * w)``
    (for the default tree: the factors within each kind, and the risk share between the two):
    their mean is ``w`` and a larger concentration means smaller perturbations. Max and min
    nodes, whose weights are multipliers, keep theirs.
    """
    if concentration <= 0:
        raise ValueError("concentration must be positive")
    arrays = ModelArrays.of(scenario)
    tree = arrays.tree
    rng = np.random.default_rng(seed)
    weights: dict[int, FloatArray] = {}
    for j, node in enumerate(tree.nodes):
        w = node.child_weights
        if node.method in ("max", "min") or w.size < 2:
            continue
        drawn = np.zeros((n, w.size))
        live = np.flatnonzero(w > 0)
        if live.size >= 2:
            drawn[:, live] = rng.dirichlet(concentration * w[live], size=n)
        else:
            drawn[:, live] = 1.0
        weights[j] = drawn
    s = normalise(arrays.point, arrays)
    s_rows = np.broadcast_to(s, (n, s.size))
    values = evaluate(tree, s_rows, weights)
    stability = tree.display(values[:, tree.root], tree.root)
    nominal_values = evaluate(tree, s)
    nominal_s = float(tree.display(nominal_values[tree.root], tree.root))
    nominal_band = band_of(nominal_s, tree.bands)
    bands = band_index(stability, tree.bands)
    contrib = np.abs(tree_contributions(tree, np.ascontiguousarray(s_rows), values, weights))
    nominal_contrib = np.abs(tree_contributions(tree, s, nominal_values))
    ranks = np.argsort(np.argsort(-contrib, axis=1, kind="stable"), axis=1, kind="stable")
    nominal_ranks = np.argsort(np.argsort(-nominal_contrib, kind="stable"), kind="stable")
    p5, p50, p95 = np.percentile(stability, (5, 50, 95))
    names = band_names(tree.bands)
    return {
        "n": n, "concentration": concentration, "seed": seed,
        "nominal": nominal_s, "nominal_band": nominal_band,
        "p5": float(p5), "p50": float(p50), "p95": float(p95),
        "band_probabilities": {band: float(np.mean(bands == i)) for i, band in enumerate(names)},
        "p_band_change": float(np.mean(bands != names.index(nominal_band))),
        "p_top_driver_change": float(np.mean(ranks[:, nominal_ranks.argmin()] != 0)),
        "rank_change": sorted(
            ({"id": fid, "nominal_rank": int(nominal_ranks[i]) + 1,
              "p_rank_change": float(np.mean(ranks[:, i] != nominal_ranks[i]))}
             for i, fid in enumerate(arrays.ids)), key=lambda r: r["nominal_rank"]),
    }


# ---------------------------------------------------------------------------------------------
# breakpoints


def breakpoints(scenario: Scenario) -> list[dict[str, Any]]:
    """For each factor, the raw values where the band changes, the other factors fixed.

    S is monotone in each raw value. For the arithmetic model it is also linear, so the
    crossing of each band threshold is solved in closed form; for the geometric model it is
    found with Brent's method. A factor whose whole scale stays in one band gets one entry with
    ``value`` None ("none within the scale").
    """
    arrays = ModelArrays.of(scenario)
    point = arrays.point
    base = float(stability_of(point, arrays))
    thresholds = tuple(b.min for b in arrays.tree.bands[:-1])
    rows: list[dict[str, Any]] = []
    for i, fid in enumerate(arrays.ids):
        def score_at(x: float, i: int = i) -> float:
            raw = point.copy()
            raw[i] = x
            return float(stability_of(raw, arrays))

        lo, hi = arrays.scale_min[i], arrays.scale_max[i]
        found = []
        for threshold in thresholds:
            value = _crossing(score_at, float(lo), float(hi), threshold,
                              linear=arrays.is_linear)
            if value is None:
                continue
            # the band entered when the factor moves from its point value past the crossing
            beyond = value + (1e-6 if value >= point[i] else -1e-6) * (hi - lo)
            found.append({"id": fid, "band": band_of(score_at(beyond), arrays.tree.bands),
                          "value": value, "threshold": threshold,
                          "direction": "above" if value >= point[i] else "below"})
        rows.extend(found or [{"id": fid, "band": band_of(base, arrays.tree.bands), "value": None,
                               "threshold": None, "direction": None}])
    return rows


def _crossing(score_at: Callable[[float], float], lo: float, hi: float, threshold: float,
              linear: bool) -> float | None:
    """The raw value in [lo, hi] where S equals ``threshold``, or None."""
    s_lo, s_hi = score_at(lo), score_at(hi)
    if linear:
        if s_hi == s_lo:
            return None
        x = lo + (threshold - s_lo) * (hi - lo) / (s_hi - s_lo)
        return x if lo <= x <= hi else None
    from scipy.optimize import brentq

    if (s_lo - threshold) * (s_hi - threshold) > 0 or s_lo == s_hi:
        return None
    return float(brentq(lambda x: score_at(x) - threshold, lo, hi, xtol=1e-12))


# ---------------------------------------------------------------------------------------------
# everything together


@dataclass(frozen=True)
class Sensitivity:
    scenario: str
    partnership: str
    stability: float
    tornado: list[dict[str, Any]]
    sobol_method: str
    sobol: list[dict[str, Any]]
    weights: dict[str, Any]
    breakpoints: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "partnership": self.partnership,
                "stability": self.stability, "tornado": self.tornado,
                "sobol_method": self.sobol_method, "sobol": self.sobol,
                "weights": self.weights, "breakpoints": self.breakpoints}

    def to_frame(self) -> Any:
        """One row per factor: swings, Sobol indices, rank-change probability."""
        import pandas as pd

        frame = pd.DataFrame(self.tornado).set_index("id")
        sobol_frame = pd.DataFrame(self.sobol)
        if not sobol_frame.empty:
            frame = frame.join(sobol_frame.set_index("id")[["first_order", "total"]])
        ranks = pd.DataFrame(self.weights["rank_change"]).set_index("id")
        return frame.join(ranks["p_rank_change"])

    def _repr_html_(self) -> str:
        return (f"<p><b>{self.partnership}/{self.scenario}</b> sensitivity (S = "
                f"{self.stability:.1f})</p>" + self.to_frame().to_html(
                    float_format=lambda v: f"{v:.3f}"))


def sensitivity(scenario: Scenario, n: int = 4096, seed: int = 0,
                concentration: float = 50.0, sobol_method: SobolMethod = "auto",
                weight_samples: int = 4000) -> Sensitivity:
    """Tornado, Sobol indices, weight robustness and breakpoints of one scenario."""
    method, indices = sobol(scenario, n=n, seed=seed, method=sobol_method)
    arrays = ModelArrays.of(scenario)
    return Sensitivity(
        scenario=scenario.id, partnership=scenario.partnership,
        stability=float(stability_of(arrays.point, arrays)), tornado=tornado(scenario),
        sobol_method=method, sobol=sorted(indices, key=lambda r: (-r["total"], r["id"])),
        weights=weight_robustness(scenario, weight_samples, concentration, seed),
        breakpoints=breakpoints(scenario))
