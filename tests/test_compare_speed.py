"""The faster path of ``compare``'s exact pair odds (the integral of F_B on A's cells, from the
integral of B's CDF) gives the former numbers (the trapezoids on the merged grids) but for
rounding."""

from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.compare import independent_odds
from riskengine.exact import Law, prob_greater
from riskengine.loading import load_scenarios
from riskengine.simulation import exact_laws

ROOT = Path(__file__).resolve().parents[1]


def former_independent_odds(a: Any, b: Any) -> tuple[float, float]:
    """The former body of independent_odds for two laws on grids (np.union1d each pair)."""
    edges = np.union1d(a.edges, b.edges)
    edges = edges[(edges >= a.edges[0]) & (edges <= a.edges[-1])]
    mass = np.diff(a.cdf_at(edges))
    f_b = b.cdf_at(edges)
    return float(np.clip(np.sum(mass * (f_b[:-1] + f_b[1:]) / 2.0), 0.0, 1.0)), 0.0


def law_on_grid(start: float, step: float, masses: np.ndarray) -> Law:
    cdf = np.concatenate([[0.0], np.cumsum(masses)])
    return Law(start, step, cdf / cdf[-1], 0.0, 1.0)


grids = st.tuples(st.floats(-5, 5), st.floats(1e-3, 1),
                  st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40).filter(
                      lambda m: sum(m) > 1e-3).map(np.array))


@settings(max_examples=80, deadline=None)
@given(grids, st.lists(st.floats(-60, 60), min_size=1, max_size=30))
def test_integral_of_the_cdf_is_the_sum_of_its_pieces(grid: tuple[float, float, np.ndarray],
                                                      points: list[float]) -> None:
    """G(x) against the trapezoids of F on a grid refined by x itself (F is linear between
    edges, 0 before the first and 1 after the last)."""
    law = law_on_grid(*grid)
    x = np.array(points)
    lo = min(law.start, float(x.min())) - 1.0
    for value, got in zip(x, law.integral_at(x), strict=True):
        knots = np.unique(np.concatenate([[lo, value], law.edges[law.edges < value]]))
        f = np.interp(knots, law.edges, law.cdf, left=0.0, right=1.0)
        want = float(np.sum((f[1:] + f[:-1]) / 2.0 * np.diff(knots)))
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(grids, grids)
def test_p_greater_is_the_former_merged_integral(a: tuple[float, float, np.ndarray],
                                                 b: tuple[float, float, np.ndarray]) -> None:
    x, y = law_on_grid(*a), law_on_grid(*b)
    assert prob_greater(x, y) == pytest.approx(former_independent_odds(x, y)[0], abs=1e-12)
    # A and B continuous: one of them is the larger
    assert prob_greater(x, y) + prob_greater(y, x) == pytest.approx(1.0, abs=1e-12)


def test_p_greater_of_two_uniform_laws() -> None:
    # A ~ U(0, 1), B ~ U(0.5, 1.5): P(A > B) = 1/8
    a = law_on_grid(0.0, 1e-3, np.ones(1000))
    b = law_on_grid(0.5, 1e-3, np.ones(1000))
    assert prob_greater(a, b) == pytest.approx(0.125, abs=1e-12)


def _laws(scenarios: list[Any]) -> list[Any]:
    return [law for s in scenarios if (laws := exact_laws(s)) is not None for law in laws
            if law.step > 0]


def _check_pairs(laws: list[Any]) -> int:
    checked = 0
    # every third pair: each law still meets laws of every kind (S, R, O of each scenario)
    for a, b in list(combinations(laws, 2))[::3]:
        for x, y in ((a, b), (b, a)):
            got, want = independent_odds(x, y), former_independent_odds(x, y)
            # the same integral by another route: equal but for rounding
            assert got[0] == pytest.approx(want[0], abs=1e-11) and got[1] == want[1]
            checked += 1
    return checked


def _shipped_linear() -> list[Any]:
    # the shipped scenarios carry correlations; without them their models are linear
    return [s.model_copy(update={"correlations": []})
            for s in load_scenarios(ROOT / "scenarios")]


def test_independent_odds_unchanged_on_shipped_scenarios() -> None:
    laws = _laws(_shipped_linear())
    assert _check_pairs(laws) > 0


def test_independent_odds_unchanged_on_generated_scenarios(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    root = generate(tmp_path / "gen", n_factors=60, n_scenarios=12, per_folder=6)
    laws = _laws(load_scenarios(root / "scenarios"))[:18]
    assert _check_pairs(laws) > 0


def test_law_edges_are_the_grid() -> None:
    law = _laws(_shipped_linear())[0]
    assert np.array_equal(law.edges, law.start + law.step * np.arange(law.cdf.size))


@settings(max_examples=80, deadline=None)
@given(grids, st.floats(-60, 60), st.floats(1e-3, 2.0), st.integers(1, 300))
def test_integral_on_a_grid_is_the_integral_at_its_points(
        grid: tuple[float, float, np.ndarray], start: float, step: float, size: int) -> None:
    law = law_on_grid(*grid)
    points = start + step * np.arange(size, dtype=float)
    np.testing.assert_allclose(law.integral_on_grid(start, step, size),
                               law.integral_at(points), rtol=1e-12, atol=1e-12)
