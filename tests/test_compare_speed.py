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
from riskengine.simulation import exact_laws, exact_results

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


def generated(folder: Path, n_scenarios: int, per_folder: int) -> Path:
    """benchmarks/generate.py's project of 60 factors in ``folder``."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return generate(folder, n_factors=60, n_scenarios=n_scenarios, per_folder=per_folder)


def test_independent_odds_unchanged_on_generated_scenarios(tmp_path: Path) -> None:
    root = generated(tmp_path / "gen", 12, 6)
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


# ---------------------------------------------------------------------------------------------
# odds between outlooks from their mixture laws


def _random_law(rng: np.random.Generator) -> Law:
    from riskengine.exact import linear_law

    k = int(rng.integers(1, 12))
    low = rng.uniform(0, 5, k)
    high = low + rng.uniform(0.5, 5, k)
    mode = low + (high - low) * rng.uniform(0.1, 0.9, k)
    kind = rng.choice([1, 2, 3], k).astype(np.int8)
    width = high - low
    return linear_law(float(rng.uniform(-5, 5)), rng.uniform(-3, 3, k), kind, low, mode, high,
                      1 + 4 * (mode - low) / width, 1 + 4 * (high - mode) / width,
                      mean=0.0, std=1.0)


def test_a_mixture_law_gives_the_odds_of_every_pair_of_members() -> None:
    """One integral against the mixture laws agrees with the weighted sum of the members'
    pairwise integrals to 2e-8 (the worst of 20 such cases was 5.7e-9: both are the members'
    piecewise-linear CDFs, read on a grid twice as fine), and the mixture's CDF is exact at
    its edges."""
    from riskengine.exact import mixture_law

    rng = np.random.default_rng(5)
    for _ in range(5):
        a = [_random_law(rng) for _ in range(int(rng.integers(2, 8)))]
        b = [_random_law(rng) for _ in range(int(rng.integers(2, 8)))]
        wa, wb = rng.dirichlet(np.ones(len(a))), rng.dirichlet(np.ones(len(b)))
        every = sum(wa[k] * wb[j] * independent_odds(a[k], b[j])[0]
                    for k in range(len(a)) for j in range(len(b)))
        mix_a, mix_b = mixture_law(a, wa), mixture_law(b, wb)
        assert mix_a is not None and mix_b is not None
        assert abs(prob_greater(mix_a, mix_b) - every) < 2e-8
        np.testing.assert_allclose(
            mix_a.cdf, sum(w * law.cdf_at(mix_a.edges) for w, law in zip(wa, a, strict=True)),
            rtol=0, atol=1e-15)
        assert mix_a.mean == pytest.approx(float(np.dot(wa, [law.mean for law in a])))
    point = Law(1.0, 0.0, np.array([0.0, 1.0]), 1.0, 0.0)
    assert mixture_law([point, _random_law(rng)], np.array([0.5, 0.5])) is None


def _generated(tmp_path: Path) -> Path:
    # three partnerships of ten, on disjoint factors: no quantity shared between them
    root = generated(tmp_path / "gen", 30, 10)
    base = root / "scenarios/partnership-001/baseline.yaml"
    base.write_text(base.read_text().replace("mode: 4", "mode: 5"))  # not a copy of the others
    return root


def test_outlook_odds_from_mixtures_and_laws_not_kept(tmp_path: Path) -> None:
    """Partnerships that share no quantity: their outlooks' odds are one integral of the two
    mixture laws, within 1e-7 of the sum over every pair of their scenarios; the compare
    command's comparison (keep_draws=False) keeps no laws, and gives the same numbers."""
    from riskengine.compare import compare

    scenarios = load_scenarios(_generated(tmp_path) / "scenarios")
    kept = compare(scenarios, n=500, seed=1)
    light = compare(scenarios, n=500, seed=1, keep_draws=False)
    assert light.to_dict() == kept.to_dict()
    assert light.laws == () and all(law is not None for law in kept.laws)
    index = {s.key: m for m, s in enumerate(scenarios)}
    checked = 0
    for pair in kept.to_dict()["partnership_pairs"]:
        assert pair["method"] == "exact"
        ga = [m for m, s in enumerate(scenarios) if s.partnership == pair["a"]]
        gb = [m for m, s in enumerate(scenarios) if s.partnership == pair["b"]]
        every = sum((scenarios[k].probability or 0) * (scenarios[j].probability or 0)
                    * independent_odds(kept.laws[k][0], kept.laws[j][0])[0]
                    for k in ga for j in gb)
        assert abs(pair["p_a_beats_b"] - every) < 1e-7
        checked += 0.01 < every < 0.99
    assert checked  # a pair whose odds are not all but settled
    assert index  # every scenario has its key


