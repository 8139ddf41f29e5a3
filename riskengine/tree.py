"""The model tree as one vectorised evaluation (MODEL.md, "Version 2 additions").

A tree file (or the default tree built from a scenario's settings) is *compiled* against one
scenario: leaves become columns of the scenario's normalised value matrix ``s`` of shape
``(n, k)``, leaves the scenario does not estimate are dropped and their siblings' weights
renormalised within their own parent, and the nodes are put in post-order. Evaluation is then a
loop over the (few) nodes, each step vectorised over all ``n`` rows; nothing loops over samples.

Arithmetic nodes whose children are all leaves are linear in ``s``: they are evaluated together
as one matrix product, which is exactly the flat formula of MODEL.md for the default tree.

Contributions: every leaf gets a share of ``root - reference`` and the shares sum to it exactly,
whatever the methods on the path. Each node splits its own change from its reference among its
children (arithmetic: the linear shares; geometric kinds: in proportion to the children's log
terms; max/min: all of it to the child that attains the extreme), and a child passes its share
down in proportion to its own split. The reference of a leaf is 0 (none of the factor), of a
geometric node its ideal 1 (where every log term vanishes), of every other node the node's value
at its children's references. For the default tree these are MODEL.md's contributions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
from numpy.typing import NDArray

from riskengine.models import (
    BandSpec,
    DisplayScale,
    Scenario,
    TreeFile,
    TreeLeaf,
    TreeNode,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

GEOMETRIC_EPS = 0.001
LINEAR_METHODS = ("arithmetic",)


class TreeError(ValueError):
    """A tree cannot be evaluated for a scenario (e.g. a node below its ``min_coverage``)."""

    def __init__(self, node: str, message: str) -> None:
        super().__init__(message)
        self.node = node


@dataclass(frozen=True)
class Node:
    """One inner node compiled against a scenario; children are leaves first, then nodes."""

    id: str
    name: str
    method: str
    eps: float
    inverted: bool  # the parent sees 1 - value
    weight: float  # as written, relative to its siblings
    parent: int  # index into CompiledTree.nodes, -1 for the root
    depth: int
    leaf_cols: IntArray  # columns of s
    node_ids: IntArray  # indices into CompiledTree.nodes (all earlier in post-order)
    child_weights: FloatArray  # normalised over present children; multipliers for max/min
    child_inverted: BoolArray
    coverage: float  # share of the written children's weight that is present
    missing: tuple[str, ...]  # children (factor or node ids) left out for missing data
    decimals: int | None = None  # round the display value before the parent uses it

    @property
    def n_children(self) -> int:
        return self.leaf_cols.size + self.node_ids.size


@dataclass(frozen=True)
class LinearShares:
    """A linear tree's contributions as one expression over the leaves: a leaf's share of the
    root's change is its node's root units per unit (weights and signs down the path) times
    its weight times its move from its reference, each as its node sees it."""

    cols: IntArray
    scale: FloatArray  # root units per unit of the leaf's node
    weight: FloatArray  # the leaf's weight in its node
    inverted: BoolArray  # its node sees 1 - value
    reference: FloatArray  # its reference, as its node sees it


@dataclass(frozen=True)
class CompiledTree:
    """A tree ready to evaluate on ``(n, k)`` matrices of one scenario's normalised values."""

    id: str
    name: str
    scale: DisplayScale
    bands: tuple[BandSpec, ...]
    higher_is: str
    k: int  # columns of s (the scenario's estimates, in its order)
    leaf_ids: tuple[str, ...]  # factor id of each column of s
    nodes: tuple[Node, ...]  # post-order: children before parents, the root last
    used_cols: IntArray  # columns some node reads
    parent_of_col: IntArray  # the node each used column hangs from (-1: unused)
    # linear batch: arithmetic nodes over leaves only, value = const + s @ matrix
    linear_nodes: IntArray
    linear_matrix: FloatArray  # (k, len(linear_nodes))
    linear_const: FloatArray
    reference: FloatArray = field(repr=False)  # each node's reference value (see module doc)
    leaf_reference: FloatArray = field(repr=False)  # each column's reference value

    @property
    def root(self) -> int:
        return len(self.nodes) - 1

    @property
    def is_linear(self) -> bool:
        """Every node arithmetic and unrounded: the root is affine in the normalised values."""
        return all(n.method in LINEAR_METHODS and n.decimals is None for n in self.nodes)

    def rounded(self, node: Node, value: FloatArray) -> FloatArray:
        """``value`` in [0, 1] with its display value rounded half up to the node's decimals."""
        if node.decimals is None:
            return value
        unit = 10.0 ** node.decimals
        # half up, as the publishers' spreadsheets do; the 1e-9 undoes binary noise such as
        # 0.7 * 1.5 = 1.0499999999999998
        shown = np.floor(self.display(value) * unit + 0.5 + 1e-9) / unit
        return (shown - self.scale.min) / self.span

    @property
    def span(self) -> float:
        return self.scale.max - self.scale.min

    def display(self, value: FloatArray | float, node: int | None = None) -> FloatArray:
        """Values in [0, 1] on the display scale; for a rounded ``node``, exactly its rounded
        display value (the trip through [0, 1] would leave 2.0 as 1.9999999999999998)."""
        shown = self.scale.min + self.span * np.asarray(value, dtype=float)
        decimals = None if node is None else self.nodes[node].decimals
        if decimals is None:
            return shown
        return np.round(shown, decimals)

    def index(self, node_id: str) -> int:
        for i, node in enumerate(self.nodes):
            if node.id == node_id:
                return i
        raise KeyError(node_id)

    def preorder(self, j: int | None = None) -> list[int]:
        """Node indices from the root down, children in the order written."""
        j = self.root if j is None else j
        out = [j]
        for child in self.nodes[j].node_ids:
            out.extend(self.preorder(int(child)))
        return out

    def descendant_cols(self, j: int) -> IntArray:
        """The columns of s below node ``j``."""
        node = self.nodes[j]
        parts = [node.leaf_cols] + [self.descendant_cols(int(c)) for c in node.node_ids]
        return np.concatenate(parts).astype(np.intp)

    @cached_property
    def outline(self) -> tuple[tuple[int, Node | None, float, tuple[int, ...]], ...]:
        """Each node, root first: its index, its parent, its weight in the parent (1 at the
        root) and the columns below it. The tree's own, whatever the values: found once per
        compiled tree, which a partnership's scenarios share, not once per score."""
        out = []
        for j in self.preorder():
            node = self.nodes[j]
            parent = self.nodes[node.parent] if node.parent >= 0 else None
            if parent is None:
                weight = 1.0
            else:
                position = parent.leaf_cols.size + int(np.flatnonzero(parent.node_ids == j)[0])
                weight = float(parent.child_weights[position])
            out.append((j, parent, weight, tuple(self.descendant_cols(j).tolist())))
        return tuple(out)

    @cached_property
    def linear_shares(self) -> LinearShares | None:
        """What :func:`contributions` needs of a linear tree (:attr:`is_linear`), per used
        column, found once per compiled tree; None for other trees."""
        if not self.is_linear:
            return None
        scale = np.zeros(len(self.nodes))
        scale[self.root] = 1.0
        cols: list[int] = []
        scales: list[float] = []
        weights: list[float] = []
        flipped: list[bool] = []
        for j in range(len(self.nodes) - 1, -1, -1):  # parents before children
            node = self.nodes[j]
            w, nl = node.child_weights, node.leaf_cols.size
            cols += node.leaf_cols.tolist()
            scales += [float(scale[j])] * nl
            weights += w[:nl].tolist()
            flipped += node.child_inverted[:nl].tolist()
            for c, child in enumerate(node.node_ids):
                sign = -1.0 if node.child_inverted[nl + c] else 1.0
                # the arithmetic of contributions' walk, so the same numbers
                scale[child] = scale[j] * w[nl + c] * sign
        at = np.array(cols, dtype=np.intp)
        inverted = np.array(flipped, dtype=bool)
        reference = self.leaf_reference[at]
        return LinearShares(at, np.array(scales), np.array(weights), inverted,
                            np.where(inverted, 1.0 - reference, reference))

    @cached_property
    def linear_done(self) -> frozenset[int]:
        """:attr:`linear_nodes` as a set: the nodes :func:`evaluate` finds in one product."""
        return frozenset(self.linear_nodes.tolist())

    @cached_property
    def root_sides(self) -> tuple[int | None, int | None]:
        """The indices of the root's ``risk`` and ``opportunity`` children (None: not there)."""
        found = {n.id: j for j, n in enumerate(self.nodes) if n.parent == self.root}
        return found.get("risk"), found.get("opportunity")

    @cached_property
    def column_parents(self) -> dict[int, str]:
        """The id of the node each used column hangs from."""
        return {int(col): self.nodes[int(p)].id for col, p in enumerate(self.parent_of_col)
                if p >= 0}


