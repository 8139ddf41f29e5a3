"""The tree kernel against an independent, plain-Python reading of MODEL.md's tree rules."""

from __future__ import annotations

import math
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.models import TreeFile, TreeLeaf, TreeNode
from riskengine.tree import (
    CompiledTree,
    TreeError,
    compile_tree,
    contributions,
    evaluate,
    linear_coefficients,
    reference_score,
)

METHODS = ("arithmetic", "geometric", "geometric_complements", "max", "min")


def by_hand(node: TreeNode, s: dict[str, float]) -> float | None:
    """A node's value from MODEL.md's rules, written as a reader would, or None if missing."""
    kids: list[tuple[float, float, bool]] = []
    for child in node.children:
        if isinstance(child, TreeLeaf):
            if child.factor in s:
                kids.append((s[child.factor], child.weight, child.inverted))
        else:
            value = by_hand(child, s)
            if value is not None:
                kids.append((value, child.weight, child.inverted))
    if not kids:
        return None
    values = [1 - v if inv else v for v, _, inv in kids]
    weights = [w for _, w, _ in kids]
    if node.method in ("max", "min"):
        pick = max if node.method == "max" else min
        out = pick(w * v for w, v in zip(weights, values, strict=True))
    else:
        total = sum(weights)
        w = [x / total for x in weights]
        if node.method == "arithmetic":
            out = sum(a * b for a, b in zip(w, values, strict=True))
        elif node.method == "geometric":
            out = math.prod(max(v, node.eps) ** a for a, v in zip(w, values, strict=True))
        else:
            out = 1 - math.prod(max(1 - v, node.eps) ** a for a, v in zip(w, values, strict=True))
    if node.round is not None:
        shown = math.floor(out * 100 * 10**node.round + 0.5 + 1e-9) / 10**node.round
        out = shown / 100
    return out


@st.composite
def trees(draw: Any, depth: int = 0, counter: list[int] | None = None,
          methods: tuple[str, ...] = METHODS) -> TreeNode:
    counter = counter if counter is not None else [0]
    counter[0] += 1
    node_id = f"n{counter[0]}"
    method = draw(st.sampled_from(methods))
    # max and min read weights as multipliers, at most 1
    top = 1.0 if method in ("max", "min") else 5.0
    width = draw(st.integers(1, 4))
    children: list[TreeNode | TreeLeaf] = []
    for _ in range(width):
        if depth < 2 and draw(st.booleans()):
            child = draw(trees(depth + 1, counter, methods))
            children.append(child.model_copy(update={"weight": min(child.weight, top)}))
        else:
            counter[0] += 1
            children.append(TreeLeaf(factor=f"f{counter[0]}",
                                     weight=draw(st.floats(0.1, top)),
                                     inverted=draw(st.booleans())))
    return TreeNode(id=node_id, method=method,
                    weight=draw(st.floats(0.1, 5)), inverted=draw(st.booleans()),
                    eps=draw(st.sampled_from([0.001, 0.0])), children=children)


def leaf_ids(node: TreeNode) -> list[str]:
    out: list[str] = []
    for child in node.children:
        out.extend([child.factor] if isinstance(child, TreeLeaf) else leaf_ids(child))
    return out


def as_file(root: TreeNode, higher_is: str = "better") -> TreeFile:
    return TreeFile(id="t", name="T", description="test", root=root,
                    higher_is=higher_is)  # type: ignore[arg-type]


@settings(max_examples=50)
@given(root=trees(), data=st.data())
def test_evaluation_matches_the_rules_and_contributions_sum_exactly(
        root: TreeNode, data: st.DataObject) -> None:
    ids = leaf_ids(root)
    present = [f for f in ids if data.draw(st.booleans(), label=f"has {f}")] or ids[:1]
    rows = np.array([[data.draw(st.floats(0, 1), label=f"{f}[{r}]") for f in present]
                     for r in range(3)])
    tree = as_file(root, data.draw(st.sampled_from(["better", "worse"]), label="higher_is"))
    try:
        compiled = compile_tree(tree, present)
    except TreeError:
        assert by_hand(root, dict(zip(present, rows[0], strict=True))) is None
        return
    values = evaluate(compiled, rows)
    for r in range(rows.shape[0]):
        expected = by_hand(root, dict(zip(present, rows[r], strict=True)))
        assert expected is not None
        assert values[r, compiled.root] == pytest.approx(expected, abs=1e-9)
    contrib = contributions(compiled, rows, values)
    root_display = compiled.display(values[:, compiled.root])
    np.testing.assert_allclose(contrib.sum(axis=1), root_display - reference_score(compiled),
                               atol=1e-8)
    assert np.isfinite(contrib).all()