def test_laws_not_sent_back_are_found_again_when_a_pair_needs_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A partnership with one scenario that is not linear has no mixture law, so its outlook's
    odds against an unshared partnership take every pair of scenarios, and that partnership's
    laws (not sent back by the workers) are found again: the same numbers as when kept."""
    import importlib

    from riskengine.compare import compare

    module = importlib.import_module("riskengine.compare")
    again: list[str] = []

    def spy(scenarios: Any, method: Any) -> Any:
        if len(scenarios) == 1:  # _found_again asks for one scenario at a time
            again.append(scenarios[0].key)
        return exact_results(scenarios, method)

    monkeypatch.setattr(module, "exact_results", spy)
    root = _generated(tmp_path)
    variant = root / "scenarios/partnership-002/variant-1.yaml"
    variant.write_text(variant.read_text()
                       + "correlations:\n  - factors: [f00040, f00041]\n    rho: 0.4\n")
    scenarios = load_scenarios(root / "scenarios")
    kept = compare(scenarios, n=500, seed=1).to_dict()
    assert not again
    assert compare(scenarios, n=500, seed=1, keep_draws=False).to_dict() == kept
    assert again and all(not key.startswith("partnership-002/") for key in again)
    assert "mixed" in {pair["method"] for pair in kept["partnership_pairs"]}


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 10), st.floats(0.0, 60.0),
       st.lists(st.floats(0.001, 0.999), min_size=1, max_size=5))
def test_mixture_quantiles_in_brackets_are_those_of_the_whole_union(
        seed: int, members: int, spread: float, p: list[float]) -> None:
    """The quantiles found inside coarse brackets are those of the whole union of edges, to
    the last digit, for members of different grids, far apart or overlapping."""
    from riskengine.exact import _mixture_quantile_whole, mixture_quantile

    rng = np.random.default_rng(seed)
    laws = []
    for _ in range(members):
        law = _random_law(rng)
        shift = float(rng.uniform(-spread, spread))
        laws.append(Law(law.start + shift, law.step, law.cdf, law.mean + shift, law.std,
                        (law.support[0] + shift, law.support[1] + shift)))
    weights = rng.dirichlet(np.ones(members))
    for q in (np.array(p), np.array([0.0, *p, 1.0])):  # the ends take the whole union
        assert np.array_equal(mixture_quantile(laws, weights, q),
                              _mixture_quantile_whole(laws, weights, q))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 16), st.floats(-4.0, 4.0))
def test_odds_read_off_the_spectrum_are_the_laws(seed: int, k: int, offset: float) -> None:
    """P(X > 0) from the spectrum at the one point 0 is the law's own, within 1e-12 (3,000
    random cases: 1.7e-13 at worst), for constants, fixed and zero-weight terms, and 0
    anywhere in or beyond the support."""
    from riskengine.exact import linear_law, linear_prob_positive, prob_positive

    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 5, k)
    high = low + rng.uniform(0.5, 5, k) * (rng.random(k) > 0.1)
    mode = low + (high - low) * rng.uniform(0.1, 0.9, k)
    kind = rng.choice([0, 1, 2, 3], k).astype(np.int8)
    coef = rng.uniform(-3, 3, k) * (rng.random(k) > 0.2)
    width = np.where(high > low, high - low, 1.0)
    a, b = 1 + 4 * (mode - low) / width, 1 + 4 * (high - mode) / width
    c0 = -float(np.sum(coef * (low + high) / 2)) + offset * float(np.abs(coef).sum() + 1)
    law = linear_law(c0, coef, kind, low, mode, high, a, b, mean=0.0, std=1.0)
    expected = prob_positive(law)
    found = linear_prob_positive(c0, coef, kind, low, mode, high, a, b)
    assert abs(found[0] - expected[0]) < 1e-12 and found[1] == expected[1]
