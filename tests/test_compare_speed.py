"""The faster paths of ``compare``'s exact pair odds give the former numbers to the last digit."""

from __future__ import annotations

import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.compare import _merged_edges, independent_odds
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


def former_merged(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    edges = np.union1d(a, b)
    return edges[(edges >= a[0]) & (edges <= a[-1])]


sorted_floats = st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=60
                         ).map(lambda v: np.sort(np.array(v)))


@settings(max_examples=200, deadline=None)
@given(sorted_floats, sorted_floats)
def test_merged_edges_is_the_restricted_union(a: np.ndarray, b: np.ndarray) -> None:
    a = np.unique(a)  # a law's edges are strictly increasing
    assert np.array_equal(_merged_edges(a, b), former_merged(a, b))


@settings(max_examples=100, deadline=None)
@given(st.floats(-5, 5), st.floats(1e-3, 1), st.integers(2, 300),
       st.floats(-5, 5), st.floats(1e-3, 1), st.integers(2, 300))
def test_merged_edges_on_grids(s1: float, h1: float, n1: int, s2: float, h2: float,
                               n2: int) -> None:
    a = s1 + h1 * np.arange(n1, dtype=float)
    b = s2 + h2 * np.arange(n2, dtype=float)
    assert np.array_equal(_merged_edges(a, b), former_merged(a, b))
    assert np.array_equal(_merged_edges(a, a), a)


def _laws(scenarios: list[Any]) -> list[Any]:
    return [law for s in scenarios if (laws := exact_laws(s)) is not None for law in laws
            if law.step > 0]


def _check_pairs(laws: list[Any]) -> int:
    checked = 0
    for a, b in combinations(laws, 2):
        for x, y in ((a, b), (b, a)):
            assert independent_odds(x, y) == former_independent_odds(x, y)
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
    laws = _laws(load_scenarios(root / "scenarios"))[:24]
    assert _check_pairs(laws) > 0


def test_edges_cached_and_read_only() -> None:
    law = _laws(_shipped_linear())[0]
    assert law.edges is law.edges
    assert not law.edges.flags.writeable
    assert np.array_equal(law.edges, law.start + law.step * np.arange(law.cdf.size))