def test_missing_leaf_renormalises_within_its_own_parent() -> None:
    root = TreeNode(id="top", children=[
        TreeNode(id="a", weight=1, children=[TreeLeaf(factor="x", weight=1),
                                             TreeLeaf(factor="y", weight=3)]),
        TreeNode(id="b", weight=1, children=[TreeLeaf(factor="z")])])
    compiled = compile_tree(as_file(root), ["x", "z"])  # y missing
    values = evaluate(compiled, np.array([0.2, 0.6]))
    # a keeps its half of the root: a = x alone, not x and z sharing y's weight
    assert values[compiled.root] == pytest.approx(0.5 * 0.2 + 0.5 * 0.6)
    assert compiled.nodes[compiled.index("a")].missing == ("y",)


def test_min_coverage_refuses_a_thin_node() -> None:
    root = TreeNode(id="top", children=[
        TreeNode(id="a", min_coverage=0.5, children=[TreeLeaf(factor="x", weight=1),
                                                     TreeLeaf(factor="y", weight=3)]),
        TreeLeaf(factor="z")])
    with pytest.raises(TreeError, match="node 'a' has 25%"):
        compile_tree(as_file(root), ["x", "z"])
    assert compile_tree(as_file(root), ["y", "z"]).nodes  # 75 % present is enough


def test_inform_style_max_uses_weights_as_multipliers() -> None:
    root = TreeNode(id="human", method="max", children=[
        TreeLeaf(factor="current", weight=1), TreeLeaf(factor="projected", weight=0.7)])
    compiled = compile_tree(as_file(root), ["current", "projected"])
    assert evaluate(compiled, np.array([0.0, 0.9]))[0] == pytest.approx(0.63)
    assert evaluate(compiled, np.array([0.8, 0.9]))[0] == pytest.approx(0.8)


def test_linear_coefficients_of_a_nested_arithmetic_tree() -> None:
    root = TreeNode(id="top", children=[
        TreeNode(id="risk", inverted=True, weight=1, children=[
            TreeLeaf(factor="a", weight=3), TreeLeaf(factor="b", weight=1)]),
        TreeNode(id="opp", weight=3, children=[TreeLeaf(factor="c")])])
    compiled = compile_tree(as_file(root), ["a", "b", "c"])
    const, coef = linear_coefficients(compiled)
    # 100 * (0.25 * (1 - (0.75 a + 0.25 b)) + 0.75 c)
    assert const == pytest.approx(25.0)
    np.testing.assert_allclose(coef, [-18.75, -6.25, 75.0])


def test_rounded_nodes_keep_contributions_exact() -> None:
    root = TreeNode(id="top", method="geometric", eps=0, round=1, children=[
        TreeNode(id="a", round=1, children=[TreeLeaf(factor="x"), TreeLeaf(factor="y")]),
        TreeLeaf(factor="z")])
    compiled = compile_tree(as_file(root), ["x", "y", "z"])
    s = np.array([0.123, 0.456, 0.789])
    values = evaluate(compiled, s)
    assert compiled.display(values[compiled.index("a")]) == pytest.approx(29.0)  # 28.95 up
    contrib = contributions(compiled, s, values)
    assert contrib.sum() == pytest.approx(compiled.display(values[compiled.root])
                                          - reference_score(compiled), abs=1e-9)


@settings(max_examples=50)
@given(root=trees(methods=("arithmetic",)), data=st.data())
def test_linear_contributions_are_the_walks_to_the_last_bit(
        root: TreeNode, data: st.DataObject) -> None:
    """An arithmetic tree's contributions come from one expression over its leaves
    (CompiledTree.linear_shares): bit for bit the walk down the nodes, signed zeros, missing
    leaves and columns the tree does not use included."""
    ids = leaf_ids(root)
    present = [f for f in ids if data.draw(st.booleans(), label=f"has {f}")] or ids[:1]
    columns = [*present, "unused"]
    value = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0, 1))
    rows = np.array([[data.draw(value, label=f"{f}[{r}]") for f in columns]
                     for r in range(3)])
    tree = as_file(root, data.draw(st.sampled_from(["better", "worse"]), label="higher_is"))
    try:
        compiled = compile_tree(tree, columns)
    except TreeError:
        return
    assert compiled.linear_shares is not None
    values = evaluate(compiled, rows)
    fast = contributions(compiled, rows, values)
    with patch.object(CompiledTree, "linear_shares", property(lambda self: None)):
        walked = contributions(compiled, rows, values)
        one_row = contributions(compiled, rows[0], values[0])
    assert fast.tobytes() == walked.tobytes()
    assert contributions(compiled, rows[0], values[0]).tobytes() == one_row.tobytes()
