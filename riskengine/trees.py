"""Tree files (``models/<id>.yaml``): reading, checking, and the populations they normalise over.

A project keeps its trees in a ``models/`` folder beside ``factors/``. Every function here returns
located problems (file, line, column, field) in the shape :mod:`riskengine.problems` defines;
the evaluation itself is in :mod:`riskengine.tree`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from riskengine.files import parse_file, suggest, yaml_files
from riskengine.models import (
    LeafStatistics,
    Population,
    Scenario,
    TreeFile,
    TreeLeaf,
    TreeNode,
)
from riskengine.problems import Problem, display_path
from riskengine.yamlio import Document, Location

MODELS_DIR = "models"


@dataclass(frozen=True)
class TreeSet:
    """The trees of a project, keyed by id, with where each was read from."""

    trees: dict[str, TreeFile] = field(default_factory=dict)
    docs: dict[str, Document] = field(default_factory=dict)
    root: Path | None = None

    def get(self, tree_id: str) -> TreeFile | None:
        return self.trees.get(tree_id)

    def __contains__(self, tree_id: object) -> bool:
        return tree_id in self.trees

    def __len__(self) -> int:
        return len(self.trees)


def models_dir_for(factors_dir: str | Path) -> Path:
    """The ``models/`` folder of the project whose catalogue is ``factors_dir``."""
    return Path(factors_dir).parent / MODELS_DIR


def is_tree_file(path: Path) -> bool:
    """Tree files sit directly in a ``models/`` folder (a project inside some folder that
    happens to be called ``models`` keeps its scenarios)."""
    return path.parent.name == MODELS_DIR


def walk(node: TreeNode, loc: Location = ("root",)
         ) -> Iterable[tuple[TreeNode | TreeLeaf, Location, tuple[str, ...]]]:
    """Every node and leaf with its location in the file and its ancestors' ids."""
    stack: list[tuple[TreeNode | TreeLeaf, Location, tuple[str, ...]]] = [(node, loc, ())]
    while stack:
        item, where, ancestors = stack.pop()
        yield item, where, ancestors
        if isinstance(item, TreeNode):
            for i, child in reversed(list(enumerate(item.children))):
                stack.append((child, (*where, "children", i), (*ancestors, item.id)))


def leaves(tree: TreeFile) -> list[TreeLeaf]:
    return [item for item, _, _ in walk(tree.root) if isinstance(item, TreeLeaf)]


def structure_problems(tree: TreeFile, doc: Document,
                       factor_ids: Mapping[str, object] | None) -> list[Problem]:
    """Unknown factors, node ids used twice, factors used twice (``factor_ids``: the catalogue;
    None skips the unknown-factor check)."""
    problems: list[Problem] = []
    node_at: dict[str, Location] = {}
    factor_at: dict[str, Location] = {}
    for item, loc, ancestors in walk(tree.root):
        if isinstance(item, TreeNode):
            if item.id in ancestors:
                problems.append(doc.problem((*loc, "id"), f"node {item.id!r} is inside a node "
                                            "of the same id: a tree cannot contain itself",
                                            "RE702"))
            elif item.id in node_at:
                problems.append(doc.problem((*loc, "id"), f"node id {item.id!r} is already used "
                                            f"at {doc.shown}:{doc.position(node_at[item.id])[0]}",
                                            "RE702"))
            node_at.setdefault(item.id, (*loc, "id"))
            continue
        if factor_ids is not None and item.factor not in factor_ids:
            problems.append(replace(
                doc.problem((*loc, "factor"), f"unknown factor {item.factor!r}"
                            f"{suggest(item.factor, factor_ids)}", "RE701"),
                subject=item.factor))
        if item.factor in factor_at:
            problems.append(doc.problem((*loc, "factor"), f"factor {item.factor!r} is already "
                                        f"used at line {doc.position(factor_at[item.factor])[0]}"
                                        "; a factor may hang from one node only", "RE705"))
        factor_at.setdefault(item.factor, (*loc, "factor"))
    return problems


def _specific(problem: Problem) -> Problem:
    """Pydantic's generic findings on a tree file, given the tree's own codes."""
    import dataclasses

    if problem.code == "RE102" and problem.field.endswith("children") and \
            "at least 1" in problem.message:
        return dataclasses.replace(problem, code="RE703",
                                   message="a node needs at least one child")
    not_positive = problem.field.endswith("weight") and "greater than 0" in problem.message
    if problem.code == "RE102" and (not_positive or "is a multiplier" in problem.message):
        return dataclasses.replace(problem, code="RE704")
    return problem


def check_tree_file(path: Path, factor_ids: Mapping[str, object] | None
                    ) -> tuple[TreeFile | None, Document | None, list[Problem]]:
    tree, doc, problems = parse_file(path, TreeFile)
    problems = [_specific(p) for p in problems]
    if tree is None or doc is None:
        return None, doc, problems
    found = structure_problems(tree, doc, factor_ids)
    return (None if found else tree), doc, problems + found


def check_trees(folder: str | Path, factor_ids: Mapping[str, object] | None
                ) -> tuple[TreeSet, list[Problem]]:
    """Read every tree file in ``folder`` (absent folder: no trees, no problems)."""
    root = Path(folder)
    return check_tree_files(yaml_files(root) if root.is_dir() else [], factor_ids, root)


