"""The scoring model of MODEL.md, as pure functions over numpy arrays.

One implementation serves every caller: the deterministic score passes one row of values, a
Monte Carlo run passes a sample matrix of shape ``(n, k)``, a weight-robustness study passes a
matrix of weights. Nothing here loops over samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riskengine.models import Bands, Scenario

GEOMETRIC_EPS = 0.001
BANDS = ("stable", "fragile", "unstable")

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ModelArrays:
    """A scenario's factors as aligned arrays, in the scenario's factor order."""

    ids: tuple[str, ...]
    is_risk: NDArray[np.bool_]
    scale_min: FloatArray
    scale_max: FloatArray
    reverse: NDArray[np.bool_]  # higher_means: less
    weights: FloatArray  # normalised within each kind
    low: FloatArray
    mode: FloatArray
    high: FloatArray
    point: FloatArray
    beta: float
    aggregation: str
    bands: Bands

    @property
    def span(self) -> FloatArray:
        return self.scale_max - self.scale_min

    @property
    def slope(self) -> FloatArray:
        return np.where(self.reverse, -1.0, 1.0) / self.span

    @property
    def intercept(self) -> FloatArray:
        return np.where(self.reverse, self.scale_max, -self.scale_min) / self.span

    @property
    def risk_weights(self) -> FloatArray:
        return np.where(self.is_risk, self.weights, 0.0)

    @property
    def opportunity_weights(self) -> FloatArray:
        return np.where(self.is_risk, 0.0, self.weights)

    @classmethod
    def of(cls, scenario: Scenario) -> ModelArrays:
        est = scenario.estimates
        is_risk = np.array([e.factor.kind == "risk" for e in est])
        return cls(
            ids=tuple(e.factor.id for e in est),
            is_risk=is_risk,
            scale_min=np.array([e.factor.scale.min for e in est], dtype=float),
            scale_max=np.array([e.factor.scale.max for e in est], dtype=float),
            reverse=np.array([e.factor.higher_means == "less" for e in est]),
            weights=normalise_weights(np.array([e.weight for e in est], dtype=float), is_risk),
            low=np.array([e.low for e in est], dtype=float),
            mode=np.array([e.mode for e in est], dtype=float),
            high=np.array([e.high for e in est], dtype=float),
            point=np.array([e.point for e in est], dtype=float),
            beta=scenario.model.risk_share,
            aggregation=scenario.model.aggregation,
            bands=scenario.model.bands,
        )


def normalise_weights(weights: FloatArray, is_risk: NDArray[np.bool_]) -> FloatArray:
    """Weights divided by their kind's total; works on one row or a matrix of rows."""
    weights = np.asarray(weights, dtype=float)
    risk_total = np.where(is_risk, weights, 0.0).sum(axis=-1, keepdims=True)
    opp_total = np.where(is_risk, 0.0, weights).sum(axis=-1, keepdims=True)
    return weights / np.where(is_risk, risk_total, opp_total)


def normalise(raw: FloatArray, arrays: ModelArrays, out: FloatArray | None = None
              ) -> FloatArray:
    """Raw values on each factor's scale -> presence in [0, 1] (step 2 of MODEL.md).

    ``(x - min) / (max - min)``, or ``(max - x) / (max - min)`` for ``higher_means: less``
    (the same as ``1 - s``), written as one multiply-add so a large sample matrix is passed over
    twice, not five times. ``out=raw`` normalises a scratch matrix in place.
    """
    s = np.multiply(raw, arrays.slope, out=out)
    s += arrays.intercept
    return np.clip(s, 0.0, 1.0, out=s)


