"""Streaming summaries, exact percentiles in bounded memory, the Beta inverse table, exact laws."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from itertools import pairwise
from math import comb, factorial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, special
from scipy import stats as sps

from riskengine import exact
from riskengine import simulation as sim_mod
from riskengine.compare import compare
from riskengine.loading import load_scenarios
from riskengine.models import Correlation, Estimate, Factor, Kind, Scale, Scenario
from riskengine.outlook import outlook
from riskengine.scoring import normalise
from riskengine.simulation import (
    MethodError,
    beta_ppf,
    inverted_cdf_rank,
    linear_form,
    run_members,
    simulate,
)

from .conftest import Runner

FactorSpec = tuple[str, Kind, float, float, float]  # id, kind, low, mode, high


def scenario_of(estimates: Sequence[FactorSpec], correlated: bool = False) -> Scenario:
    """Factors (id, kind, low, mode, high) on 0-10 scales, all PERT, weight 1."""
    made = []
    for fid, kind, low, mode, high in estimates:
        factor = Factor(id=fid, name=fid, kind=kind, description="d",
                        scale=Scale(min=0, max=10, unit="u"), higher_means="more", weight=1)
        made.append(Estimate(factor=factor, low=low, mode=mode, high=high,
                             distribution="pert", weight=1))
    corr = (Correlation(factors=[made[0].factor.id, made[1].factor.id], rho=0.5),) \
        if correlated else ()
    return Scenario(id="t", title="T", partnership="p", estimates=tuple(made),
                    correlations=corr)


FOUR: list[FactorSpec] = [("r1", "risk", 1, 3, 8), ("r2", "risk", 0, 6, 10),
                          ("o1", "opportunity", 2, 2.5, 9), ("o2", "opportunity", 4, 7, 7.5)]


def test_exact_percentiles_equal_numpy_inverted_cdf_on_all_draws() -> None:
    scenario = scenario_of(FOUR, correlated=True)
    n = 200_003
    sim = simulate(scenario, n, seed=3, method="mc")
    summary = sim.to_dict()
    for key, values in (("stability", sim.stability), ("risk_index", sim.risk_index),
                        ("opportunity_index", sim.opportunity_index)):
        got = summary if key == "stability" else summary[key]
        want = np.percentile(values, (5, 50, 95), method="inverted_cdf")
        assert [got["p5"], got["p50"], got["p95"]] == list(want)
        assert got["mean"] == pytest.approx(values.mean(), rel=1e-13)
        assert got["std"] == pytest.approx(values.std(ddof=1), rel=1e-10)


def test_regenerating_pass_gives_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = scenario_of(FOUR)
    kept = simulate(scenario, 150_001, seed=8, method="mc").to_dict()
    # nothing kept: the percentiles come from a second pass over regenerated draws, and a
    # tiny cap forces the refining histogram passes too
    monkeypatch.setattr(sim_mod, "KEEP_BYTES", 0)
    monkeypatch.setattr(sim_mod, "COLLECT_CAP", 3)
    assert simulate(scenario, 150_001, seed=8, method="mc").to_dict() == kept


def test_results_do_not_depend_on_chunk_or_memory_budget(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    for correlated in (False, True):
        scenario = scenario_of(FOUR, correlated)
        whole = simulate(scenario, 70_000, seed=5, method="mc")
        pieces = simulate(scenario, 70_000, seed=5, chunk_size=997, method="mc")
        assert json.dumps(whole.to_dict()) == json.dumps(pieces.to_dict())
        assert np.array_equal(whole.stability, pieces.stability)
    monkeypatch.setattr(sim_mod, "CHUNK_BYTES", 8 * 4 * 1000)  # 1,000 rows of 4 factors
    small = simulate(scenario, 70_000, seed=5, method="mc")
    assert np.array_equal(small.stability, whole.stability)
    # direct draws (no correlations) are scored in cache-sized pieces
    direct = simulate(scenario_of(FOUR), 70_000, seed=5, method="mc")
    monkeypatch.setattr(sim_mod, "PIECE_BYTES", 8 * 4 * 999)
    assert np.array_equal(simulate(scenario_of(FOUR), 70_000, seed=5, method="mc").stability,
                          direct.stability)


def test_same_seed_same_json_through_the_cli(project: Path, cli: Runner) -> None:
    args = ("run", "scenarios/demo/base.yaml", "--simulate", "3000", "--format", "json",
            "--method", "mc")
    first, again = cli(*args, cwd=project), cli(*args, cwd=project)
    assert first.returncode == 0 and first.stdout == again.stdout
    assert json.loads(first.stdout)[0]["simulation"]["method"] == "mc"


def test_inverted_cdf_rank_matches_numpy() -> None:
    for n in (1, 2, 3, 19, 20, 21, 100, 1001, 200_003):
        values = np.arange(n, dtype=float)
        for q in (5.0, 50.0, 95.0):
            assert inverted_cdf_rank(n, q) == np.percentile(values, q,
                                                            method="inverted_cdf")


def test_pair_counts_match_the_draws(project: Path) -> None:
    scenarios = load_scenarios([project / "scenarios/demo"])
    result, arrays_of = run_members(scenarios, 9_000, 2, "random", True, pairs=[(0, 1)])
    a, b = arrays_of(0)[0], arrays_of(1)[0]
    assert result.pairs[0, 1] == (float(np.mean(a > b)), float(np.mean(a == b)))


def test_tabulated_beta_inverse_within_1e7_including_tails() -> None:
    u = np.concatenate([np.random.default_rng(0).random(20_000), np.geomspace(1e-30, 0.02, 500),
                        1.0 - np.geomspace(1e-17, 0.02, 500), [0.0, 1.0]])
    for a, b in ((1.0, 5.0), (5.0, 1.0), (1.2, 3.3), (3.0, 3.0), (4.9, 1.1), (1.0, 1.0)):
        got = beta_ppf(np.array([a]), np.array([b]), u[:, None])[:, 0]
        assert np.abs(got - special.betaincinv(a, b, u)).max() < 1e-7


def irwin_hall_ppf(p: float, k: int) -> float:
    def cdf(x: float) -> float:
        return sum((-1) ** j * comb(k, j) * (x - j) ** k
                   for j in range(math.floor(x) + 1)) / factorial(k)
    return optimize.brentq(lambda x: cdf(x) - p, 0, k, xtol=1e-14)


def test_exact_law_of_a_sum_of_uniforms_is_irwin_hall() -> None:
    k = 5
    law = exact.linear_law(0.0, np.ones(k), np.full(k, exact.UNIFORM, dtype=np.int8),
                           np.zeros(k), np.full(k, 0.5), np.ones(k), np.ones(k), np.ones(k),
                           mean=k / 2, std=math.sqrt(k / 12))
    for p in (0.05, 0.5, 0.95):
        assert float(law.quantile(p)) == pytest.approx(irwin_hall_ppf(p, k), abs=1e-6)


def test_exact_law_of_one_pert_is_its_beta() -> None:
    scenario = scenario_of([("r1", "risk", 1, 2, 6), ("o1", "opportunity", 0, 0, 0)])
    sim = simulate(scenario, 1000, method="exact")
    a, b = 1 + 4 * (2 - 1) / 5, 1 + 4 * (6 - 2) / 5
    # S = 100 (0.5 (1 - x/10) + 0.5 * O) and O = 0 (the opportunity fixed at 0): S = 50 - 5x
    summary = sim.to_dict()
    assert summary["method"] == "exact"
    for key, p in (("p5", 0.95), ("p50", 0.5), ("p95", 0.05)):
        x = 1 + 5 * sps.beta(a, b).ppf(p)
        assert summary[key] == pytest.approx(50 - 5 * x, abs=1e-4)
    assert summary["mean"] == pytest.approx(50 - 5 * (1 + 5 * a / (a + b)), abs=1e-12)


def test_exact_law_agrees_with_large_monte_carlo() -> None:
    scenario = scenario_of(FOUR)
    law = simulate(scenario, 10, method="exact").to_dict()
    mc = simulate(scenario, 400_000, seed=1, method="mc").to_dict()
    for key in ("p5", "p50", "p95", "mean"):
        assert law[key] == pytest.approx(mc[key], abs=0.05)
    for band, p in law["band_probabilities"].items():
        assert p == pytest.approx(mc["band_probabilities"][band], abs=0.005)


def test_method_choice_and_refusal(project: Path, cli: Runner) -> None:
    assert linear_form(scenario_of(FOUR, correlated=True)) is None
    assert simulate(scenario_of(FOUR, correlated=True), 100).method == "mc"
    assert simulate(scenario_of(FOUR), 100).method == "exact"
    with pytest.raises(MethodError, match="not linear"):
        simulate(scenario_of(FOUR, correlated=True), 100, method="exact")
    proc = cli("run", "scenarios/demo/base.yaml", "--simulate", "100", "--method", "nope",
               cwd=project)
    assert proc.returncode == 2


def test_exact_outlook_and_pairs_match_monte_carlo(project: Path) -> None:
    scenarios = load_scenarios([project / "scenarios/demo"])
    if any(linear_form(s) is None for s in scenarios):
        pytest.skip("demo scenarios are not linear")
    ex = outlook(scenarios, n=10, method="exact").to_dict()["simulation"]
    mc = outlook(scenarios, n=200_000, seed=2, method="mc").to_dict()["simulation"]
    assert ex["method"] == "exact" and mc["method"] == "mc"
    for key in ("p5", "p50", "p95", "mean"):
        assert ex[key] == pytest.approx(mc[key], abs=0.1)
    exact_pairs = compare(scenarios, n=10, method="auto").pairs()
    mc_pairs = compare(scenarios, n=100_000, seed=3, method="mc").pairs()
    for e, m in zip(exact_pairs, mc_pairs, strict=True):
        assert m["method"] == "mc"
        assert e["p_a_beats_b"] == pytest.approx(m["p_a_beats_b"], abs=0.01)


def test_difference_of_independent_scenarios_is_exact() -> None:
    a = scenario_of([("r1", "risk", 1, 3, 8), ("o1", "opportunity", 0, 0, 0)]
                    ).model_copy(update={"id": "a"})
    b = scenario_of([("r2", "risk", 1, 3, 8), ("o1", "opportunity", 0, 0, 0)]
                    ).model_copy(update={"id": "b"})
    pair = compare([a, b], n=10).pairs()[0]
    # identical independent laws: A beats B half the time
    assert pair["method"] == "exact" and pair["p_a_beats_b"] == pytest.approx(0.5, abs=1e-6)


@given(st.lists(st.tuples(st.sampled_from([1, 2, 3]), st.floats(-3, 3),
                          st.floats(0, 5), st.floats(0.01, 5), st.floats(0, 1)),
                min_size=1, max_size=6))
@settings(max_examples=40, deadline=None)
def test_fft_law_cdf_is_monotone_and_bounded(terms: list[tuple[int, float, float, float,
                                                                float]]) -> None:
    kind = np.array([t[0] for t in terms], dtype=np.int8)
    coef = np.array([t[1] for t in terms])
    low = np.array([t[2] for t in terms])
    high = low + np.array([t[3] for t in terms])
    mode = low + (high - low) * np.array([t[4] for t in terms])
    a = 1 + 4 * (mode - low) / (high - low)
    b = 1 + 4 * (high - mode) / (high - low)
    law = exact.linear_law(1.0, coef, kind, low, mode, high, a, b, 0.0, 0.0, grid=1 << 12)
    cdf = law.cdf_at(np.linspace(-40, 40, 2001))
    assert np.all(np.diff(cdf) >= 0) and cdf[0] >= 0 and cdf[-1] <= 1
    lo = 1.0 + float(np.sum(np.minimum(coef * low, coef * high)))
    hi = 1.0 + float(np.sum(np.maximum(coef * low, coef * high)))
    q = law.quantile(np.array([0.0, 0.05, 0.5, 0.95, 1.0]))
    assert all(x <= y + 1e-12 for x, y in pairwise(q))
    assert lo - 1e-9 <= q[0] and q[-1] <= hi + 1e-9


def one_pert_on(scale_max: float, low: float, mode: float, high: float, reverse: bool
                ) -> Scenario:
    risk = Factor(id="r", name="R", kind="risk", description="d",
                  scale=Scale(min=0, max=scale_max, unit="u"),
                  higher_means="less" if reverse else "more", weight=1)
    opp = Factor(id="o", name="O", kind="opportunity", description="d",
                 scale=Scale(min=0, max=10, unit="u"), higher_means="more", weight=1)
    return Scenario(id="t", title="T", partnership="p", estimates=(
        Estimate(factor=risk, low=low, mode=mode, high=high, distribution="pert", weight=1),
        Estimate(factor=opp, low=5, mode=5, high=5, weight=1, fixed=True)))


@given(scale_max=st.floats(0.01, 1e4), start=st.floats(0, 0.95), width=st.floats(0.05, 1),
       reverse=st.booleans(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_standard_beta_draws_normalise_as_the_raw_values_do(
        scale_max: float, start: float, width: float, reverse: bool, seed: int) -> None:
    """Direct PERT draws are normalised from the standard Beta values in one multiply-add:
    within 1e-12 of scaling them to the raw range first, in [0, 1], and a clip is skipped
    only where no value could leave [0, 1]."""
    low = start * scale_max
    high = min(scale_max, low + width * scale_max)
    scenario = one_pert_on(scale_max, low, (low + high) / 2, high, reverse)
    arrays, marginals = sim_mod.ModelArrays.of(scenario), sim_mod.Marginals.of(scenario)
    affine = sim_mod.direct_affine(arrays, marginals)
    assert affine is not None
    a, b = marginals.pert_ab()
    standard = np.random.default_rng(seed).beta(a[0], b[0], size=(1000, 2))
    standard[:2, 0] = (0.0, 1.0)  # the ends, where rounding can step past the scale
    standard[:, 1] = 5.0  # the fixed opportunity, which stays a raw value
    raw = standard.copy()
    raw[:, 0] = low + (high - low) * standard[:, 0]
    fused = normalise(standard.copy(), arrays, affine=affine)
    assert np.all((fused >= 0.0) & (fused <= 1.0))
    np.testing.assert_allclose(fused, normalise(raw, arrays), rtol=0, atol=1e-12)
    if not affine.clip:
        unclipped = standard * affine.slope + affine.intercept
        assert np.all((unclipped >= 0.0) & (unclipped <= 1.0))


def test_a_pert_at_the_top_of_its_scale_is_still_clipped() -> None:
    """0.325 + (1.1 - 0.325) * 1 normalises to a hair over 1 by the one multiply-add: the
    bound check sees it and keeps the clip."""
    scenario = one_pert_on(1.1, 0.325, 0.7, 1.1, reverse=False)
    affine = sim_mod.direct_affine(sim_mod.ModelArrays.of(scenario),
                                   sim_mod.Marginals.of(scenario))
    assert affine is not None and affine.clip
    assert 1.0 * affine.slope[0] + affine.intercept[0] > 1.0
    top = normalise(np.array([[1.0, 5.0]]), sim_mod.ModelArrays.of(scenario), affine=affine)
    assert top[0, 0] == 1.0


@given(st.lists(st.sampled_from(["f1", "f2", "f3", "nope"]), max_size=8))
def test_a_catalogues_kept_weight_sums_are_the_sums(ids: list[str]) -> None:
    """Catalogue.weight_of keeps each set's sum for reliability's coverage: the same as
    summing the distinct known factors' weights, asked once or again."""
    from riskengine.loading import Catalogue

    factors = {fid: Factor(id=fid, name=fid, kind="risk", description="A factor.",
                           scale=Scale(min=0, max=1, unit="u"), higher_means="more",
                           weight=weight)
               for fid, weight in (("f1", 0.1), ("f2", 0.7), ("f3", 2.0))}
    catalogue = Catalogue(factors)
    expected = math.fsum(factors[f].weight for f in set(ids) if f in factors)
    assert catalogue.weight_of(tuple(ids)) == expected == catalogue.weight_of(tuple(ids))