# ---------------------------------------------------------------------------------------------
# the default tree


def default_tree(scenario: Scenario) -> TreeFile:
    """MODEL.md's formula written as a tree, from the scenario's estimates and settings.

    Scenarios with the same settings and the same weighted factors get the same tree object,
    so its compiled form (:func:`compile_tree`, cached by tree) is shared: a partnership's
    variants usually change estimates, not which factors count."""
    settings = scenario.model
    return _default_tree(settings.aggregation, float(settings.risk_share),
                         float(settings.bands.stable), float(settings.bands.fragile),
                         tuple((e.factor.id, e.factor.kind, float(e.weight))
                               for e in scenario.estimates))


@lru_cache(maxsize=1024)
def _default_tree(aggregation: str, beta: float, stable: float, fragile: float,
                  factors: tuple[tuple[str, str, float], ...]) -> TreeFile:
    geometric = aggregation == "geometric"

    def kind_node(kind: str, inverted: bool, weight: float) -> TreeNode:
        method = ("geometric_complements" if kind == "risk" else "geometric") if geometric \
            else "arithmetic"
        leaves = [TreeLeaf(factor=fid, weight=w)
                  for fid, k, w in factors if k == kind and w > 0]
        return TreeNode.model_construct(
            id=kind, name=kind.capitalize(), method=method, weight=weight, inverted=inverted,
            eps=GEOMETRIC_EPS, min_coverage=0.0, description=None, children=leaves)

    root = TreeNode.model_construct(
        id="stability", name="Stability", method="geometric" if geometric else "arithmetic",
        weight=1.0, inverted=False, eps=GEOMETRIC_EPS, min_coverage=0.0, description=None,
        children=[kind_node("risk", True, beta), kind_node("opportunity", False, 1.0 - beta)])
    return TreeFile.model_construct(
        id="default", name="Partnership stability (MODEL.md)",
        description="Risk and opportunity indices combined by the scenario's aggregation.",
        scale=DisplayScale(min=0.0, max=100.0, unit="stability"),
        bands=[BandSpec(name="stable", min=stable),
               BandSpec(name="fragile", min=fragile),
               BandSpec(name="unstable", min=0.0)],
        higher_is="better", root=root)


