"""Comparison at scale: each partnership is one run, and the pairs across partnerships are
counted from the runs' own draws, which per-quantity uniform streams make the same numbers as
one joint pass would give.
"""

from __future__ import annotations

import importlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.compare import _count_pairs, compare
from riskengine.loading import load_project_scenarios, load_scenarios
from riskengine.models import Scenario
from riskengine.reporting import LONG_LIST, json_of_rows, json_row, json_text, to_json
from riskengine.scoring import ModelArrays, point_stability, score
from riskengine.simulation import (
    PERCENTILES,
    MethodError,
    _order_statistics,
    inverted_cdf_rank,
    simulate_many,
)
from riskengine.tree import default_tree
from tests.conftest import ROOT

N = 4_000
# the package exports the function compare under the module's name
compare_module = importlib.import_module("riskengine.compare")


@pytest.fixture(scope="module")
def shipped() -> list[Scenario]:
    return load_scenarios(ROOT / "scenarios")


def test_a_quantitys_draws_do_not_depend_on_the_run(shipped: list[Scenario]) -> None:
    """A scenario drawn alone or beside other partnerships' scenarios gets the same numbers
    (each quantity has its own stream), so runs of different partnerships line up."""
    jt = next(s for s in shipped if s.key == "japan-turkey/baseline")
    alone = simulate_many([jt], n=N, seed=3)[0]
    beside = simulate_many([s for s in shipped if s.id == "baseline"], n=N, seed=3)
    together = next(sim for sim in beside if sim.key == jt.key)
    assert np.array_equal(alone.stability, together.stability)
    assert alone.stats == together.stats


def test_pairs_across_partnerships_equal_one_joint_pass(shipped: list[Scenario]) -> None:
    comparison = compare(shipped, n=N, seed=5, method="mc")
    index = {s.key: m for m, s in enumerate(shipped)}
    across = [(index[p["a"]], index[p["b"]]) for p in comparison.pairs()
              if p["a"].split("/")[0] != p["b"].split("/")[0]]
    assert across  # the baselines of different partnerships
    joint = _count_pairs(shipped, across, N, 5, "random")
    got = {(index[p["a"]], index[p["b"]]): (p["p_a_beats_b"], p["p_tie"])
           for p in comparison.pairs()}
    for pair, odds in joint.items():
        assert got[pair] == odds


def test_counting_in_passes_of_their_own_gives_the_same_numbers(
        shipped: list[Scenario], monkeypatch: pytest.MonkeyPatch) -> None:
    """Draws too large to hold for the pairs across runs: those pairs get passes of their own
    (as a Sobol comparison always does), with the same result."""
    want = compare(shipped, n=N, seed=2, method="mc").to_dict()
    monkeypatch.setattr(compare_module, "CROSS_BYTES", 0)
    assert compare(shipped, n=N, seed=2, method="mc").to_dict() == want


@pytest.fixture
def share_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Share out runs and laws however small the comparison (a pool is not worth starting
    for these few draws, so compare would keep them here)."""
    monkeypatch.setattr(compare_module, "SHARE_RUNS_FROM", 0)
    monkeypatch.setattr(compare_module, "SHARE_LAWS_FROM", 0)
    monkeypatch.setattr(compare_module, "SIDE_PAIRS", 0)


def test_whole_runs_on_an_executor_give_the_same_numbers(shipped: list[Scenario],
                                                         share_small: None) -> None:
    local = compare(shipped, n=N, seed=4, method="mc")
    with ThreadPoolExecutor(2) as threads:
        shared = compare(shipped, n=N, seed=4, method="mc", executor=threads)
    assert shared.to_dict() == local.to_dict()
    # the draws each simulation hands out (the report's charts read them), kept or drawn again
    for a, b in zip(shared.simulations, local.simulations, strict=True):
        assert np.array_equal(a.stability, b.stability)


def test_draws_not_kept_are_drawn_again_the_same(shipped: list[Scenario]) -> None:
    """keep_draws=False (the compare command) holds no per-draw outputs, and changes no number:
    a simulation's draws asked for afterwards are drawn again, equal to those kept."""
    kept = compare(shipped, n=N, seed=4, method="mc")
    light = compare(shipped, n=N, seed=4, method="mc", keep_draws=False)
    assert light.to_dict() == kept.to_dict()
    for a, b in zip(light.simulations, kept.simulations, strict=True):
        assert np.array_equal(a.stability, b.stability)
        assert np.array_equal(a.risk_index, b.risk_index)
        assert np.array_equal(a.opportunity_index, b.opportunity_index)


def test_sobol_comparisons_count_across_runs_in_their_own_passes(
        shipped: list[Scenario]) -> None:
    two = [s for s in shipped if s.partnership in ("japan-turkey", "japan-uk")]
    comparison = compare(two, n=2_048, seed=1, sampler="sobol", method="mc")
    index = {s.key: m for m, s in enumerate(two)}
    across = [(index[p["a"]], index[p["b"]]) for p in comparison.pairs()
              if p["a"].split("/")[0] != p["b"].split("/")[0]]
    joint = _count_pairs(two, across, 2_048, 1, "sobol")
    for p in comparison.pairs():
        pair = (index[p["a"]], index[p["b"]])
        if pair in joint:
            assert (p["p_a_beats_b"], p["p_tie"]) == joint[pair]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 400), st.integers(0, 2**32 - 1), st.booleans())