def _fresh_score(scenario: Scenario) -> dict[str, object]:
    """The score made with every cache of the scoring path empty."""
    from riskengine import scoring

    scoring._COLUMNS.clear()
    scoring._ARRAYS.clear()
    return scoring.score(scenario).to_dict()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 10), st.booleans()), min_size=2,
                max_size=5), st.floats(0, 10))
def test_factor_columns_made_once_give_each_scenario_its_own_score(
        bounds: list[tuple[float, float, bool]], shift: float) -> None:
    """A set of factor objects' columns (ids, kinds, scales, directions) are made once and
    shared by the scenarios that estimate them: each score is the one made from nothing, and
    factors of the same ids with other scales or directions get their own columns."""
    from riskengine.scoring import score

    def factors(flip: bool) -> list[Factor]:
        return [Factor(id=f"f{i}", name="F", kind="risk" if i % 2 else "opportunity",
                       description="d", scale=Scale(min=min(a, b), max=max(a, b) + 1, unit="u"),
                       higher_means="less" if less != flip else "more", weight=1)
                for i, (a, b, less) in enumerate(bounds)]

    def scenario(made: list[Factor], offset: float) -> Scenario:
        estimates = []
        for f in made:
            value = min(f.scale.min + offset, f.scale.max)
            estimates.append(Estimate(factor=f, low=value, mode=value, high=value,
                                      distribution="pert", weight=1))
        return Scenario(id="s", title="S", partnership="p", estimates=tuple(estimates))

    one, other = factors(False), factors(True)
    family = [scenario(one, 0.0), scenario(one, shift), scenario(other, shift)]
    expected = [_fresh_score(s) for s in family]
    assert [score(s).to_dict() for s in family] == expected
    assert [score(s).to_dict() for s in reversed(family)] == expected[::-1]