def tree_of(scenario: Scenario) -> TreeFile:
    return scenario.tree if scenario.tree is not None else default_tree(scenario)


# ---------------------------------------------------------------------------------------------
# compiling


_COMPILED: dict[tuple[int, tuple[str, ...]], tuple[TreeFile, CompiledTree]] = {}
_COMPILED_MAX = 4096


def compile_tree(tree: TreeFile, leaf_ids: Sequence[str]) -> CompiledTree:
    """Compile ``tree`` for a scenario whose normalised matrix has columns ``leaf_ids``.

    Raises :class:`TreeError` if a node is below its ``min_coverage`` or the root has nothing
    left to score. Compiled trees are cached: the scenarios of one index share one tree object
    and mostly one set of columns.
    """
    key = (id(tree), tuple(leaf_ids))
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is tree:
        return hit[1]
    compiled = _compile(tree, leaf_ids)
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[key] = (tree, compiled)  # the tree is held, so its id is not reused
    return compiled


def _compile(tree: TreeFile, leaf_ids: Sequence[str]) -> CompiledTree:
    column = {fid: i for i, fid in enumerate(leaf_ids)}
    nodes: list[Node] = []
    parent_of_col = np.full(len(leaf_ids), -1, dtype=np.intp)

    def visit(spec: TreeNode, depth: int) -> int | None:
        leaf_cols, leaf_w, leaf_inv, node_ids, node_w, node_inv = [], [], [], [], [], []
        missing: list[str] = []
        written = 0.0
        for child in spec.children:
            written += child.weight
            if isinstance(child, TreeLeaf):
                if child.factor in column:
                    leaf_cols.append(column[child.factor])
                    leaf_w.append(child.weight)
                    leaf_inv.append(child.inverted)
                else:
                    missing.append(child.factor)
            else:
                index = visit(child, depth + 1)
                if index is None:
                    missing.append(child.id)
                else:
                    node_ids.append(index)
                    node_w.append(child.weight)
                    node_inv.append(child.inverted)
        weights = np.array(leaf_w + node_w, dtype=float)
        if weights.size == 0:
            return None
        coverage = float(weights.sum() / written) if written > 0 else 0.0
        if coverage + 1e-12 < spec.min_coverage:
            raise TreeError(spec.id, f"node {spec.id!r} has {coverage:.0%} of its children's "
                            f"weight present, below its min_coverage {spec.min_coverage:.0%} "
                            f"(missing: {', '.join(missing)})")
        if spec.method not in ("max", "min"):
            total = weights.sum()
            weights = weights / total if total > 0 else np.full(weights.size, 1 / weights.size)
        for col in leaf_cols:
            parent_of_col[col] = len(nodes)  # provisional: fixed below once appended
        nodes.append(Node(
            id=spec.id, name=spec.label, method=spec.method, eps=spec.eps,
            inverted=spec.inverted, weight=spec.weight, parent=-1, depth=depth,
            leaf_cols=np.array(leaf_cols, dtype=np.intp),
            node_ids=np.array(node_ids, dtype=np.intp), child_weights=weights,
            child_inverted=np.array(leaf_inv + node_inv, dtype=bool), coverage=coverage,
            missing=tuple(missing), decimals=spec.round))
        return len(nodes) - 1

    root = visit(tree.root, 0)
    if root is None:
        raise TreeError(tree.root.id, "the scenario estimates none of the tree's factors")
    parents = {int(c): j for j, n in enumerate(nodes) for c in n.node_ids}
    nodes = [Node(**{**vars(n), "parent": parents.get(j, -1)}) for j, n in enumerate(nodes)]

    linear = [j for j, n in enumerate(nodes) if n.method == "arithmetic" and n.node_ids.size == 0
              and n.decimals is None]
    matrix = np.zeros((len(leaf_ids), len(linear)))
    const = np.zeros(len(linear))
    for m, j in enumerate(linear):
        node = nodes[j]
        sign = np.where(node.child_inverted, -1.0, 1.0)
        np.add.at(matrix[:, m], node.leaf_cols, sign * node.child_weights)
        const[m] = float(np.sum(np.where(node.child_inverted, node.child_weights, 0.0)))
    used = np.flatnonzero(parent_of_col >= 0).astype(np.intp)
    compiled = CompiledTree(
        id=tree.id, name=tree.name, scale=tree.scale,
        bands=tree_bands(tree),
        higher_is=tree.higher_is, k=len(leaf_ids), leaf_ids=tuple(leaf_ids),
        nodes=tuple(nodes), used_cols=used, parent_of_col=parent_of_col,
        linear_nodes=np.array(linear, dtype=np.intp), linear_matrix=matrix, linear_const=const,
        reference=np.zeros(len(nodes)), leaf_reference=np.zeros(len(leaf_ids)))
    leaf_reference = _leaf_references(compiled)
    object.__setattr__(compiled, "leaf_reference", leaf_reference)
    object.__setattr__(compiled, "reference", evaluate(compiled, leaf_reference))
    return compiled


