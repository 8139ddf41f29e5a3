"""The deterministic score against hand-computed numbers, and its properties."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.loading import load_scenario, load_scenarios
from riskengine.models import Bands, Estimate, Factor, Kind, ModelSettings, Scale, Scenario
from riskengine.scoring import (
    FactorScore,
    ModelArrays,
    aggregate,
    band_of,
    score,
    score_many,
)
from riskengine.tree import evaluate

from .conftest import ROOT, write


def test_arithmetic_by_hand(project: Path) -> None:
    # r_a 4/10 -> .4 (w .75); r_b 6/10 reversed -> .4 (w .25); o_a 2/4 -> .5; o_b mid 6 -> .6
    result = score(load_scenario(project / "scenarios/demo/base.yaml"))
    assert result.risk_index == pytest.approx(0.4, abs=1e-12)
    assert result.opportunity_index == pytest.approx(0.55, abs=1e-12)
    assert result.stability == pytest.approx(57.5, abs=1e-9)
    assert result.band == "fragile"
    contrib = {f.id: f.contribution for f in result.factors}
    assert contrib == pytest.approx({"r_a": -15.0, "r_b": -5.0, "o_a": 12.5, "o_b": 15.0})
    assert [f.id for f in result.ranked()] == ["o_b", "r_a", "o_a", "r_b"]
    up = score(load_scenario(project / "scenarios/demo/up.yaml"))
    assert up.stability == pytest.approx(71.25, abs=1e-9) and up.band == "stable"


def test_geometric_by_hand(project: Path) -> None:
    write(project / "scenarios/demo/geo.yaml", """
        id: geo
        title: Geometric
        extends: base
        model: {aggregation: geometric}
        """)
    result = score(load_scenario(project / "scenarios/demo/geo.yaml"))
    safe = 0.6**0.75 * 0.6**0.25
    opportunity = 0.5**0.5 * 0.6**0.5
    assert result.risk_index == pytest.approx(1 - safe, abs=1e-12)
    assert result.opportunity_index == pytest.approx(opportunity, abs=1e-12)
    expected = 100 * safe**0.5 * opportunity**0.5
    assert result.stability == pytest.approx(expected, abs=1e-9)
    total = sum(f.contribution for f in result.factors)
    assert total == pytest.approx(result.stability - 100, abs=1e-9)
    assert all(f.contribution <= 0 for f in result.factors)


def test_frame_and_dict_agree(project: Path) -> None:
    result = score(load_scenario(project / "scenarios/demo/base.yaml"))
    frame = result.to_frame()
    as_dict = result.to_dict()
    assert list(frame.index) == [f["id"] for f in as_dict["factors"]]
    assert frame.loc["r_a", "contribution"] == pytest.approx(-15.0)
    assert {"scenario", "partnership", "stability", "risk_index", "opportunity_index", "band",
            "factors"} <= set(as_dict)
    assert "<table" in result._repr_html_()


def test_band_thresholds_are_inclusive() -> None:
    bands = Bands(stable=65, fragile=40)
    assert band_of(65.0, bands) == "stable"
    assert band_of(64.999, bands) == "fragile"
    assert band_of(40.0, bands) == "fragile"
    assert band_of(39.999, bands) == "unstable"


# ---------------------------------------------------------------------------------------------
# properties over random models


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n_risk = draw(st.integers(1, 5))
    n_opp = draw(st.integers(1, 5))
    estimates = []
    for i in range(n_risk + n_opp):
        lo = draw(st.floats(-100, 100))
        width = draw(st.floats(0.5, 100))
        factor = Factor(
            id=f"f{i}", name=f"F{i}", kind="risk" if i < n_risk else "opportunity",
            description="d", scale=Scale(min=lo, max=lo + width, unit="u"),
            higher_means=draw(st.sampled_from(["more", "less"])),
            weight=draw(st.floats(0.01, 10)))
        point = lo + width * draw(st.floats(0, 1))
        estimates.append(Estimate(factor=factor, low=point, mode=point, high=point,
                                  weight=factor.weight, fixed=True))
    model = ModelSettings(aggregation=draw(st.sampled_from(["arithmetic", "geometric"])),
                          risk_share=draw(st.floats(0, 1)))
    return Scenario(id="s", title="S", partnership="p", model=model,
                    estimates=tuple(estimates))


@given(scenarios())
@settings(max_examples=50, deadline=None)
def test_score_is_bounded_and_contributions_add_up(scenario: Scenario) -> None:
    result = score(scenario)
    assert 0.0 <= result.stability <= 100.0
    assert result.risk_index is not None and result.opportunity_index is not None
    assert 0.0 <= result.risk_index <= 1.0 and 0.0 <= result.opportunity_index <= 1.0
    total = math.fsum(f.contribution for f in result.factors)
    assert total == pytest.approx(result.stability - result.contribution_reference, abs=1e-7)
    if result.aggregation == "arithmetic":
        assert result.contribution_reference == 100 * scenario.model.risk_share


@given(scenarios(), st.integers(0, 9), st.floats(0, 1))
@settings(max_examples=50, deadline=None)
def test_more_risk_never_raises_and_more_opportunity_never_lowers(
        scenario: Scenario, pick: int, step: float) -> None:
    arrays = ModelArrays.of(scenario)
    rng = np.random.default_rng(pick)
    s = rng.uniform(0, 1, len(arrays.ids))
    i = pick % len(arrays.ids)
    raised = s.copy()
    raised[i] = s[i] + (1 - s[i]) * step
    before, _, _ = aggregate(s, arrays)
    after, _, _ = aggregate(raised, arrays)
    if arrays.is_risk[i]:
        assert after <= before + 1e-9
    else:
        assert after >= before - 1e-9


@given(scenarios(), st.floats(0.01, 100), st.sampled_from(["risk", "opportunity"]))
@settings(max_examples=50, deadline=None)
def test_scaling_weights_of_a_kind_changes_nothing(scenario: Scenario, c: float,
                                                   kind: str) -> None:
    scaled = scenario.model_copy(update={"estimates": tuple(
        e.model_copy(update={"weight": e.weight * c}) if e.factor.kind == kind else e
        for e in scenario.estimates)})
    assert score(scaled).stability == pytest.approx(score(scenario).stability, abs=1e-9)


def test_indices_stay_in_their_range_when_the_weights_sum_past_one_by_rounding() -> None:
    """Weights that sum to 1 only up to rounding carried every opportunity at its best to an
    index of 1.0000000000000004: the clip meant to stop it clipped a copy (the nodes were
    picked by a fancy index) and left the node's value as it was."""
    weights = [0.05, 0.05, 1 / 3, 0.05, 0.3, 0.7, 0.05, 0.1, 0.3, 0.1, 0.7, 0.35, 0.2, 0.7,
               0.7, 0.35]
    estimates = []
    for i, weight in enumerate(weights):
        kind: Kind = "opportunity" if i % 2 else "risk"
        factor = Factor(id=f"f{i}", name=f"F{i}", kind=kind, description="x",
                        scale=Scale(min=0, max=10, unit="score"), higher_means="more",
                        weight=weight)
        best = 10 if kind == "opportunity" else 0
        estimates.append(Estimate(factor=factor, low=best, mode=best, high=best, fixed=True,
                                  weight=weight))
    result = score(Scenario(id="edge", title="Edge", partnership="p",
                            estimates=tuple(estimates)))
    assert result.opportunity_index == 1.0 and result.risk_index == 0.0
    assert result.stability == 100.0