@given(st.one_of(st.floats(allow_nan=True), st.sampled_from([0.0, 40.0, 65.0, 100.0])),
       st.tuples(st.floats(0, 100), st.floats(0, 100)).map(sorted))
def test_the_band_of_a_score_is_band_index_s(value: float, mins: list[float]) -> None:
    """band_of reads one float without numpy: the band band_index gives, NaN and the bands'
    own bounds included."""
    from riskengine.models import Bands, BandSpec
    from riskengine.scoring import band_index, band_names, band_of

    fragile, stable = mins
    for bands in (Bands(stable=stable, fragile=fragile),
                  (BandSpec(name="hi", min=stable), BandSpec(name="mid", min=fragile),
                   BandSpec(name="lo", min=0.0))):
        assert band_of(value, bands) == band_names(bands)[int(band_index(value, bands))]


def test_json_rows_without_characters_to_escape_are_the_dump() -> None:
    """The usual row, all ASCII, skips the escaping pass; a row with DEL, a C1 control or a
    line separator is still escaped (json leaves them raw)."""
    from riskengine.reporting import json_row

    assert json_row({"a": "plain [x] \\ text", "b": 1.5}) == \
        '{"a": "plain [x] \\\\ text", "b": 1.5}'
    assert json_row({"a": "x\x7fy\x85z\u2028é"}) == '{"a": "x\\u007fy\\u0085z\\u2028é"}'