def check_tree_files(paths: Iterable[Path], factor_ids: Mapping[str, object] | None,
                     root: Path | None = None) -> tuple[TreeSet, list[Problem]]:
    """Read tree files into one set: every problem, and a tree id given twice is RE202 (the
    rule for loading and for ``validate``)."""
    trees = TreeSet(root=root)
    problems: list[Problem] = []
    for path in paths:
        tree, doc, found = check_tree_file(path, factor_ids)
        problems.extend(found)
        if tree is None or doc is None:
            continue
        if tree.id in trees.trees:
            problems.append(doc.problem(("id",), f"tree id {tree.id!r} is already defined in "
                                        f"{trees.docs[tree.id].shown}", "RE202"))
            continue
        trees.trees[tree.id] = tree
        trees.docs[tree.id] = doc
    return trees, problems


# ---------------------------------------------------------------------------------------------
# a scenario against its tree


def scenario_tree_problems(scenario: Scenario, doc: Document, tree_loc: Location
                           ) -> list[Problem]:
    """Coverage of every node for this scenario, and estimates the tree does not use."""
    from riskengine.tree import TreeError, compile_tree

    assert scenario.tree is not None
    ids = [e.factor.id for e in scenario.estimates]
    problems: list[Problem] = []
    try:
        compile_tree(scenario.tree, ids)
    except TreeError as exc:
        problems.append(doc.problem(tree_loc, f"tree {scenario.tree.id!r}: {exc}", "RE707"))
    used = {leaf.factor for leaf in leaves(scenario.tree)}
    for factor_id in ids:
        if factor_id not in used:
            problems.append(doc.problem(("factors", factor_id), f"factor {factor_id!r} is not "
                                        f"in tree {scenario.tree.id!r}, so it does not count",
                                        "RE709", "warning"))
    return problems


# ---------------------------------------------------------------------------------------------
# populations


def needs_population(tree: TreeFile | None) -> bool:
    return tree is not None and any(leaf.normalise != "scale" or leaf.transform is not None
                                    for leaf in leaves(tree))


def population_of(members: Sequence[Scenario], tree: TreeFile, name: str
                  ) -> tuple[Population | None, list[str]]:
    """Statistics of each population-normalised leaf over ``members``' point values.

    Returns the population and, for leaves that cannot be normalised over it, why.
    """
    import numpy as np

    stats: dict[str, LeafStatistics] = {}
    reasons: list[str] = []
    for leaf in leaves(tree):
        if leaf.normalise == "scale" and leaf.transform is None:
            continue
        values = []
        for member in members:
            for estimate in member.estimates:
                if estimate.factor.id == leaf.factor:
                    values.append(estimate.point)
        x = np.array(values, dtype=float)
        transform = leaf.transform
        if transform is not None and transform.log_offset is not None:
            shifted = x + transform.log_offset
            if x.size and not np.all(shifted > 0):
                reasons.append(f"factor {leaf.factor!r}: log needs value + {transform.log_offset:g}"
                               f" > 0, but the population's lowest is {x.min():g}")
                continue
            x = np.log(shifted)
        if x.size < 2:
            reasons.append(f"factor {leaf.factor!r} has {x.size} value(s) in population "
                           f"{name!r}; normalising over a population needs at least 2")
            continue
        low, high = float(x.min()), float(x.max())
        if transform is not None and transform.winsorise is not None:
            low, high = (float(q) for q in np.quantile(x, transform.winsorise))
        std = float(x.std(ddof=1))
        if not high > low or (leaf.normalise == "zscore" and not std > 0):
            reasons.append(f"factor {leaf.factor!r} takes one value ({low:g}) across "
                           f"population {name!r}: there is no spread to normalise over")
            continue
        stats[leaf.factor] = LeafStatistics(values=tuple(float(v) for v in np.sort(x)),
                                            low=low, high=high, mean=float(x.mean()), std=std)
    if reasons:
        return None, reasons
    return Population(name=name, size=len(members),
                      members=tuple(m.key for m in members), leaves=stats), []


def attach_populations(scenarios: Sequence[Scenario],
                       siblings: Callable[[Scenario], list[Scenario]],
                       locate: Callable[[Scenario], tuple[Document, Location] | None]
                       ) -> tuple[list[Scenario], list[Problem]]:
    """Give each scenario whose tree normalises over a population that population: every
    scenario of its folder (``siblings``) that names the same tree."""
    out: list[Scenario] = []
    problems: list[Problem] = []
    cache: dict[tuple[str, str], tuple[Population | None, list[str]]] = {}
    reported: set[tuple[str, str]] = set()
    for scenario in scenarios:
        if not needs_population(scenario.tree):
            out.append(scenario)
            continue
        assert scenario.tree is not None
        folder = str(Path(scenario.source or "").parent)
        key = (folder, scenario.tree.id)
        if key not in cache:
            members = [s for s in siblings(scenario)
                       if s.tree is not None and s.tree.id == scenario.tree.id]
            name = f"{scenario.partnership} ({display_path(folder)}, tree {scenario.tree.id})"
            cache[key] = population_of(members, scenario.tree, name)
        population, reasons = cache[key]
        if population is None:
            if key in reported:
                continue  # one finding per population, not one per member
            reported.add(key)
            where = locate(scenario)
            for reason in reasons:
                if where is not None:
                    problems.append(where[0].problem(where[1], reason, "RE708"))
                else:
                    problems.append(Problem(scenario.source or scenario.key, None, None, "tree",
                                            reason, "RE708"))
            continue
        out.append(scenario.model_copy(update={"population": population}))
    return out, problems