def tree_bands(tree: TreeFile) -> tuple[BandSpec, ...]:
    """The tree's bands, or thirds of its display scale when it names none."""
    return tuple(tree.bands or default_bands(tree.scale, tree.higher_is))


def default_bands(scale: DisplayScale, higher_is: str) -> list[BandSpec]:
    """Thirds of the display scale when a tree names no bands."""
    third = (scale.max - scale.min) / 3
    names = ("high", "medium", "low")
    return [BandSpec(name=names[0], min=scale.min + 2 * third),
            BandSpec(name=names[1], min=scale.min + third),
            BandSpec(name=names[2], min=scale.min)]


# ---------------------------------------------------------------------------------------------
# evaluating


def _seen(values: FloatArray, inverted: BoolArray) -> FloatArray:
    return np.where(inverted, 1.0 - values, values) if inverted.any() else values


def _children(tree: CompiledTree, node: Node, s: FloatArray, values: FloatArray) -> FloatArray:
    """The node's children's values as its parent sees them, shape (n, c)."""
    x = np.concatenate([s[:, node.leaf_cols], values[:, node.node_ids]], axis=1) \
        if node.node_ids.size and node.leaf_cols.size else (
            s[:, node.leaf_cols] if node.leaf_cols.size else values[:, node.node_ids])
    return _seen(x, node.child_inverted)


