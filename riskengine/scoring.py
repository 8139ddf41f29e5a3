"""The scoring model of MODEL.md, as pure functions over numpy arrays.

One implementation serves every caller: the deterministic score passes one row of values, a
Monte Carlo run passes a sample matrix of shape ``(n, k)``, a weight-robustness study passes a
matrix of weights. Nothing here loops over samples.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from riskengine.models import Bands, BandSpec, Factor, Scenario, TreeNode
from riskengine.tree import (
    CompiledTree,
    compile_tree,
    evaluate,
    reference_score,
    tree_bands,
    tree_of,
)
from riskengine.tree import (
    contributions as tree_contributions,
)
from riskengine.trees import leaves as tree_leaves

BANDS = ("stable", "fragile", "unstable")

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LeafTransform:
    """A column normalised by a rule other than a fixed affine map (log, z-score or rank)."""

    col: int
    log_offset: float | None
    winsorise: tuple[float, float] | None  # raw bounds (after the log) to clip at
    rule: str  # minmax | zscore | rank | scale
    low: float
    high: float
    mean: float
    std: float
    values: FloatArray  # the population's sorted (transformed, winsorised) values, for rank
    reverse: bool

    def apply(self, raw: FloatArray) -> FloatArray:
        x = raw
        if self.log_offset is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.log(np.maximum(x + self.log_offset, np.finfo(float).tiny))
        if self.winsorise is not None:
            x = np.clip(x, *self.winsorise)
        if self.rule == "zscore":
            from scipy.special import ndtr

            s = ndtr((x - self.mean) / self.std)
        elif self.rule == "rank":
            s = _mid_rank(x, self.values)
        else:
            s = np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)
        return 1.0 - s if self.reverse else s


def _mid_rank(x: FloatArray, values: FloatArray) -> FloatArray:
    """Percentile rank among the population, from 0 (its lowest) to 1 (its highest), ties at
    their mid-rank, linear between members."""
    uniq, counts = np.unique(values, return_counts=True)
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])
    mid = (below + (counts - 1) / 2.0) / max(values.size - 1, 1)
    return np.interp(x, uniq, mid)


@dataclass(frozen=True)
class ModelArrays:
    """A scenario's factors as aligned arrays, in the scenario's factor order, and its tree."""

    ids: tuple[str, ...]
    is_risk: NDArray[np.bool_]
    scale_min: FloatArray  # the bounds the affine normalisation maps to 0 and 1
    scale_max: FloatArray
    reverse: NDArray[np.bool_]  # higher_means: less
    weights: FloatArray  # each factor's weight normalised within its parent node
    low: FloatArray
    mode: FloatArray
    high: FloatArray
    point: FloatArray
    bands: tuple[BandSpec, ...]  # the tree's
    tree: CompiledTree
    transforms: tuple[LeafTransform, ...] = ()  # columns not normalised by an affine map

    @cached_property
    def _unit_map(self) -> tuple[FloatArray, FloatArray]:
        return unit_map(self.reverse, self.scale_min, self.scale_max)

    @property
    def slope(self) -> FloatArray:
        return self._unit_map[0]

    @property
    def intercept(self) -> FloatArray:
        return self._unit_map[1]

    @property
    def has_sides(self) -> bool:
        """The root has ``risk`` and ``opportunity`` children (R and O are reported)."""
        return None not in self.tree.root_sides

    @property
    def is_linear(self) -> bool:
        """The root is an affine function of the raw values (no clipping active inside the
        scales): every node arithmetic and every normalisation affine."""
        return self.tree.is_linear and not self.transforms

    @classmethod
    def of(cls, scenario: Scenario) -> ModelArrays:
        """The scenario's arrays, built once per scenario object: a comparison asks for them
        in its runs, its point scores and its exact laws, and compiling the tree is most of
        the cost. The arrays are read-only, so sharing them is safe."""
        return per_scenario(_ARRAYS, scenario, cls._read_only)

    @classmethod
    def _read_only(cls, scenario: Scenario) -> ModelArrays:
        arrays = cls._build(scenario)
        for value in vars(arrays).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        return arrays

    def _same_scales(self, columns: _FactorColumns) -> ModelArrays:
        """These arrays, with the normalisation's slope and intercept taken from
        ``columns`` when the scales are theirs: the same numbers, made once for a set of
        factors rather than per scenario."""
        if self.scale_min is columns.scale_min and self.scale_max is columns.scale_max:
            vars(self)["_unit_map"] = columns.unit_map  # what the cached property would make
        return self

    @classmethod
    def _build(cls, scenario: Scenario) -> ModelArrays:
        est = scenario.estimates
        columns = _factor_columns(tuple(e.factor for e in est))
        tree = compile_tree(tree_of(scenario), columns.ids)
        lo, hi = columns.scale_min, columns.scale_max
        transforms = []
        if scenario.tree is not None:
            lo, hi = lo.copy(), hi.copy()  # a population's bounds replace the factors' own
            by_factor = {leaf.factor: leaf for leaf in tree_leaves(scenario.tree)}
            for i, fid in enumerate(columns.ids):
                leaf = by_factor.get(fid)
                if leaf is None or (leaf.normalise == "scale" and leaf.transform is None):
                    continue
                if scenario.population is None or fid not in scenario.population.leaves:
                    raise ValueError(f"{scenario.key}: factor {fid!r} is normalised over a "
                                     "population, but none was attached")
                stats = scenario.population.leaves[fid]
                affine = leaf.normalise == "minmax" and (
                    leaf.transform is None or leaf.transform.log_offset is None)
                if affine:
                    lo[i], hi[i] = stats.low, stats.high  # winsorising is the [0, 1] clip
                    continue
                transforms.append(LeafTransform(
                    col=i, log_offset=leaf.transform.log_offset if leaf.transform else None,
                    winsorise=(stats.low, stats.high) if leaf.transform and
                    leaf.transform.winsorise else None, rule=leaf.normalise,
                    low=stats.low, high=stats.high, mean=stats.mean, std=stats.std,
                    values=np.array(stats.values), reverse=bool(columns.reverse[i])))
        return cls(
            ids=columns.ids, is_risk=columns.is_risk, scale_min=lo, scale_max=hi,
            reverse=columns.reverse, weights=_leaf_weights(tree),
            low=np.array([e.low for e in est], dtype=float),
            mode=np.array([e.mode for e in est], dtype=float),
            high=np.array([e.high for e in est], dtype=float),
            point=np.array([e.point for e in est], dtype=float),
            bands=tree.bands,
            tree=tree,
            transforms=tuple(transforms),
        )._same_scales(columns)


@dataclass(frozen=True)
class _FactorColumns:
    """What a scenario's arrays take from its factors alone, whatever the estimates: the
    same for a partnership's variants, which estimate the same factors."""

    ids: tuple[str, ...]
    is_risk: NDArray[np.bool_]
    scale_min: FloatArray
    scale_max: FloatArray
    reverse: NDArray[np.bool_]

    @cached_property
    def unit_map(self) -> tuple[FloatArray, FloatArray]:
        slope, intercept = unit_map(self.reverse, self.scale_min, self.scale_max)
        slope.flags.writeable = intercept.flags.writeable = False  # shared, as the columns
        return slope, intercept


