"""Common random numbers keyed by the uncertain quantity (MODEL.md, "Shared draws").

A factor about one party is the same quantity wherever that party appears; a factor about the
pair belongs to its partnership. Partnerships that share no party are then compared as
independent quantities, not through draws that happen to share a factor id.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskengine.compare import compare
from riskengine.loading import load_scenarios
from riskengine.models import Scenario
from riskengine.simulation import _members, draw_key, simulate, simulate_many
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def shipped() -> dict[str, Scenario]:
    return {s.key: s for s in load_scenarios(ROOT / "scenarios")}


def _only(scenario: Scenario, keep: set[str]) -> Scenario:
    """The scenario reduced to the factors ``keep``, without correlations: its S is then a
    function of those factors' draws alone."""
    return scenario.model_copy(update={
        "estimates": tuple(e for e in scenario.estimates if e.factor.id in keep),
        "correlations": ()})


def test_keys_follow_the_party_or_the_partnership(shipped: dict[str, Scenario]) -> None:
    jt, it, ju = (shipped[k] for k in ("japan-turkey/baseline", "indonesia-turkey/baseline",
                                       "japan-uk/baseline"))
    russia = jt.estimate("russia_balancing").factor  # about: b
    assert russia.about == "b"
    assert draw_key(jt, russia) == draw_key(it, russia) == ("russia_balancing", "party:turkey")
    assert draw_key(ju, russia) == ("russia_balancing", "party:united kingdom")
    pair = next(e.factor for e in jt.estimates if e.factor.about in ("pair", None))
    assert draw_key(jt, pair) == (pair.id, "partnership:japan-turkey")
    assert draw_key(it, pair) == (pair.id, "partnership:indonesia-turkey")
    # without parties a party factor is known only within its partnership
    assert draw_key(jt.model_copy(update={"parties": None}), russia) == (
        "russia_balancing", "partnership:japan-turkey")


def test_shared_party_factor_gets_identical_draws(shipped: dict[str, Scenario]) -> None:
    """(b) Turkey's Russia balancing, estimated alike in Japan–Turkey and Indonesia–Turkey, is
    one draw in both; the UK's, estimated alike in Japan–UK, is another."""
    keep = {"russia_balancing", "cooperation_momentum"}
    jt = _only(shipped["japan-turkey/baseline"], keep)
    it = _only(shipped["indonesia-turkey/baseline"], keep)
    est = jt.estimate("russia_balancing")
    assert (est.low, est.mode, est.high, est.distribution) == tuple(
        getattr(it.estimate("russia_balancing"), f) for f in ("low", "mode", "high",
                                                               "distribution"))
    ju = _only(shipped["japan-uk/baseline"], keep).model_copy(update={"estimates": tuple(
        jt.estimate("russia_balancing") if e.factor.id == "russia_balancing" else e
        for e in _only(shipped["japan-uk/baseline"], keep).estimates)})
    members, _ = _members([jt, it, ju], True, "random")
    col = {s.partnership: dict(zip(m.arrays.ids, m.cols.tolist(), strict=True))  # type: ignore
           for s, m in zip([jt, it, ju], members, strict=True)}
    assert col["japan-turkey"]["russia_balancing"] == col["indonesia-turkey"]["russia_balancing"]
    assert col["japan-uk"]["russia_balancing"] != col["japan-turkey"]["russia_balancing"]
    # cooperation momentum is about the pair: three partnerships, three quantities
    assert len({c["cooperation_momentum"] for c in col.values()}) == 3
    # the risk side is Russia balancing alone, so R is a function of its draw: equal draws,
    # equal R to the last bit; the UK's independent draw gives R uncorrelated with Turkey's
    sims = simulate_many([jt, it, ju], n=20_000, seed=4)
    assert np.array_equal(sims[0].risk_index, sims[1].risk_index)
    assert not np.array_equal(sims[0].risk_index, sims[2].risk_index)
    assert abs(np.corrcoef(sims[0].risk_index, sims[2].risk_index)[0, 1]) < 4 / math.sqrt(20_000)


