"""Monte Carlo simulation: exactness of the draws, reproducibility, chunking, outlook."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from riskengine.loading import load_scenario, load_scenarios
from riskengine.models import Correlation, Distribution, Estimate, Factor, Scale, Scenario
from riskengine.outlook import outlook, weighted_percentiles
from riskengine.problems import InputError
from riskengine.scoring import score
from riskengine.simulation import Marginals, Sampler, simulate, simulate_many

from .conftest import Runner, write


def one_factor_pair(distribution: Distribution, low: float, mode: float, high: float) -> Scenario:
    """A risk with the given estimate and a fixed opportunity: S is linear in the risk."""
    risk = Factor(id="r", name="R", kind="risk", description="d",
                  scale=Scale(min=0, max=10, unit="u"), higher_means="more", weight=1)
    opp = Factor(id="o", name="O", kind="opportunity", description="d",
                 scale=Scale(min=0, max=10, unit="u"), higher_means="more", weight=1)
    return Scenario(id="t", title="T", partnership="p", estimates=(
        Estimate(factor=risk, low=low, mode=mode, high=high, distribution=distribution,
                 weight=1),
        Estimate(factor=opp, low=5, mode=5, high=5, weight=1, fixed=True)))


def exact_expectation(distribution: str, low: float, mode: float, high: float) -> float:
    """E[S] by numerical integration of S(x) against the estimate's density."""
    width = high - low
    if distribution == "pert":
        a = 1 + 4 * (mode - low) / width
        b = 1 + 4 * (high - mode) / width
        density = stats.beta(a, b, loc=low, scale=width).pdf
    elif distribution == "triangular":
        density = stats.triang((mode - low) / width, loc=low, scale=width).pdf
    else:
        density = stats.uniform(low, width).pdf
    # S = 100 (0.5 (1 - x/10) + 0.5 * 0.5)
    value, _ = integrate.quad(lambda x: 100 * (0.5 * (1 - x / 10) + 0.25) * density(x),
                              low, high, points=[mode])
    return value


@pytest.mark.parametrize("distribution", ["pert", "triangular", "uniform"])
@pytest.mark.parametrize("sampler", ["random", "sobol"])
def test_mean_within_four_standard_errors(distribution: Distribution, sampler: Sampler
                                          ) -> None:
    scenario = one_factor_pair(distribution, 1.0, 2.5, 8.0)
    sim = simulate(scenario, 20_000, seed=11, sampler=sampler)
    expected = exact_expectation(distribution, 1.0, 2.5, 8.0)
    standard_error = sim.stability.std(ddof=1) / math.sqrt(sim.n)
    assert abs(sim.stability.mean() - expected) < 4 * standard_error
    # S = 75 - 5x, so the draws' mean recovers E[x]
    assert Marginals.of(scenario).mean()[0] == pytest.approx(
        (75 - sim.stability.mean()) / 5, abs=4 * standard_error / 5)


def test_variance_formulas_match_draws() -> None:
    for distribution in ("pert", "triangular", "uniform"):
        marginals = Marginals.of(one_factor_pair(distribution, 1.0, 2.5, 8.0))
        draws = marginals.draw(np.random.default_rng(0), 200_000)[:, 0]
        assert draws.var() == pytest.approx(marginals.variance()[0], rel=0.02)
        u = np.random.default_rng(1).random((200_000, 2))
        assert marginals.ppf(u)[:, 0].mean() == pytest.approx(marginals.mean()[0], rel=0.01)


def test_same_seed_same_json_and_chunk_invariance(project: Path) -> None:
    scenario = load_scenario(project / "scenarios/demo/base.yaml")
    first = simulate(scenario, 70_000, seed=5)
    again = simulate(scenario, 70_000, seed=5, chunk_size=997)
    assert json.dumps(first.to_dict()) == json.dumps(again.to_dict())
    assert np.array_equal(first.stability, again.stability)
    other = simulate(scenario, 70_000, seed=6)
    assert not np.array_equal(first.stability, other.stability)
    sobol_a = simulate(scenario, 70_000, seed=5, sampler="sobol", chunk_size=4096)
    sobol_b = simulate(scenario, 70_000, seed=5, sampler="sobol")
    assert np.array_equal(sobol_a.stability, sobol_b.stability)


def test_simulated_scores_use_the_scoring_formulas(project: Path) -> None:
    scenario = load_scenario(project / "scenarios/demo/base.yaml")
    sim = simulate(scenario, 5_000, seed=1)
    assert np.all((sim.stability >= 0) & (sim.stability <= 100))
    # S = 100 (beta (1 - R) + (1 - beta) O) holds sample by sample
    assert np.allclose(sim.stability, 100 * (0.5 * (1 - sim.risk_index)
                                             + 0.5 * sim.opportunity_index))


@given(st.integers(0, 2**32 - 1), st.integers(1, 3000))
@settings(max_examples=25, deadline=None)
def test_summary_is_ordered_and_band_odds_sum_to_one(seed: int, n: int) -> None:
    sim = simulate(one_factor_pair("pert", 0.0, 6.0, 10.0), n, seed=seed)
    summary = sim.to_dict()
    assert summary["p5"] <= summary["p50"] <= summary["p95"]
    assert math.fsum(summary["band_probabilities"].values()) == pytest.approx(1.0)
    assert summary["n"] == n and summary["seed"] == seed