def unit_map(reverse: NDArray[np.bool_], scale_min: FloatArray, scale_max: FloatArray
             ) -> tuple[FloatArray, FloatArray]:
    """Each column's slope and intercept into [0, 1]: ``(x - min) / (max - min)``, or
    ``(max - x) / (max - min)`` where higher values mean less."""
    span = scale_max - scale_min
    return np.where(reverse, -1.0, 1.0) / span, np.where(reverse, scale_max, -scale_min) / span


# by the factor objects' ids; each entry holds its factors, so no id is reused while it is kept
_COLUMNS: dict[tuple[int, ...], tuple[tuple[Factor, ...], _FactorColumns]] = {}
_COLUMNS_MAX = 4096


def _factor_columns(factors: tuple[Factor, ...]) -> _FactorColumns:
    """The factors' columns, made once for a set of factor objects (a catalogue's, shared by
    its scenarios): a fifth of building a scenario's arrays."""
    key = tuple(map(id, factors))
    hit = _COLUMNS.get(key)
    if hit is not None:
        return hit[1]
    columns = _FactorColumns(
        ids=tuple(f.id for f in factors),
        is_risk=np.array([f.kind == "risk" for f in factors], dtype=bool),
        scale_min=np.array([f.scale.min for f in factors], dtype=float),
        scale_max=np.array([f.scale.max for f in factors], dtype=float),
        reverse=np.array([f.higher_means == "less" for f in factors], dtype=bool))
    for value in vars(columns).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False  # shared by every scenario of these factors
    if len(_COLUMNS) >= _COLUMNS_MAX:
        _COLUMNS.clear()
    _COLUMNS[key] = (factors, columns)
    return columns