@given(scenarios(), st.lists(st.lists(st.floats(0, 1), min_size=10, max_size=10),
                             min_size=1, max_size=12), st.randoms())
@settings(max_examples=25, deadline=None)
def test_scores_of_many_are_each_scored_alone(base: Scenario, points: list[list[float]],
                                              rng: object) -> None:
    """score_many evaluates a family (the same factors, other estimates) as one matrix: each
    scenario's result is bit for bit its result alone, in any order and any company."""
    def variant(n: int, row: list[float]) -> Scenario:
        # the base's factor objects, as a partnership's variants share their catalogue's
        moved = []
        for e, p in zip(base.estimates, row, strict=False):
            point = e.factor.scale.min + (e.factor.scale.max - e.factor.scale.min) * p
            moved.append(e.model_copy(update=dict.fromkeys(("low", "mode", "high"), point)))
        return base.model_copy(update={"id": f"v{n}", "estimates": tuple(moved)})

    family = [base] + [variant(n, row) for n, row in enumerate(points)]
    alone = [score(s) for s in family]
    assert score_many(family) == alone
    # one matrix indeed: the family shares its compiled tree and its factors' scales
    trees = {id(ModelArrays.of(s).tree) for s in family}
    assert len(trees) == 1 and len({id(ModelArrays.of(s).slope) for s in family}) == 1
    order = list(range(len(family)))
    rng.shuffle(order)  # type: ignore[attr-defined]
    some = order[:len(order) // 2 + 1]
    assert score_many([family[i] for i in some]) == [alone[i] for i in some]


@given(scenarios(), st.integers(1, 40), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_deterministic_sums_are_taken_in_column_order_whatever_blas_does(
        scenario: Scenario, rows: int, seed: int) -> None:
    """The deterministic score's weighted sums are the products added first column to last:
    the same bits as Python's own arithmetic, for one row or many, with no BLAS kernel (whose
    rounding differs between a product of one row and of many) in between."""
    tree = ModelArrays.of(scenario).tree
    s = np.random.default_rng(seed).uniform(0, 1, (rows, tree.k))
    values = evaluate(tree, s, rowwise=True)
    for row in range(rows):
        assert evaluate(tree, s[row], rowwise=True).tolist() == values[row].tolist()
        for c, node in enumerate(tree.linear_nodes.tolist()):
            terms = [float(s[row, j]) * float(tree.linear_matrix[j, c]) for j in range(tree.k)]
            total = terms[0]
            for term in terms[1:]:
                total += term
            total += float(tree.linear_const[c])
            assert values[row, node] == min(max(total, 0.0), 1.0)


@pytest.mark.parametrize("folder", ["scenarios", "examples/asem-2018/scenarios",
                                    "examples/korea-poland/scenarios"])
def test_shipped_scenarios_scored_together_are_scored_alone(folder: str) -> None:
    """The shipped partnerships share the default tree: one matrix for all of them. (Summed
    by numpy over a row of that matrix, a node's contribution came out otherwise than alone
    in four of the eleven: the sums are exact now, math.fsum.) ASEM's tree is geometric:
    its scenarios are scored one at a time, by the same code."""
    shipped = load_scenarios(ROOT / folder)
    together = score_many(shipped)
    assert together == [score(s) for s in shipped]
    for result in together:
        root = next(node for node in result.nodes if node.parent is None)
        assert root.contribution == math.fsum(f.contribution for f in result.factors
                                              if f.parent)


def test_factor_scores_made_fast_are_the_dataclass_made_slowly(project: Path) -> None:
    scenario = load_scenario(project / "scenarios/demo/base.yaml")
    for made in score(scenario).factors:
        slow = FactorScore(**vars(made))
        assert made == slow and hash(made) == hash(slow) and repr(made) == repr(slow)
        assert list(vars(made)) == [f.name for f in fields(FactorScore)]
        with pytest.raises(FrozenInstanceError):
            made.weight = 0.0  # type: ignore[misc]