def aggregate(s: FloatArray, arrays: ModelArrays, weights: FloatArray | None = None,
              beta: float | FloatArray | None = None
              ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Stability, risk index and opportunity index for normalised values ``s`` of shape (..., k).

    ``weights`` (normalised within kind, broadcastable to ``s``) and ``beta`` default to the
    scenario's.
    """
    b = arrays.beta if beta is None else beta
    risk = arrays.is_risk
    if arrays.aggregation == "arithmetic":
        if weights is None:
            # one pass over the samples for both indices
            both = s @ np.stack([arrays.risk_weights, arrays.opportunity_weights], axis=-1)
            r, o = both[..., 0], both[..., 1]
        else:
            r = np.sum(np.where(risk, weights * s, 0.0), axis=-1)
            o = np.sum(np.where(risk, 0.0, weights * s), axis=-1)
        stability = 100.0 * (b * (1.0 - r) + (1.0 - b) * o)
        return stability, r, o
    w = arrays.weights if weights is None else weights
    log_safe = np.sum(np.where(risk, w * np.log(np.maximum(1.0 - s, GEOMETRIC_EPS)), 0.0),
                      axis=-1)
    log_o = np.sum(np.where(risk, 0.0, w * np.log(np.maximum(s, GEOMETRIC_EPS))), axis=-1)
    stability = 100.0 * np.exp(b * log_safe + (1.0 - b) * log_o)
    return stability, 1.0 - np.exp(log_safe), np.exp(log_o)


def contributions(s: FloatArray, arrays: ModelArrays, stability: FloatArray | float,
                  weights: FloatArray | None = None) -> FloatArray:
    """Each factor's signed share of the score.

    Arithmetic: ``-100 beta w s`` for risks, ``+100 (1 - beta) w s`` for opportunities; they sum
    to ``S - 100 beta``. Geometric: ``log(S/100)`` is a weighted sum of log terms, one a factor,
    so the shortfall ``S - 100`` is split in proportion to those terms; they sum to ``S - 100``
    and each is <= 0 (a factor can only pull a non-compensatory score down from its ideal).
    """
    b, risk = arrays.beta, arrays.is_risk
    w = arrays.weights if weights is None else weights
    if arrays.aggregation == "arithmetic":
        return np.where(risk, -100.0 * b * w * s, 100.0 * (1.0 - b) * w * s)
    terms = np.where(risk, b * w * np.log(np.maximum(1.0 - s, GEOMETRIC_EPS)),
                     (1.0 - b) * w * np.log(np.maximum(s, GEOMETRIC_EPS)))
    total = terms.sum(axis=-1, keepdims=True)
    shortfall = np.asarray(stability, dtype=float)[..., None] - 100.0
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total < 0, terms / total, 0.0)
    return shortfall * share


def contribution_reference(arrays: ModelArrays) -> float:
    """The score the contributions are measured from: they sum to ``S`` minus this."""
    return 100.0 * arrays.beta if arrays.aggregation == "arithmetic" else 100.0


def band_index(stability: FloatArray | float, bands: Bands) -> NDArray[np.int_]:
    """0 stable, 1 fragile, 2 unstable (indices into :data:`BANDS`)."""
    stability = np.asarray(stability)
    return np.where(stability >= bands.stable, 0, np.where(stability >= bands.fragile, 1, 2))


def band_of(stability: float, bands: Bands) -> str:
    return BANDS[int(band_index(stability, bands))]


@dataclass(frozen=True)
class FactorScore:
    id: str
    name: str
    kind: str
    group: str
    value: float
    normalised: float
    weight: float
    contribution: float


@dataclass(frozen=True)
class Result:
    """The deterministic score of one scenario. ``to_dict`` is the JSON contract of MODEL.md."""

    scenario: str
    partnership: str
    title: str
    stability: float
    risk_index: float
    opportunity_index: float
    band: str
    aggregation: str
    risk_share: float
    bands: Bands
    contribution_reference: float
    factors: tuple[FactorScore, ...]
    as_of: str | None = None
    source: str | None = None

    @property
    def key(self) -> str:
        return f"{self.partnership}/{self.scenario}"

    def to_dict(self) -> dict[str, Any]:
        groups: dict[str, float] = {}
        for f in self.factors:
            groups[f.group] = groups.get(f.group, 0.0) + f.contribution
        return {
            "scenario": self.scenario,
            "partnership": self.partnership,
            "title": self.title,
            "as_of": self.as_of,
            "stability": self.stability,
            "risk_index": self.risk_index,
            "opportunity_index": self.opportunity_index,
            "band": self.band,
            "model": {
                "aggregation": self.aggregation,
                "risk_share": self.risk_share,
                "bands": self.bands.model_dump(),
                "contribution_reference": self.contribution_reference,
            },
            "factors": [vars(f).copy() for f in self.ranked()],
            "groups": groups,
        }

    def ranked(self) -> list[FactorScore]:
        """Factors by decreasing |contribution|, ties by id, so output order is stable."""
        return sorted(self.factors, key=lambda f: (-abs(f.contribution), f.id))

    def to_frame(self) -> Any:
        """The factor table as a pandas DataFrame indexed by factor id."""
        import pandas as pd

        return pd.DataFrame([vars(f) for f in self.ranked()]).set_index("id")

    def _repr_html_(self) -> str:
        head = (f"<p><b>{self.key}</b>: S = {self.stability:.1f} ({self.band}), "
                f"R = {self.risk_index:.3f}, O = {self.opportunity_index:.3f}</p>")
        return head + self.to_frame().to_html(float_format=lambda v: f"{v:.3f}")


def score(scenario: Scenario) -> Result:
    """The deterministic score of a resolved scenario (MODEL.md, "The deterministic score")."""
    arrays = ModelArrays.of(scenario)
    s = normalise(arrays.point, arrays)
    stability, r, o = aggregate(s, arrays)
    contrib = contributions(s, arrays, stability)
    factors = tuple(
        FactorScore(id=e.factor.id, name=e.factor.name, kind=e.factor.kind,
                    group=e.factor.group, value=float(arrays.point[i]),
                    normalised=float(s[i]), weight=float(arrays.weights[i]),
                    contribution=float(contrib[i]))
        for i, e in enumerate(scenario.estimates)
    )
    return Result(
        scenario=scenario.id, partnership=scenario.partnership, title=scenario.title,
        stability=float(stability), risk_index=float(r), opportunity_index=float(o),
        band=band_of(float(stability), scenario.model.bands),
        aggregation=arrays.aggregation, risk_share=arrays.beta, bands=scenario.model.bands,
        contribution_reference=contribution_reference(arrays), factors=factors,
        as_of=scenario.as_of.isoformat() if scenario.as_of else None, source=scenario.source,
    )