_ARRAYS: dict[int, tuple[weakref.ref[Scenario], ModelArrays]] = {}

Built = TypeVar("Built")


def per_scenario(store: dict[int, tuple[weakref.ref[Scenario], Built]], scenario: Scenario,
                 build: Callable[[Scenario], Built]) -> Built:
    """``build(scenario)``, once per scenario object (models are not hashable, and a value
    kept on one would be copied with it): kept in ``store`` by the object's id until the
    object is dropped."""
    key = id(scenario)
    hit = store.get(key)
    if hit is not None and hit[0]() is scenario:
        return hit[1]
    value = build(scenario)

    def forget(_: weakref.ref[Scenario]) -> None:
        # dropped with the scenario (its id cannot be reused before this runs)
        store.pop(key, None)

    store[key] = (weakref.ref(scenario, forget), value)
    return value


def _leaf_weights(tree: CompiledTree) -> FloatArray:
    weights = np.zeros(tree.k)
    for node in tree.nodes:
        weights[node.leaf_cols] = node.child_weights[:node.leaf_cols.size]
    return weights


@dataclass(frozen=True)
class Affine:
    """Each column's map ``x * slope + intercept`` into [0, 1] from values other than the raw
    ones (a Monte Carlo kernel's standard Beta draws,
    :func:`riskengine.simulation.direct_affine`), and
    whether clipping the result to [0, 1] could change any value."""

    slope: FloatArray
    intercept: FloatArray
    clip: bool


def normalise(raw: FloatArray, arrays: ModelArrays, out: FloatArray | None = None,
              affine: Affine | None = None) -> FloatArray:
    """Raw values on each factor's scale -> presence in [0, 1] (step 2 of MODEL.md).

    ``(x - min) / (max - min)``, or ``(max - x) / (max - min)`` for ``higher_means: less``
    (the same as ``1 - s``), written as one multiply-add so a large sample matrix is passed over
    twice, not five times. ``out=raw`` normalises a scratch matrix in place. Columns normalised
    over a population by a non-affine rule (log, z-score, rank) are computed first, from the raw
    values, and written over the affine result.

    ``affine``: ``raw`` holds other values than the raw ones, normalised by this map instead
    (a model with such transforms has none: they need the raw values).
    """
    if affine is not None:
        s = np.multiply(raw, affine.slope, out=out)
        s += affine.intercept
        return np.clip(s, 0.0, 1.0, out=s) if affine.clip else s
    special = [(t.col, t.apply(raw[..., t.col])) for t in arrays.transforms]
    s = np.multiply(raw, arrays.slope, out=out)
    s += arrays.intercept
    s = np.clip(s, 0.0, 1.0, out=s)
    for col, values in special:
        s[..., col] = values
    return s