def test_order_statistics_are_numpys_percentiles(n: int, seed: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 4, (3, n)).astype(float) if ties else rng.random((3, n))
    got = _order_statistics(values, [inverted_cdf_rank(n, q) for q in PERCENTILES])
    want = np.percentile(values, PERCENTILES, axis=1, method="inverted_cdf").T
    assert np.array_equal(got, want)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                               max_size=4),
    max_leaves=20)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_json_is_indented_as_before_when_no_list_is_long(value: object) -> None:
    assert to_json(value) == json_text(json.dumps(value, indent=2, ensure_ascii=False,
                                                  allow_nan=False))


def test_a_long_list_of_records_is_one_record_a_line() -> None:
    rows = [{"a": i, "b": [i, "x\u2028"]} for i in range(LONG_LIST + 1)]
    text = to_json({"rows": rows, "n": 1})
    assert json.loads(text) == {"rows": rows, "n": 1}
    lines = text.splitlines()
    assert lines[2] == '    {"a": 0, "b": [0, "x\\u2028"]},'
    assert len(lines) == len(rows) + 5
    with pytest.raises(ValueError):
        to_json({"rows": [{"v": float("nan")}] * (LONG_LIST + 1)})


@settings(max_examples=20, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=4), json_values, max_size=3), min_size=1,
                max_size=4),
       st.integers(LONG_LIST - 2, LONG_LIST + 3),
       st.text(alphabet="\x7f\x85\x9f\u2028\u202e\u2066ab", max_size=6))
def test_rows_dumped_one_by_one_are_the_json_of_the_list(kinds: list[dict[str, object]],
                                                        count: int, raw: str) -> None:
    """run --format json writes each record where it was made (json_row) and joins them
    (json_of_rows): the same text as to_json of the whole list, short (indented) or long,
    with the characters json leaves raw escaped the same way."""
    records = [{**kinds[i % len(kinds)], "row": i, "title": raw} for i in range(count)]
    assert json_of_rows([json_row(r) for r in records]) == to_json(records)


def test_model_arrays_are_built_once_and_read_only(shipped: list[Scenario]) -> None:
    first = shipped[0]
    arrays = ModelArrays.of(first)
    assert ModelArrays.of(first) is arrays
    with pytest.raises(ValueError):
        arrays.point[0] = 1.0
    other = first.model_copy(update={"id": "other"})
    assert ModelArrays.of(other) is not arrays
    assert np.array_equal(ModelArrays.of(other).point, arrays.point)
    # what a score reports of the tree itself is found once per compiled tree, and shared
    tree = arrays.tree
    assert score(first).nodes == score(other).nodes and tree.outline is tree.outline
    assert isinstance(tree.outline[0][3], tuple)  # shared by every score, so immutable


def test_default_tree_is_shared_by_scenarios_with_the_same_factors(
        shipped: list[Scenario]) -> None:
    group = [s for s in shipped if s.partnership == "japan-turkey"]
    same = [s for s in group if [e.factor.id for e in s.estimates]
            == [e.factor.id for e in group[0].estimates]
            and [e.weight for e in s.estimates] == [e.weight for e in group[0].estimates]
            and s.model == group[0].model]
    assert len(same) > 1
    assert all(default_tree(s) is default_tree(same[0]) for s in same)
    heavier = group[0].model_copy(update={"estimates": tuple(
        e.model_copy(update={"weight": e.weight + 1}) if k == 0 else e
        for k, e in enumerate(group[0].estimates))})
    assert default_tree(heavier) is not default_tree(group[0])


def test_exact_laws_by_partnership_on_an_executor(shipped: list[Scenario],
                                                  share_small: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The same numbers with the laws found by partnership on workers, each independent pair
    found once (across partnerships, as their laws come back); and each law's integral tables
    (two arrays its size, two thirds of the memory of 1,000 laws) are dropped once the pairs
    that read them are done."""
    linear = [s.model_copy(update={"correlations": ()}) for s in shipped]
    where: list[tuple[str, int]] = []
    found = compare_module.independent_odds_of

    def spy(laws: Any, pairs: Any) -> Any:
        where.append((threading.current_thread().name, len(pairs)))
        return found(laws, pairs)

    monkeypatch.setattr(compare_module, "independent_odds_of", spy)
    alone = compare(linear, n=N, seed=4)
    want = alone.to_dict()
    assert {row["method"] for row in want["rows"]} == {"exact"}
    laws = [law[0] for law in alone.laws if law is not None]
    assert where and sum(n for _, n in where) > 0  # the tables were made...
    assert not [law for law in laws if {"_areas", "_slopes"} & set(vars(law))]  # ...and let go
    alone_pairs = sum(n for _, n in where)
    where.clear()
    with ThreadPoolExecutor(2) as threads:
        assert compare(linear, n=N, seed=4, executor=threads).to_dict() == want
        assert sum(n for _, n in where) == alone_pairs
        # --method exact on a scenario that is not linear: the worker's error, as here
        with pytest.raises(MethodError, match="not linear"):
            compare(shipped, n=N, method="exact", executor=threads)


def test_point_stability_is_the_scores_stability(shipped: list[Scenario]) -> None:
    """The ranking of partnerships reads point_stability before the full scores exist: the
    same number to the last digit, default tree or not."""
    asem = load_project_scenarios([ROOT / "examples" / "asem-2018" / "scenarios"]).scenarios
    assert any(s.tree is not None for s in asem)
    for scenario in [*shipped, *asem[:12]]:
        assert point_stability(scenario) == score(scenario).stability


def test_a_small_comparison_starts_no_workers(shipped: list[Scenario]) -> None:
    class Refusing(ThreadPoolExecutor):
        def submit(self, *args: object, **kwargs: object) -> Any:
            raise AssertionError("a pool for 11 scenarios x 4,000 draws")

    with Refusing(1) as pool:
        assert compare(shipped, n=N, seed=4, executor=pool).to_dict() == compare(
            shipped, n=N, seed=4).to_dict()