def test_same_seed_same_draws(shipped: dict[str, Scenario]) -> None:
    chosen = [shipped["japan-turkey/baseline"], shipped["indonesia-turkey/baseline"]]
    first = simulate_many(chosen, n=3000, seed=9)
    again = simulate_many(chosen, n=3000, seed=9)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.stability, b.stability)


def test_scenarios_of_one_partnership_still_share_draws(shipped: dict[str, Scenario]) -> None:
    """(c) A variant and its baseline: every factor they both estimate is one column, and a
    copy of the baseline ties it on every draw."""
    group = [s for s in shipped.values() if s.partnership == "japan-turkey"]
    members, sources = _members(group, True, "random")
    assert [source.width for source in sources] == [
        len({e.factor.id for s in group for e in s.estimates})]
    columns = [dict(zip(m.arrays.ids, m.cols.tolist(), strict=True))  # type: ignore[union-attr]
               for m in members]
    for a in columns:
        for b in columns:
            assert all(a[f] == b[f] for f in a.keys() & b.keys())
    base = shipped["japan-turkey/baseline"]
    twin = base.model_copy(update={"id": "twin"})
    pair = compare([base, twin], n=5000, seed=2, method="mc").pairs()[0]
    assert (pair["p_a_beats_b"], pair["p_tie"]) == (0.0, 1.0)


def test_partnerships_without_a_common_party_compare_as_independent(
        shipped: dict[str, Scenario]) -> None:
    """(a) Indonesia–Turkey against Japan–Turkey's sanctions scenario moved to a partnership
    of two other parties: no quantity in common, so P(A beats B) under common random numbers
    equals that of two independent simulations within Monte Carlo error. (Keyed by factor id
    alone, before the scale review, the two differed by 0.14, about 40 SE.)"""
    a = shipped["indonesia-turkey/baseline"]
    b = shipped["japan-turkey/sanctions-alignment"].model_copy(
        update={"partnership": "korea-poland", "parties": ("South Korea", "Poland")})
    assert not ({draw_key(a, e.factor) for e in a.estimates}
                & {draw_key(b, e.factor) for e in b.estimates})
    n = 40_000
    shared = compare([a, b], n=n, seed=3, method="mc", pairs="all").pairs()[0]
    indep = float(np.mean(simulate(a, n=n, seed=101, method="mc").stability
                          > simulate(b, n=n, seed=202, method="mc").stability))
    # each estimate has binomial variance p(1 - p)/n; their difference twice that
    se = math.sqrt(2 * indep * (1 - indep) / n)
    assert 0.02 < indep < 0.98  # a pair the test can tell apart, not a sure thing
    assert abs(shared["p_a_beats_b"] - indep) < 4 * se


def test_a_twin_in_a_partnership_of_other_parties_is_a_coin_toss(
        shipped: dict[str, Scenario]) -> None:
    """The same estimates in a partnership with no party in common are an independent copy:
    P(A beats twin) is 1/2 by symmetry (within 4 SE), with no ties. Keyed by factor id alone
    the twin drew the same numbers and tied on every draw."""
    a = shipped["indonesia-turkey/baseline"]
    twin = a.model_copy(update={"partnership": "korea-poland",
                                "parties": ("South Korea", "Poland")})
    n = 40_000
    pair = compare([a, twin], n=n, seed=6, method="mc", pairs="all").pairs()[0]
    assert pair["p_tie"] == 0.0
    assert abs(pair["p_a_beats_b"] - 0.5) < 4 * math.sqrt(0.25 / n)
    # the exact method agrees (without the correlations, the scores are linear in
    # independent inputs): no quantity in common, so the two laws are independent
    linear = a.model_copy(update={"correlations": ()})
    twin = linear.model_copy(update={"partnership": "korea-poland",
                                     "parties": ("South Korea", "Poland")})
    exact = compare([linear, twin], n=10, method="exact").pairs()[0]
    assert exact["method"] == "exact"
    assert exact["p_a_beats_b"] == pytest.approx(0.5, abs=1e-3)
    # while in one partnership the twin is the same quantity: a tie on every draw
    same = compare([linear, linear.model_copy(update={"id": "twin"})], n=10,
                   method="exact").pairs()[0]
    assert same["p_tie"] == pytest.approx(1.0)