def combine(method: str, x: FloatArray, w: FloatArray, eps: float,
            rowwise: bool = False) -> FloatArray:
    """One node's rule over its children's values ``x`` (n, c) with weights ``w`` ((c,) or
    (n, c), normalised except for max/min). ``rowwise``: see :func:`evaluate`."""
    if method == "arithmetic":
        if rowwise:
            mean = _in_column_order(x * w)
        else:
            mean = x @ w if w.ndim == 1 else np.einsum("ij,ij->i", x, w)
        return np.clip(mean, 0.0, 1.0, out=mean)
    with np.errstate(divide="ignore"):
        if method == "geometric":
            return np.exp(np.sum(w * np.log(np.maximum(x, eps)), axis=1))
        if method == "geometric_complements":
            return 1.0 - np.exp(np.sum(w * np.log(np.maximum(1.0 - x, eps)), axis=1))
    if method == "max":
        return np.max(w * x, axis=1)
    if method == "min":
        return np.min(w * x, axis=1)
    raise ValueError(f"unknown method {method!r}")


def _in_column_order(terms: FloatArray) -> FloatArray:
    """``terms`` (n, c, ...) summed over axis 1 from its first column to its last. Written
    out, a loop over columns, because numpy's own reductions pick their order from the
    array's shape and memory layout (a row of a fancy-indexed copy summed otherwise than the
    same row alone)."""
    total = terms[:, 0].copy()
    for column in range(1, terms.shape[1]):
        total += terms[:, column]
    return total


def evaluate(tree: CompiledTree, s: FloatArray,
             weights: dict[int, FloatArray] | None = None, rowwise: bool = False
             ) -> FloatArray:
    """Every node's value in [0, 1] for normalised values ``s`` of shape (n, k) or (k,).

    Returns shape (n, nodes) (or (nodes,) for one row), in :attr:`CompiledTree.nodes` order.
    ``weights`` maps a node index to per-row child weights (n, c) replacing the node's own
    (weight robustness); they must already be normalised as the node's method expects.

    ``rowwise``: each weighted sum is the products added in column order, so a row's values
    are the same bits whatever rows share the call and whichever BLAS numpy has: what the
    deterministic scores use (one row through BLAS is a gemv, many a gemm, and the two round
    differently in about three rows of four; a fused multiply-add differs again). Sample
    matrices keep the BLAS product, several times faster over many rows.
    """
    one_row = s.ndim == 1
    s2 = s[None, :] if one_row else s
    values = np.empty((s2.shape[0], len(tree.nodes)))
    batched, matrix, const = tree.linear_nodes, tree.linear_matrix, tree.linear_const
    done = tree.linear_done
    if weights:
        batched = np.array([j for j in batched if int(j) not in weights], dtype=np.intp)
        cols = np.searchsorted(tree.linear_nodes, batched)
        matrix, const = matrix[:, cols], const[cols]
        done = frozenset(batched.tolist())
    if batched.size:
        # one pass over the samples for every linear node (the risk and opportunity indices of
        # the default tree are one (n, k) @ (k, 2) product, as in the flat formula)
        linear = _in_column_order(s2[:, :, None] * matrix) if rowwise else s2 @ matrix
        linear += const
        # Weights that sum to 1 up to rounding can carry a mean of values in [0, 1] a hair
        # past 1 (1.0000000000000002): every node's value is in [0, 1]. (Clipped before it is
        # written: `out=values[:, batched]` clipped a copy, which the fancy index makes.)
        values[:, batched] = np.clip(linear, 0.0, 1.0, out=linear)
    for j, node in enumerate(tree.nodes):
        if j in done:
            continue
        w = node.child_weights if not weights or j not in weights else weights[j]
        values[:, j] = tree.rounded(
            node, combine(node.method, _children(tree, node, s2, values), w, node.eps,
                          rowwise))
    return values[0] if one_row else values