def test_correlation_is_imposed_on_ranks() -> None:
    base = one_factor_pair("uniform", 0.0, 5.0, 10.0)
    opp = base.estimates[1].model_copy(update={"low": 0.0, "mode": 5.0, "high": 10.0,
                                               "fixed": False, "distribution": "uniform"})
    scenario = base.model_copy(update={
        "estimates": (base.estimates[0], opp),
        "correlations": (Correlation(factors=["r", "o"], rho=0.6),)})
    sim = simulate(scenario, 40_000, seed=2)
    # S = 100 (0.5 (1 - r/10) + 0.5 o/10): recover r and o from R and O
    rho = stats.spearmanr(sim.risk_index, sim.opportunity_index).statistic
    assert rho == pytest.approx(0.6, abs=0.02)


def test_inconsistent_correlations_are_an_input_error() -> None:
    base = one_factor_pair("uniform", 0.0, 5.0, 10.0)
    third = base.estimates[0].model_copy(update={"factor": base.estimates[0].factor.model_copy(
        update={"id": "r2"})})
    fourth = base.estimates[1].model_copy(update={"low": 0.0, "high": 10.0, "fixed": False,
                                                  "distribution": "uniform"})
    scenario = base.model_copy(update={
        "estimates": (base.estimates[0], fourth, third),
        "correlations": (Correlation(factors=["r", "o"], rho=0.99),
                         Correlation(factors=["r", "r2"], rho=0.99),
                         Correlation(factors=["o", "r2"], rho=-0.99))})
    with pytest.raises(InputError, match="not positive definite"):
        simulate(scenario, 100, seed=0)


def test_common_random_numbers_make_identical_scenarios_tie(project: Path) -> None:
    scenarios = load_scenarios([project / "scenarios/demo/base.yaml"])
    twin = scenarios[0].model_copy(update={"id": "twin"})
    a, b = simulate_many([scenarios[0], twin], 3_000, seed=4)
    assert np.array_equal(a.stability, b.stability)


def test_outlook_of_one_scenario_equals_it(project: Path) -> None:
    scenario = load_scenario(project / "scenarios/demo/base.yaml").model_copy(
        update={"probability": 1.0})
    result = outlook([scenario], n=8_000, seed=3).to_dict()
    alone = simulate(scenario, 8_000, seed=3).to_dict()
    assert result["expected_stability"] == pytest.approx(score(scenario).stability)
    for key in ("p5", "p50", "p95"):
        assert result["simulation"][key] == pytest.approx(alone[key], abs=1e-6)
    assert result["simulation"]["band_probabilities"] == pytest.approx(
        alone["band_probabilities"])


def test_outlook_mixes_by_probability(project: Path) -> None:
    scenarios = load_scenarios([project / "scenarios/demo"])
    result = outlook(scenarios, n=4_000, seed=1).to_dict()
    expected = 0.75 * score(scenarios[0]).stability + 0.25 * score(scenarios[1]).stability
    assert result["expected_stability"] == pytest.approx(expected)
    assert sum(s["share_of_expected"] for s in result["scenarios"]) == pytest.approx(1.0)


def test_outlook_probabilities_must_sum_to_one(project: Path) -> None:
    write(project / "scenarios/demo/up.yaml", "id: up\ntitle: Up\nextends: base\n"
          "probability: 0.2\n")
    with pytest.raises(InputError) as info:
        outlook(load_scenarios([project / "scenarios/demo"]), n=100)
    message = str(info.value.problems[0])
    assert "probabilities sum to 0.95, not 1" in message and "up.yaml" in message


def test_weighted_percentiles_match_numpy_for_equal_weights() -> None:
    values = np.random.default_rng(0).normal(size=10_001)
    got = weighted_percentiles(values, np.ones_like(values), (5, 50, 95))
    assert got == pytest.approx(np.percentile(values, (5, 50, 95), method="inverted_cdf"))


def test_cli_simulate_outlook_json(project: Path, cli: Runner) -> None:
    run = cli("run", "scenarios/demo/base.yaml", "--simulate", "2000", "--seed", "9",
              "--format", "json", cwd=project)
    assert run.returncode == 0, run.stderr
    sim = json.loads(run.stdout)[0]["simulation"]
    assert {"n", "seed", "mean", "std", "p5", "p50", "p95", "band_probabilities"} <= set(sim)
    again = cli("run", "scenarios/demo/base.yaml", "--simulate", "2000", "--seed", "9",
                "--format", "json", "--chunk-size", "333", cwd=project)
    assert again.stdout == run.stdout
    out = cli("outlook", "scenarios/demo", "--format", "json", "--simulate", "1000",
              cwd=project)
    assert out.returncode == 0 and json.loads(out.stdout)["partnership"] == "demo"
    for bad in (["--simulate", "0"], ["--simulate", "nan"], ["--simulate", "2.5"]):
        proc = cli("run", "scenarios/demo", *bad, cwd=project)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "\x1b[" not in cli("run", "scenarios/demo", "--simulate", "100", cwd=project).stderr


def test_tabulated_beta_inverse_matches_scipy() -> None:
    from scipy.special import betaincinv

    from riskengine.simulation import beta_ppf

    a = np.array([1.0, 1.2, 3.0, 5.0, 4.9])
    b = np.array([5.0, 3.3, 3.0, 1.0, 1.1])
    u = np.random.default_rng(0).random((50_000, 5))
    u[:3] = [[0.0] * 5, [1.0] * 5, [1e-12] * 5]
    assert np.abs(beta_ppf(a, b, u) - betaincinv(a, b, u)).max() < 1e-7
