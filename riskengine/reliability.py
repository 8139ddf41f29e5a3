"""How far a scenario's numbers can be trusted: a grade from A to E, computed from its files.

Five components, each 0..1, averaged with equal weight:

* ``coverage``  — the share of the catalogue's default weight that the scenario estimates;
* ``evidenced`` — the share of estimates citing at least one dated source;
* ``sources``   — independent sources per estimate, full marks at two or more;
* ``recency``   — age of each estimate's newest evidence at ``as_of``: full marks within a
  year, none at five years or more, linear between;
* ``precision`` — one minus the width of each three-point estimate as a share of its scale.

All but coverage are weighted means over the estimates, each weighted by its share of its kind's
weight (risks and opportunities count half each), so evidence matters most where the score
depends most on it. Grades: A >= 0.85, B >= 0.70, C >= 0.55, D >= 0.40, else E.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from riskengine.loading import Catalogue
from riskengine.models import Estimate, Factor, Scenario

GRADES = (("A", 0.85), ("B", 0.70), ("C", 0.55), ("D", 0.40), ("E", 0.0))
FRESH_DAYS = 365
STALE_DAYS = 5 * 365


@dataclass(frozen=True)
class Reliability:
    score: float
    grade: str
    coverage: float | None  # None when no catalogue was given
    evidenced: float
    sources: float
    recency: float
    precision: float

    def to_dict(self) -> dict[str, float | str | None]:
        return {"grade": self.grade, "score": self.score, "coverage": self.coverage,
                "evidenced": self.evidenced, "sources": self.sources, "recency": self.recency,
                "precision": self.precision}


def grade_of(score: float) -> str:
    return next(letter for letter, floor in GRADES if score >= floor)


def _importance(scenario: Scenario) -> tuple[tuple[float, ...], float]:
    """Each estimate's weight in the means, and their sum (1 if they sum to 0)."""
    # a partnership's scenarios mostly share their kinds and weights
    return _importance_of(tuple((e.factor.kind, e.weight) for e in scenario.estimates))


@lru_cache(maxsize=1024)
def _importance_of(weighted: tuple[tuple[str, float], ...]
                   ) -> tuple[tuple[float, ...], float]:
    totals = {kind: math.fsum(w for k, w in weighted if k == kind)
              for kind in ("risk", "opportunity")}
    importance = tuple(0.5 * w / totals[k] if totals[k] > 0 else 0.0 for k, w in weighted)
    return importance, math.fsum(importance) or 1.0


class _Parts(NamedTuple):  # not a frozen dataclass: made for every estimate loaded
    """What an estimate alone gives to the grade, whatever scenario it lies in."""

    evidenced: float
    sources: float
    newest: date | None  # its newest evidence, for the recency at a scenario's as_of
    precision: float


# Grading many scenarios: an estimate a child leaves unchanged is its parent's Estimate object
# (loading shares them), so its parts are worked out once per object, not once per scenario.
# Keyed by id(), the estimate kept beside its parts so the id cannot be reused meanwhile.
PartsCache = dict[int, tuple[Estimate, _Parts]]


def _parts(estimate: Estimate) -> _Parts:
    evidence = estimate.evidence
    return _Parts(1.0 if evidence else 0.0,
                  min(len({item.source for item in evidence}), 2) / 2,
                  max(item.date for item in evidence) if evidence else None,
                  _precision(estimate))


@lru_cache(maxsize=4096)  # a project has few dates: asked of every estimate of every scenario
def _recency(newest: date | None, as_of: date | None) -> float:
    if as_of is None or newest is None:
        return 0.0
    age = (as_of - newest).days
    return min(1.0, max(0.0, (STALE_DAYS - age) / (STALE_DAYS - FRESH_DAYS)))


def _precision(estimate: Estimate) -> float:
    span = estimate.factor.scale.max - estimate.factor.scale.min
    return 1.0 - (estimate.high - estimate.low) / span


def reliability(scenario: Scenario, catalogue: Mapping[str, Factor] | None = None,
                cache: PartsCache | None = None) -> Reliability:
    """The reliability of ``scenario``; ``catalogue`` adds the coverage component.
    ``cache``: one dict shared over many calls (the same grades, fewer computed again)."""
    importance, total = _importance(scenario)

    def weighted(values: list[float]) -> float:
        # the products the generator over zip made (as many of each), through map in C
        return math.fsum(map(operator.mul, importance, values)) / total

    estimates = scenario.estimates
    if cache is None:
        parts = [_parts(e) for e in estimates]
    else:
        parts = []
        for e in estimates:
            hit = cache.get(id(e))
            if hit is None or hit[0] is not e:
                hit = cache[id(e)] = (e, _parts(e))
            parts.append(hit[1])
    as_of = scenario.as_of
    evidenced = weighted([p.evidenced for p in parts])
    sources = weighted([p.sources for p in parts])
    recency = weighted([_recency(p.newest, as_of) for p in parts])
    precision = weighted([p.precision for p in parts])
    components = [evidenced, sources, recency, precision]
    coverage = None
    if catalogue:
        # both sums kept by the catalogue: a validate run grades every scenario against it,
        # and a partnership's scenarios mostly estimate the same factors
        if not isinstance(catalogue, Catalogue):
            catalogue = Catalogue(dict(catalogue))
        all_weight = catalogue.total_weight
        coverage = (catalogue.weight_of(tuple(e.factor.id for e in estimates)) / all_weight
                    if all_weight > 0 else 0.0)
        components.append(coverage)
    score = math.fsum(components) / len(components)
    return Reliability(score, grade_of(score), coverage, evidenced, sources, recency, precision)