def aggregate(s: FloatArray, arrays: ModelArrays, weights: dict[int, FloatArray] | None = None
              ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The root's score on its display scale and the values of the root's ``risk`` and
    ``opportunity`` children (NaN where the tree has none), for ``s`` of shape (..., k)."""
    return _root_and_sides(arrays.tree, evaluate(arrays.tree, s, weights))


def _root_and_sides(tree: CompiledTree, values: FloatArray
                    ) -> tuple[FloatArray, FloatArray, FloatArray]:
    root = tree.display(values[..., tree.root], tree.root)
    risk, opportunity = tree.root_sides
    nan = np.full(root.shape, np.nan) if risk is None or opportunity is None else root
    r = values[..., risk] if risk is not None else nan
    o = values[..., opportunity] if opportunity is not None else nan
    return root, r, o


BandRule = Bands | tuple[BandSpec, ...]


def band_specs(bands: BandRule) -> tuple[BandSpec, ...]:
    """Named bands from the top of the scale down (a scenario's settings, or a tree's)."""
    if isinstance(bands, Bands):
        return (BandSpec(name="stable", min=bands.stable),
                BandSpec(name="fragile", min=bands.fragile),
                BandSpec(name="unstable", min=0.0))
    return tuple(bands)


def scenario_bands(scenario: Scenario) -> BandRule:
    """The bands a scenario's score is read against: its tree's, else its settings'."""
    if scenario.tree is None:
        return scenario.model.bands
    return tree_bands(scenario.tree)


def has_sides(scenario: Scenario) -> bool:
    """Whether the scenario's tree has the root's ``risk`` and ``opportunity`` children (the
    R and O that outputs report beside the score)."""
    if scenario.tree is None:
        return True
    ids = {child.id for child in scenario.tree.root.children if isinstance(child, TreeNode)}
    return {"risk", "opportunity"} <= ids


def band_names(bands: BandRule) -> tuple[str, ...]:
    return tuple(b.name for b in band_specs(bands))


def band_index(score: FloatArray | float, bands: BandRule) -> NDArray[np.int_]:
    """Index into :func:`band_names` of each score: the first band whose min it reaches."""
    specs = band_specs(bands)
    value = np.asarray(score, dtype=float)
    idx = np.zeros(value.shape, dtype=np.int_)
    for spec in specs[:-1]:
        idx += value < spec.min
    return idx


def band_of(score: float, bands: BandRule) -> str:
    """The band of one score: :func:`band_index`'s rule, on a float (a sixth of the time)."""
    specs = band_specs(bands)
    return specs[sum(score < spec.min for spec in specs[:-1])].name


@dataclass(frozen=True)
class FactorScore:
    id: str
    name: str
    kind: str
    group: str
    value: float
    normalised: float
    weight: float  # normalised within its parent node (within its kind, for the default tree)
    contribution: float
    parent: str = ""  # the tree node it hangs from


def _factor_score(**fields: Any) -> FactorScore:
    """``FactorScore(**fields)``, every field given, in 1.5 µs instead of 3.9: a frozen
    dataclass's ``__init__`` sets each field through ``object.__setattr__``, and a run of
    5,000 scenarios makes 100,000 of them."""
    made = object.__new__(FactorScore)
    vars(made).update(fields)
    return made


@dataclass(frozen=True)
class NodeScore:
    """One inner node of the tree, scored."""

    id: str
    name: str
    parent: str | None
    depth: int
    method: str
    weight: float  # normalised within its parent (as written, for max/min)
    inverted: bool
    value: float  # on the tree's display scale
    normalised: float  # in [0, 1]
    contribution: float  # the sum of its factors' contributions
    coverage: float
    missing: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "missing": list(self.missing)}


@dataclass(frozen=True)
class TreeInfo:
    """Which tree scored a result, and on which population."""

    id: str
    name: str
    scale_min: float
    scale_max: float
    unit: str
    higher_is: str
    bands: tuple[BandSpec, ...]
    population: str | None = None
    population_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name,
                "scale": {"min": self.scale_min, "max": self.scale_max, "unit": self.unit},
                "higher_is": self.higher_is,
                "bands": [{"name": b.name, "min": b.min if math.isfinite(b.min) else None}
                          for b in self.bands],
                "population": None if self.population is None else {
                    "name": self.population, "size": self.population_size}}