def _leaf_references(tree: CompiledTree) -> FloatArray:
    """Each column's value at the tree's reference point.

    Going down from the root, a node asks its children for the value (as it sees them) at which
    its own rule is neutral: a geometric node 1, where every log term vanishes; a geometric of
    complements 0; an arithmetic, max or min node whatever its own parent asked of it. A leaf
    asked nothing is at 0, none of the factor. A tree whose higher scores are worse (a risk
    index) asks its root for 0, its best. For the default tree this is MODEL.md's point
    of reference: every factor at 0 (arithmetic: S = 100 beta), or risks at 0 and
    opportunities at 1 (geometric: S = 100).
    """
    leaf_ref = np.zeros(tree.k)
    # a risk index (higher is worse) is measured from its best, 0: no risk at all
    wanted: dict[int, float | None] = {tree.root: 0.0 if tree.higher_is == "worse" else None}
    for j in tree.preorder():
        node = tree.nodes[j]
        own = wanted[j]
        seen = own if own is not None else {"geometric": 1.0,
                                            "geometric_complements": 0.0}.get(node.method)
        nl = node.leaf_cols.size
        for c, col in enumerate(node.leaf_cols):
            if seen is not None:
                leaf_ref[col] = 1.0 - seen if node.child_inverted[c] else seen
        for c, child in enumerate(node.node_ids):
            wanted[int(child)] = None if seen is None else (
                1.0 - seen if node.child_inverted[nl + c] else seen)
    return leaf_ref


def reference_score(tree: CompiledTree) -> float:
    """The root's reference on the display scale: contributions sum to root minus this."""
    return float(tree.display(tree.reference[tree.root], tree.root))


def contributions(tree: CompiledTree, s: FloatArray, values: FloatArray,
                  weights: dict[int, FloatArray] | None = None) -> FloatArray:
    """Each leaf's share of ``root - reference`` on the display scale, shape like ``s``.

    Columns of factors the tree does not use get 0. Rows sum exactly (to rounding) to the
    root's display value minus :func:`reference_score`.
    """
    one_row = s.ndim == 1
    s2 = s[None, :] if one_row else s
    v2 = values[None, :] if one_row else values
    n = s2.shape[0]
    linear = tree.linear_shares if not weights else None
    if linear is not None:
        # The walk below, all nodes at once: for arithmetic nodes a leaf's share depends on
        # its own value only. The same operations element by element, so the same numbers
        # (the walk took a third of scoring one scenario, through small arrays per node).
        x = s2[:, linear.cols]
        x = np.where(linear.inverted, 1.0 - x, x) if linear.inverted.any() else x
        out = np.zeros((n, tree.k))
        out[:, linear.cols] += linear.scale * (linear.weight * (x - linear.reference))
        out *= tree.span
        return out[0] if one_row else out
    ref = tree.reference
    scale = np.zeros((n, len(tree.nodes)))  # root units per unit of the node's own change
    residue = np.zeros((n, len(tree.nodes)))  # shares a node could not split (its change is 0)
    out = np.zeros((n, tree.k))
    scale[:, tree.root] = 1.0
    for j in range(len(tree.nodes) - 1, -1, -1):  # parents before children
        node = tree.nodes[j]
        w = node.child_weights if not weights or j not in weights else weights[j]
        x = _children(tree, node, s2, v2)
        child_ref = np.concatenate([tree.leaf_reference[node.leaf_cols], ref[node.node_ids]])
        r = np.where(node.child_inverted, 1.0 - child_ref, child_ref)
        own = v2[:, j] - ref[j]
        shares = _split(node.method, x, r, w, node.eps, own)  # (n, c), rows sum to own
        if node.decimals is not None:
            # rounding moved the node off its children's combination: spread the difference
            # by weight so the shares still sum to the node's own change
            wn = w / w.sum(axis=-1, keepdims=True)
            shares = shares + (own - shares.sum(axis=1))[:, None] * wn
        amounts = scale[:, j:j + 1] * shares
        nl = node.leaf_cols.size
        out[:, node.leaf_cols] += amounts[:, :nl]
        for c, child in enumerate(node.node_ids):
            a = amounts[:, nl + c]
            if node.method == "arithmetic" and node.decimals is None:
                sign = -1.0 if node.child_inverted[nl + c] else 1.0
                wc = w[nl + c] if w.ndim == 1 else w[:, nl + c]
                scale[:, child] = scale[:, j] * wc * sign
            else:
                delta = v2[:, child] - ref[child]
                moved = delta != 0
                with np.errstate(divide="ignore", invalid="ignore"):
                    scale[:, child] = np.where(moved, a / np.where(moved, delta, 1.0), 0.0)
                residue[:, child] += np.where(moved, 0.0, a)
    for moved_node in np.flatnonzero(residue.any(axis=0)).tolist():
        cols = tree.descendant_cols(moved_node)
        out[:, cols] += residue[:, moved_node:moved_node + 1] / cols.size
    out *= tree.span
    return out[0] if one_row else out


