"""Comparison at scale: the default pair set, every pair on request, bounded draws."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from riskengine.cli import main
from riskengine.compare import PairsError, compare, difference_odds, independent_odds
from riskengine.loading import load_scenarios
from riskengine.simulation import Method, exact_laws
from tests.test_fast_paths import FactorSpec, scenario_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shipped() -> list:
    return load_scenarios(ROOT / "scenarios")


def expected_default_pairs(scenarios: list) -> set[frozenset[str]]:
    groups: dict[str, list] = {}
    for s in scenarios:
        groups.setdefault(s.partnership, []).append(s)
    within = {frozenset((a.key, b.key)) for g in groups.values() for a, b in combinations(g, 2)}
    # every shipped partnership names its reference scenario "baseline"
    bases = [f"{p}/baseline" for p in groups]
    return within | {frozenset(p) for p in combinations(bases, 2)}


def test_default_pairs_are_within_partnerships_and_between_baselines(shipped: list) -> None:
    comparison = compare(shipped, n=500, method="mc")
    got = {frozenset((p["a"], p["b"])) for p in comparison.pairs()}
    assert got == expected_default_pairs(shipped)
    assert len(comparison.pairs()) == len(got)  # each pair once
    assert comparison.to_dict()["pair_scope"] == "within partnerships and between baselines"


def test_all_pairs_on_request(shipped: list) -> None:
    comparison = compare(shipped, n=500, method="mc", pairs="all")
    assert len(comparison.pairs()) == len(shipped) * (len(shipped) - 1) // 2
    assert comparison.to_dict()["pair_scope"] == "all"
    with pytest.raises(PairsError):
        compare(shipped, n=500, pairs="some")  # type: ignore[arg-type]


def test_default_and_all_agree_on_shared_pairs(shipped: list) -> None:
    # different runs (one per partnership against one over all) draw different numbers, so
    # Monte Carlo odds agree within sampling error; exact ones agree to the grid's accuracy
    # mc: 4 SE of the difference of two estimates from 8,000 draws each (p(1-p) <= 1/4)
    tolerances: tuple[tuple[Method, float], ...] = (("auto", 1e-3),
                                                    ("mc", 4 * (2 * 0.25 / 8_000) ** 0.5))
    for method, tol in tolerances:
        default = {(p["a"], p["b"]): p for p in compare(shipped, n=8_000, method=method)
                   .pairs()}
        every = {(p["a"], p["b"]): p for p in compare(shipped, n=8_000, method=method,
                                                      pairs="all").pairs()}
        for key, pair in default.items():
            assert pair["p_a_beats_b"] == pytest.approx(every[key]["p_a_beats_b"], abs=tol)


def test_same_seed_same_comparison(shipped: list) -> None:
    first = json.dumps(compare(shipped, n=3000, seed=5, method="mc").to_dict())
    assert first == json.dumps(compare(shipped, n=3000, seed=5, method="mc").to_dict())


def test_draws_again_match_the_summaries(shipped: list) -> None:
    comparison = compare(shipped, n=4000, seed=1, method="mc")
    for sim in comparison.simulations:
        p5, p95 = np.percentile(sim.stability, (5, 95), method="inverted_cdf")
        assert (float(p5), float(p95)) == (sim.stats.moments[0]["p5"],
                                           sim.stats.moments[0]["p95"])


def test_independent_odds_match_the_difference_law() -> None:
    a = scenario_of([("r1", "risk", 1, 3, 8), ("o1", "opportunity", 2, 5, 9)]
                    ).model_copy(update={"id": "a"})
    b = scenario_of([("r2", "risk", 0, 4, 6), ("o2", "opportunity", 1, 2, 7)]
                    ).model_copy(update={"id": "b", "partnership": "q"})
    laws_a, laws_b = exact_laws(a), exact_laws(b)
    exact = difference_odds(a, b)
    assert laws_a is not None and laws_b is not None and exact is not None
    assert independent_odds(laws_a[0], laws_b[0])[0] == pytest.approx(exact[0], abs=1e-4)
    # A against its own law: no ties, so A beats B with probability 1/2
    assert independent_odds(laws_a[0], laws_a[0]) == pytest.approx((0.5, 0.0), abs=1e-6)
    # baselines of two partnerships with no factor in common take this path in compare
    pair = compare([a, b], n=10).pairs()[0]
    assert pair["method"] == "exact" and pair["p_a_beats_b"] == pytest.approx(exact[0],
                                                                              abs=1e-4)


A_ESTIMATES: list[FactorSpec] = [("r1", "risk", 2, 4, 6), ("r2", "risk", 1, 2, 5),
                                 ("o1", "opportunity", 1, 5, 9), ("o2", "opportunity", 3, 4, 8)]


@pytest.mark.parametrize("b_estimates", [
    # each of a's estimates rescaled about the same mode share, and shifted
    [("r1", "risk", 0, 4, 8), ("r2", "risk", 2, 3.5, 8), ("o1", "opportunity", 2.5, 5, 7.5),
     ("o2", "opportunity", 4, 5, 9)],
    # some shared alike, one shifted, one of b's own
    [("r1", "risk", 2, 4, 6), ("r2", "risk", 0.5, 1.5, 4.5), ("o1", "opportunity", 1, 5, 9),
     ("o3", "opportunity", 2, 6, 7)],
], ids=["rescaled-and-shifted", "shifted-and-own"])
def test_variants_of_the_same_shapes_compare_exactly(b_estimates: list) -> None:
    """Under common random numbers, two estimates of one quantity with the same kind and shape
    are affine images of one standard variable, so S_a - S_b stays linear in independent
    inputs: its exact law gives the odds the draws count."""
    a = scenario_of(A_ESTIMATES).model_copy(update={"id": "a"})
    b = scenario_of(b_estimates).model_copy(update={"id": "b"})
    exact = difference_odds(a, b)
    assert exact is not None and exact[1] == 0.0
    assert 0.05 < exact[0] < 0.95  # no foregone conclusion
    n = 100_000
    counted = compare([a, b], n=n, seed=3, method="mc").pairs()[0]["p_a_beats_b"]
    assert counted == pytest.approx(exact[0], abs=5 * (0.25 / n) ** 0.5 + 1e-4)
    pair = compare([a, b], n=1_000).pairs()[0]
    assert pair["method"] == "exact" and pair["p_a_beats_b"] == exact[0]


def test_a_shared_quantity_of_another_shape_is_counted() -> None:
    a = scenario_of(A_ESTIMATES).model_copy(update={"id": "a"})
    # r1's mode share 0.25, not 0.5
    other: list[FactorSpec] = [("r1", "risk", 2, 3, 6), *A_ESTIMATES[1:]]
    b = scenario_of(other).model_copy(update={"id": "b"})
    assert difference_odds(a, b) is None
    assert compare([a, b], n=1_000).pairs()[0]["method"] == "mc"


def test_cli_pairs_flag(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
                        ) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["compare", "scenarios/", "--format", "json", "--simulate", "500",
                 "--pairs", "all"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pair_scope"] == "all" and len(out["pairs"]) == 55
    assert main(["compare", "scenarios/", "--format", "json", "--simulate", "500"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pair_scope"] == "within partnerships and between baselines"
    assert len(out["pairs"]) == 19
    with pytest.raises(SystemExit) as exc:
        main(["compare", "scenarios/", "--pairs", "some"])
    assert exc.value.code == 2