@dataclass(frozen=True)
class Result:
    """The deterministic score of one scenario. ``to_dict`` is the JSON contract of MODEL.md.

    ``stability`` is the root's score on the tree's display scale (the stability score for the
    default tree); ``risk_index``/``opportunity_index`` are None for a tree without those nodes.
    """

    scenario: str
    partnership: str
    title: str
    stability: float
    risk_index: float | None
    opportunity_index: float | None
    band: str
    aggregation: str
    risk_share: float
    bands: Bands
    contribution_reference: float
    factors: tuple[FactorScore, ...]
    as_of: str | None = None
    source: str | None = None
    tree: TreeInfo | None = None
    nodes: tuple[NodeScore, ...] = ()
    missing: tuple[str, ...] = ()  # factors of the tree the scenario does not estimate
    catalogue: str | None = None  # the factors folder it was scored with, as shown
    project: str | None = None

    @property
    def key(self) -> str:
        return f"{self.partnership}/{self.scenario}"

    @property
    def score(self) -> float:
        return self.stability

    def to_dict(self) -> dict[str, Any]:
        groups: dict[str, float] = {}
        for f in self.factors:
            groups[f.group] = groups.get(f.group, 0.0) + f.contribution
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "partnership": self.partnership,
            "title": self.title,
            "as_of": self.as_of,
            "stability": self.stability,
            "risk_index": self.risk_index,
            "opportunity_index": self.opportunity_index,
            "band": self.band,
            "catalogue": self.catalogue,
            "project": self.project,
            "model": {
                "aggregation": self.aggregation,
                "risk_share": self.risk_share,
                "bands": self.bands.model_dump(),
                "contribution_reference": self.contribution_reference,
            },
            "factors": [vars(f).copy() for f in self.ranked()],
            "groups": groups,
        }
        if self.tree is not None:
            out["tree"] = self.tree.to_dict()
            out["nodes"] = [n.to_dict() for n in self.nodes]
            out["missing"] = list(self.missing)
        return out

    def ranked(self) -> list[FactorScore]:
        """Factors by decreasing |contribution|, ties by id, so output order is stable."""
        return sorted(self.factors, key=lambda f: (-abs(f.contribution), f.id))

    def to_frame(self) -> Any:
        """The factor table as a pandas DataFrame indexed by factor id."""
        import pandas as pd

        return pd.DataFrame([vars(f) for f in self.ranked()]).set_index("id")

    def nodes_frame(self) -> Any:
        """The tree's nodes (each pillar's value) as a DataFrame indexed by node id."""
        import pandas as pd

        return pd.DataFrame([n.to_dict() for n in self.nodes]).set_index("id")

    def _repr_html_(self) -> str:
        head = f"<p><b>{self.key}</b>: {self.stability:.1f} ({self.band})"
        if self.risk_index is not None and self.opportunity_index is not None:
            head += f", R = {self.risk_index:.3f}, O = {self.opportunity_index:.3f}"
        return head + "</p>" + self.to_frame().to_html(float_format=lambda v: f"{v:.3f}")


def point_stability(scenario: Scenario) -> float:
    """``score(scenario).stability`` without the rest of the result (the same arithmetic, so
    the same number): what a ranking needs before the full scores are made."""
    arrays = ModelArrays.of(scenario)
    return float(_root_and_sides(arrays.tree, evaluate(arrays.tree, normalise(
        arrays.point, arrays), rowwise=True))[0])


def score(scenario: Scenario) -> Result:
    """The deterministic score of a resolved scenario (MODEL.md, "The deterministic score")."""
    return score_many((scenario,))[0]