SHAPLEY_MAX_CHILDREN = 12  # 4,096 evaluations of one node's rule per row at most


def _split(method: str, x: FloatArray, r: FloatArray, w: FloatArray, eps: float,
           own: FloatArray) -> FloatArray:
    """A node's change from its reference, ``own`` (n,), split among its children (n, c),
    each child measured from its own reference ``r`` (seen values)."""
    if method == "arithmetic":
        return w * (x - r)
    if method in ("max", "min"):
        # A rise goes to the child now at the extreme, a fall to the child that was at it in
        # the reference: either way that child moved at least as far as the node did.
        pick_now = np.argmax(w * x, axis=1) if method == "max" else np.argmin(w * x, axis=1)
        pick_ref = int(np.argmax(w * r) if method == "max" else np.argmin(w * r))
        rising = own >= 0 if method == "max" else own <= 0
        pick = np.where(rising, pick_now, pick_ref)
        shares = np.zeros_like(x)
        shares[np.arange(x.shape[0]), pick] = own
        return shares
    # The geometric kinds: each child's share of the change in log terms, the standard
    # decomposition of a geometric mean. Where a log term is infinite (eps 0 and a value or
    # reference on the boundary) it is undefined, and those rows use the Shapley split.
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "geometric":
            terms = w * (np.log(np.maximum(x, eps)) - np.log(np.maximum(r, eps)))
        else:
            terms = w * (np.log(np.maximum(1.0 - x, eps))
                         - np.log(np.maximum(1.0 - r, eps)))
        total = terms.sum(axis=1, keepdims=True)
        share = np.where(total != 0, terms / np.where(total != 0, total, 1.0), 0.0)
    shares = own[:, None] * share
    bad = ~np.isfinite(terms).all(axis=1)
    if bad.any():
        shares[bad] = _shapley(method, x[bad], r, w if w.ndim == 1 else w[bad], eps)
    return shares


def _shapley(method: str, x: FloatArray, r: FloatArray, w: FloatArray, eps: float
             ) -> FloatArray:
    """Shapley values of a node's change when its children move from ``r`` to ``x``: each
    child's marginal effect averaged over the orders of moving. They sum exactly to the rule
    at ``x`` minus the rule at ``r``."""
    from math import factorial

    c = x.shape[1]
    if c > SHAPLEY_MAX_CHILDREN:
        raise ValueError(f"a {method} node with {c} children and a reference on the boundary "
                         f"cannot be split (at most {SHAPLEY_MAX_CHILDREN} children)")
    masks = (np.arange(2**c)[:, None] >> np.arange(c)[None, :]) & 1  # (2^c, c)
    size = masks.sum(axis=1)
    values = np.stack([combine(method, np.where(m.astype(bool), x, r), w, eps) for m in masks],
                      axis=1)  # (n, 2^c)
    out = np.zeros_like(x)
    for i in range(c):
        without = np.flatnonzero(masks[:, i] == 0)
        with_i = without + (1 << i)
        weight = np.array([factorial(int(k)) * factorial(c - int(k) - 1) / factorial(c)
                           for k in size[without]])
        out[:, i] = (values[:, with_i] - values[:, without]) @ weight
    return out


def linear_coefficients(tree: CompiledTree) -> tuple[float, FloatArray]:
    """For a linear tree: root display = c0 + s @ c. Found by evaluating the basis rows."""
    if not tree.is_linear:
        raise ValueError(f"tree {tree.id!r} is not linear in its inputs")
    basis = np.vstack([np.zeros(tree.k), np.eye(tree.k)])
    root = tree.display(evaluate(tree, basis)[:, tree.root], tree.root)
    return float(root[0]), root[1:] - root[0]
