"""Simulation, outlook, sensitivity and comparison on the pillar tree and the INFORM tree,
each against an independent computation: the pillar tree's formula written out in numpy here,
and INFORM's own reference implementation (examples/inform-2021/reference.py)."""

from __future__ import annotations

import importlib.util
import json
import math
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from scipy import stats

from riskengine.cli import main
from riskengine.loading import load_scenarios
from riskengine.models import Scenario
from riskengine.outlook import outlook
from riskengine.scoring import score
from riskengine.sensitivity import breakpoints, sobol, tornado
from riskengine.simulation import simulate

from .conftest import ROOT

INFORM = ROOT / "examples" / "inform-2021"
PILLARS: dict[str, dict[str, float]] = {  # pillar -> factors and weights, as in models/pillars.yaml
    "political_risk": {"russia_balancing": 3, "diplomatic_friction": 2, "sanctions_exposure": 1.5},
    "security_risk": {"regional_interventions": 1},
    "economic_industrial_risk": {"institutional_immaturity": 2.5,
                                 "export_control_barriers": 2, "onward_transfer_risk": 1.5},
}


def mean_of(s: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    return np.asarray(sum(w * s[f] for f, w in weights.items())) / sum(weights.values())


def pillar_formula(s: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pillar tree, from normalised values, as a reader of docs/methodology.md would."""
    pillars = [mean_of(s, w) for w in PILLARS.values()]
    risk = 1 - np.prod([(1 - p) ** (1 / 3) for p in pillars], axis=0)
    industry = mean_of(s, {"uav_export_share": 2, "partner_export_momentum": 1.5})
    econ = (3 * s["defence_budget_growth"] + 2.5 * s["technology_complementarity"]
            + 2 * s["procurement_pipeline"] + 2 * industry) / 9.5
    opportunity = (s["cooperation_momentum"] + s["supplier_diversification"] + 2 * econ) / 4
    return 100 * (0.5 * (1 - risk) + 0.5 * opportunity), risk, opportunity


def normalised(scenario: Scenario, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for e in scenario.estimates:
        lo, hi = e.factor.scale.min, e.factor.scale.max
        v = np.clip((np.asarray(raw[e.factor.id], dtype=float) - lo) / (hi - lo), 0, 1)
        out[e.factor.id] = 1 - v if e.factor.higher_means == "less" else v
    return out


def point_values(scenario: Scenario) -> dict[str, np.ndarray]:
    return {e.factor.id: np.array(e.point) for e in scenario.estimates}


def pert_draws(scenario: Scenario, n: int, seed: int) -> dict[str, np.ndarray]:
    """Independent PERT draws with scipy (not the engine's sampler)."""
    rng = np.random.default_rng(seed)
    out = {}
    for e in scenario.estimates:
        if e.fixed or e.low == e.high:
            out[e.factor.id] = np.full(n, e.mode)
            continue
        width = e.high - e.low
        a, b = 1 + 4 * (e.mode - e.low) / width, 1 + 4 * (e.high - e.mode) / width
        out[e.factor.id] = e.low + width * stats.beta(a, b).rvs(n, random_state=rng)
    return out


@pytest.fixture(scope="module")
def pillar_scenarios() -> list[Scenario]:
    return load_scenarios(ROOT / "scenarios", tree="pillars")


def test_point_scores_and_nodes_match_the_formula(pillar_scenarios: list[Scenario]) -> None:
    assert len(pillar_scenarios) == 11
    for scenario in pillar_scenarios:
        result = score(scenario)
        s, risk, opportunity = pillar_formula(normalised(scenario, point_values(scenario)))
        assert result.stability == pytest.approx(float(s), abs=1e-9)
        nodes = {n.id: n for n in result.nodes}
        assert nodes["risk"].normalised == pytest.approx(float(risk), abs=1e-12)
        assert nodes["opportunity"].normalised == pytest.approx(float(opportunity), abs=1e-12)
        assert sum(f.contribution for f in result.factors) == pytest.approx(
            result.stability - result.contribution_reference, abs=1e-9)


def test_simulation_mean_matches_independent_draws(pillar_scenarios: list[Scenario]) -> None:
    # without the stated correlations, whose copula the independent draws do not repeat
    scenario = pillar_scenarios[0].model_copy(update={"correlations": ()})
    n = 40_000
    sim = simulate(scenario, n, seed=3, method="mc")
    independent = pillar_formula(normalised(scenario, pert_draws(scenario, n, seed=11)))[0]
    summary = sim.to_dict()
    se = math.hypot(summary["std"], float(independent.std())) / math.sqrt(n)
    assert abs(summary["mean"] - float(independent.mean())) < 4 * se
    assert summary["method"] == "mc"  # the pillar tree is not linear: no exact law
    q = np.percentile(independent, [5, 95])
    assert summary["p5"] == pytest.approx(q[0], abs=0.15)
    assert summary["p95"] == pytest.approx(q[1], abs=0.15)


def test_tornado_and_breakpoints_match_the_formula(pillar_scenarios: list[Scenario]) -> None:
    scenario = pillar_scenarios[0]
    base = point_values(scenario)
    for row in tornado(scenario):
        e = scenario.estimate(row["id"])
        at_low = pillar_formula(normalised(scenario, base | {e.factor.id: np.array(e.low)}))[0]
        at_high = pillar_formula(normalised(scenario, base | {e.factor.id: np.array(e.high)}))[0]
        assert row["low_score"] == pytest.approx(float(at_low), abs=1e-9)
        assert row["high_score"] == pytest.approx(float(at_high), abs=1e-9)
    found = [b for b in breakpoints(scenario) if b["value"] is not None]
    assert found  # regional interventions and cooperation momentum cross 40 (methodology)
    for b in found:
        s = pillar_formula(normalised(scenario, base | {b["id"]: np.array(b["value"])}))[0]
        assert float(s) == pytest.approx(b["threshold"], abs=1e-6)


def test_sobol_estimates_match_an_independent_estimator(pillar_scenarios: list[Scenario]
                                                         ) -> None:
    scenario = pillar_scenarios[0].model_copy(update={"correlations": ()})
    method, rows = sobol(scenario, n=4096, seed=1)
    assert method == "estimate"
    # Jansen's total-effect estimator over independent draws, written here from scratch
    n = 20_000
    a, b = pert_draws(scenario, n, 21), pert_draws(scenario, n, 22)
    f_a = pillar_formula(normalised(scenario, a))[0]
    variance = f_a.var()
    for row in rows:
        mixed = a | {row["id"]: b[row["id"]]}
        f_ab = pillar_formula(normalised(scenario, mixed))[0]
        total = float(np.mean((f_a - f_ab) ** 2) / 2 / variance)
        assert row["total"] == pytest.approx(total, abs=0.03)
        assert row["total_ci"][0] - 0.03 <= total <= row["total_ci"][1] + 0.03


def test_outlook_and_compare_on_the_pillar_tree(pillar_scenarios: list[Scenario],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    japan_turkey = [s for s in pillar_scenarios if s.partnership == "japan-turkey"]
    result = outlook(japan_turkey, n=2000, seed=0)
    expected = sum((s.probability or 0) * float(pillar_formula(
        normalised(s, point_values(s)))[0]) for s in japan_turkey)
    assert result.to_dict()["expected_stability"] == pytest.approx(expected, abs=1e-9)
    assert main(["compare", str(ROOT / "scenarios" / "japan-turkey"), "--tree", "pillars",
                 "--simulate", "2000", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    for row in rows:
        assert row["tree"]["id"] == "pillars"
        assert {n["id"] for n in row["nodes"]} >= set(PILLARS)


# ---------------------------------------------------------------------------------------------
# INFORM, with a range of +-0.5 around every published component of one country


def inform_reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("inform_reference", INFORM / "reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_ranges(scenario: Scenario) -> Scenario:
    estimates = []
    for e in scenario.estimates:
        low, high = max(0.0, e.point - 0.5), min(10.0, e.point + 0.5)
        estimates.append(e.model_copy(update={"low": low, "mode": e.point, "high": high,
                                              "fixed": False}))
    return scenario.model_copy(update={"estimates": tuple(estimates)})


def by_reference(ref: ModuleType, raw: dict[str, Any]) -> np.ndarray:
    leaves = {leaf: np.atleast_1d(np.asarray(raw.get(leaf, np.nan), dtype=float))
              for leaf in ref.LEAVES}
    return ref.chain(leaves, ref.TOP, round_levels=True)["inform_risk"]


def test_inform_tornado_simulation_and_sobol_against_its_reference() -> None:
    ref = inform_reference()
    turkey = with_ranges(load_scenarios(INFORM / "scenarios" / "inform-2021" / "tur.yaml")[0])
    base = point_values(turkey)
    for row in tornado(turkey):
        e = turkey.estimate(row["id"])
        assert row["low_score"] == pytest.approx(
            float(by_reference(ref, base | {e.factor.id: e.low})[0]), abs=1e-9)
        assert row["high_score"] == pytest.approx(
            float(by_reference(ref, base | {e.factor.id: e.high})[0]), abs=1e-9)
    n = 20_000
    sim = simulate(turkey, n, seed=5).to_dict()
    independent = by_reference(ref, pert_draws(turkey, n, seed=9))
    se = math.hypot(sim["std"], float(independent.std())) / math.sqrt(n)
    assert abs(sim["mean"] - float(independent.mean())) < 4 * se
    assert set(sim["band_probabilities"]) == {"very_high", "high", "medium", "low", "very_low"}
    method, rows = sobol(turkey, n=1024, seed=0)
    assert method == "estimate" and rows  # rounded, geometric nodes: estimated, with CIs
    assert all(r["total_ci"][0] <= r["total_ci"][1] for r in rows)


# ---------------------------------------------------------------------------------------------
# every command and format on a tree without risk and opportunity (INFORM) and on the pillars


INFORM_FEW = [str(INFORM / "scenarios/inform-2021" / f"{iso}.yaml") for iso in ("afg", "tur")]
JAPAN_TURKEY = [str(ROOT / "scenarios/japan-turkey")]
COMMANDS = [
    *[(["run", *INFORM_FEW, "--simulate", "300", "--format", f], "inform_risk")
      for f in ("text", "markdown", "csv", "json")],
    *[(["compare", *INFORM_FEW, "--simulate", "300", "--format", f], "afg")
      for f in ("text", "markdown", "csv", "json")],
    *[(["sensitivity", INFORM_FEW[0], "--n", "64", "--format", f], "afg")
      for f in ("text", "markdown", "json")],
    *[(["run", *JAPAN_TURKEY, "--tree", "pillars", "--format", f], "political_risk")
      for f in ("text", "markdown", "csv", "json")],
    *[(["outlook", *JAPAN_TURKEY, "--tree", "pillars", "--simulate", "300", "--format", f],
       "japan-turkey") for f in ("text", "markdown", "json")],
]


@pytest.mark.parametrize(("argv", "expected"), COMMANDS,
                         ids=[" ".join(a[:1] + a[-2:]) + f"-{i}" for i, (a, _) in
                              enumerate(COMMANDS)])
def test_every_command_and_format_on_custom_trees(capsys: pytest.CaptureFixture[str],
                                                  argv: list[str], expected: str) -> None:
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert expected in out
    if "json" in argv:
        json.loads(out)


def test_report_on_inform_and_with_the_pillar_tree_beside_the_default(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "inform.html"
    assert main(["report", *INFORM_FEW, "--simulate", "300", "--sobol-n", "64", "-q", "-o",
                 str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "under INFORM Risk Index 2021" in text and 'class="chart tree"' in text
    assert "no risk–opportunity plane" in text
    out = tmp_path / "jt.html"
    assert main(["report", *JAPAN_TURKEY, "--simulate", "300", "--sobol-n", "64", "-q", "-o",
                 str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    # the scenarios' own (default) tree and the project's pillar tree, both drawn
    assert "under the default tree" in text
    assert "The same scenarios under Partnership stability by pillar (pillars)" in text