def score_many(scenarios: Sequence[Scenario]) -> list[Result]:
    """:func:`score` of each scenario, the same numbers, in order.

    Scenarios whose arrays share a linear compiled tree and their factors' scales (a
    partnership's variants; a portfolio estimating the same factors) are normalised,
    evaluated and split into contributions as one matrix: scored a row at a time, numpy's
    cost per call was a third of a ``run`` of 5,000 files. Every step is elementwise or a sum
    in column order within a row (:func:`evaluate`'s ``rowwise``), so a row's numbers do not
    depend on the rows beside it. Other trees, and columns normalised over a population by a
    non-affine rule, are scored a scenario at a time.
    """
    arrays = [ModelArrays.of(s) for s in scenarios]
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, a in enumerate(arrays):
        alone = a.transforms or a.tree.linear_shares is None
        key = (-1, i, 0) if alone else (id(a.tree), id(a.slope), id(a.intercept))
        groups.setdefault(key, []).append(i)
    out: list[Result] = [None] * len(scenarios)  # type: ignore[list-item]  # all set below
    for members in groups.values():
        first = arrays[members[0]]
        tree = first.tree
        s = normalise(np.array([arrays[i].point for i in members]), first)
        values = evaluate(tree, s, rowwise=True)
        stability, r, o = _root_and_sides(tree, values)
        contrib = tree_contributions(tree, s, values)
        rows = zip(s.tolist(), values.tolist(), contrib.tolist(), stability.tolist(),
                   r.tolist(), o.tolist(), strict=True)
        for i, (normalised, nodes, shares, root, risk, opportunity) in zip(members, rows,
                                                                            strict=True):
            out[i] = _result(scenarios[i], arrays[i], normalised, nodes, shares, root, risk,
                             opportunity)
    return out


def _result(scenario: Scenario, arrays: ModelArrays, normalised: list[float],
            normalised_nodes: list[float], contributions: list[float], stability: float,
            r: float, o: float) -> Result:
    """One scenario's :class:`Result` from its row of :func:`score_many`'s matrices."""
    tree = arrays.tree
    parents = tree.column_parents
    # tolist(): the same floats as float(array[i]), without a numpy scalar made per item
    point, weights = arrays.point.tolist(), arrays.weights.tolist()
    factors = tuple(
        _factor_score(id=e.factor.id, name=e.factor.name, kind=e.factor.kind,
                      group=e.factor.group, value=point[i], normalised=normalised[i],
                      weight=weights[i], contribution=contributions[i],
                      parent=parents.get(i, ""))
        for i, e in enumerate(scenario.estimates)
    )
    shown = [float(tree.display(v, j)) if tree.nodes[j].decimals is not None
             else tree.scale.min + tree.span * v  # display's arithmetic, on a float
             for j, v in enumerate(normalised_nodes)]
    nodes = []
    for j, parent, weight, below in tree.outline:
        node = tree.nodes[j]
        nodes.append(NodeScore(
            id=node.id, name=node.name, parent=parent.id if parent else None, depth=node.depth,
            method=node.method, weight=weight, inverted=node.inverted,
            value=shown[j], normalised=normalised_nodes[j],
            # exactly rounded: the same bits whatever order or batch the shares came in
            contribution=math.fsum(map(contributions.__getitem__, below)),
            coverage=node.coverage, missing=node.missing))
    population = scenario.population
    info = TreeInfo(id=tree.id, name=tree.name, scale_min=tree.scale.min,
                    scale_max=tree.scale.max, unit=tree.scale.unit, higher_is=tree.higher_is,
                    bands=tree.bands, population=population.name if population else None,
                    population_size=population.size if population else None)
    missing = tuple(m for n in tree.nodes for m in n.missing)
    return Result(
        scenario=scenario.id, partnership=scenario.partnership, title=scenario.title,
        catalogue=scenario.catalogue, project=scenario.project,
        stability=stability,
        risk_index=None if math.isnan(r) else r,
        opportunity_index=None if math.isnan(o) else o,
        band=band_of(stability, tree.bands),
        aggregation=scenario.model.aggregation, risk_share=scenario.model.risk_share,
        bands=scenario.model.bands,
        contribution_reference=reference_score(tree), factors=factors,
        as_of=scenario.as_of.isoformat() if scenario.as_of else None, source=scenario.source,
        tree=info, nodes=tuple(nodes), missing=missing,
    )
