"""How a change to factor or scenario files moves the scores (``riskengine diff``).

Two trees are compared: each is a project folder (holding ``factors/`` and ``scenarios/``) or a
folder of scenarios (the catalogue is then the nearest ``factors/`` above it). Scenarios are
matched by ``partnership/id``; for each, the deterministic S, R, O and band before and after, and
the estimates and factor definitions that changed. ``diff_git`` takes the old tree from a git
revision, extracted with ``git archive`` into a temporary folder; nothing in the working tree is
touched. The revision is data, never an option of git: it may not start with ``-`` and must name
a tree (``git rev-parse --verify --end-of-options REV^{tree}``), and only that tree's id reaches
``git archive``. Symlinks in the revision that point outside it are skipped (and reported), and
its catalogue is looked for only inside the extracted revision.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskengine.loading import (
    Catalogue,
    find_factors_dir,
    load_catalogue,
    load_scenarios,
    load_trees,
)
from riskengine.models import Estimate, Factor, Scenario, TreeFile, TreeNode
from riskengine.problems import InputError, Problem, display_path
from riskengine.scoring import Result, score
from riskengine.trees import TreeSet, walk

ESTIMATE_FIELDS = ("low", "mode", "high", "weight", "distribution")
FACTOR_FIELDS = ("name", "kind", "group", "about", "scale", "higher_means", "weight")


@dataclass(frozen=True)
class Snapshot:
    """One side of a diff: a project's catalogue, model trees and scored scenarios."""

    catalogue: Catalogue
    scenarios: dict[str, Scenario]
    trees: TreeSet = field(default_factory=TreeSet)


@dataclass
class ScenarioChange:
    key: str
    before: Result | None
    after: Result | None
    changes: list[str] = field(default_factory=list)  # "russia_balancing: mode 7 -> 6"

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after.stability - self.before.stability

    @property
    def band_changed(self) -> bool:
        return (self.before is not None and self.after is not None
                and self.before.band != self.after.band)

    @property
    def moved(self) -> bool:
        return (self.before is None or self.after is None or bool(self.changes)
                or abs(self.delta or 0.0) > 1e-12)

    def to_dict(self) -> dict[str, Any]:
        def side(r: Result | None) -> dict[str, Any] | None:
            return None if r is None else {"stability": r.stability, "risk_index": r.risk_index,
                                           "opportunity_index": r.opportunity_index,
                                           "band": r.band}
        return {"scenario": self.key, "before": side(self.before), "after": side(self.after),
                "delta_stability": self.delta, "band_changed": self.band_changed,
                "changes": self.changes}


@dataclass
class Diff:
    old: str
    new: str
    scenarios: list[ScenarioChange]
    factor_changes: list[str]
    tree_changes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # what could not be extracted, and why

    @property
    def moved(self) -> list[ScenarioChange]:
        return [s for s in self.scenarios if s.moved]

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "factor_changes": self.factor_changes,
                "tree_changes": self.tree_changes,
                "scenarios": [s.to_dict() for s in self.moved],
                "unchanged": len(self.scenarios) - len(self.moved),
                "band_changes": sum(s.band_changed for s in self.scenarios)}

    def to_frame(self) -> Any:
        """The scenarios that moved as a DataFrame indexed by scenario: S before and after,
        its change, and whether the band changed."""
        import pandas as pd

        def s(r: Result | None) -> float | None:
            return None if r is None else r.stability

        return pd.DataFrame([{"scenario": c.key, "stability_before": s(c.before),
                              "stability_after": s(c.after), "delta_stability": c.delta,
                              "band_before": c.before.band if c.before else None,
                              "band_after": c.after.band if c.after else None,
                              "band_changed": c.band_changed} for c in self.moved],
                            columns=["scenario", "stability_before", "stability_after",
                                     "delta_stability", "band_before", "band_after",
                                     "band_changed"]).set_index("scenario")


def load_snapshot(path: str | Path, top: Path | None = None, fallback: Path | None = None
                  ) -> Snapshot:
    """The catalogue and every scenario of a project folder or a folder of scenarios.

    The catalogue of a scenarios folder is the nearest ``factors/`` above it, looked for no
    higher than ``top`` when given (an extracted revision: above it is the temporary folder),
    else ``fallback``.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError([Problem(display_path(root), None, None, "", "no such folder",
                                  "RE001")])
    if (root / "factors").is_dir():
        factors_dir, scenario_root = root / "factors", root / "scenarios"
    elif top is not None:
        factors_dir = _factors_within(root, top) or fallback or root / "factors"
        scenario_root = root
    else:
        factors_dir, scenario_root = find_factors_dir(root), root
    catalogue = load_catalogue(factors_dir)
    trees = load_trees(catalogue)
    scenarios = (load_scenarios(scenario_root, catalogue, trees) if scenario_root.is_dir()
                 else [])
    return Snapshot(catalogue, {s.key: s for s in scenarios}, trees)


def _factors_within(start: Path, top: Path) -> Path | None:
    """The nearest ``factors/`` folder from ``start`` up to ``top``, never above it."""
    start, top = start.resolve(), top.resolve()
    for folder in (start, *start.parents):
        if (folder / "factors").is_dir():
            return folder / "factors"
        if folder == top:
            break
    return None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def _factor_changes(old: Factor, new: Factor, fields: tuple[str, ...] = FACTOR_FIELDS
                    ) -> list[str]:
    a, b = old.model_dump(), new.model_dump()
    return [f"{new.id}: {name} {_fmt(a[name])} -> {_fmt(b[name])}" for name in fields
            if a[name] != b[name]]


def _estimate_changes(old: Estimate, new: Estimate) -> list[str]:
    out = []
    for name in ESTIMATE_FIELDS:
        a, b = getattr(old, name), getattr(new, name)
        if a != b and not (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b)):
            out.append(f"{new.factor.id}: {name} {_fmt(a)} -> {_fmt(b)}")
    return out


def _scenario_changes(old: Scenario, new: Scenario) -> list[str]:
    before = {e.factor.id: e for e in old.estimates}
    after = {e.factor.id: e for e in new.estimates}
    out = [f"{fid}: estimate added" for fid in after if fid not in before]
    out += [f"{fid}: estimate removed" for fid in before if fid not in after]
    for fid in after:
        if fid in before:
            out += _estimate_changes(before[fid], after[fid])
            # The default weight matters only through the estimate's weight, compared above;
            # a scenario that overrides it is unaffected.
            out += _factor_changes(before[fid].factor, after[fid].factor,
                                   tuple(f for f in FACTOR_FIELDS if f != "weight"))
    if old.model != new.model:
        out.append(f"model: {_fmt(old.model.model_dump())} -> {_fmt(new.model.model_dump())}")
    old_tree = old.tree.id if old.tree else "default"
    new_tree = new.tree.id if new.tree else "default"
    if old_tree != new_tree:
        out.append(f"tree: {old_tree} -> {new_tree}")
    elif old.tree != new.tree:
        out.append(f"tree {new_tree} changed (see the tree changes)")
    return out


def _tree_parts(tree: TreeFile) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Every node (``node <id>``) and leaf (``<factor>``) with its parent and settings."""
    out: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for item, _, ancestors in walk(tree.root):
        parent = ancestors[-1] if ancestors else None
        if isinstance(item, TreeNode):
            settings = item.model_dump(exclude={"children", "id", "name", "description"})
            out[f"node {item.id}"] = (parent, settings)
        else:
            out[item.factor] = (parent, item.model_dump(exclude={"factor"}))
    return out


def _dumped(value: Any) -> Any:
    if isinstance(value, list):
        return [_dumped(v) for v in value]
    return value.model_dump() if hasattr(value, "model_dump") else value


def _tree_changes(old: TreeFile | None, new: TreeFile | None, tree_id: str) -> list[str]:
    """Structure, rules and weights of one tree, before and after."""
    if old is None:
        return [f"{tree_id}: tree added"]
    if new is None:
        return [f"{tree_id}: tree removed"]
    out = []
    for name in ("scale", "bands", "higher_is"):
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            out.append(f"{tree_id}: {name} {_fmt(_dumped(a))} -> {_fmt(_dumped(b))}")
    before, after = _tree_parts(old), _tree_parts(new)
    for part, (parent, _) in after.items():
        if part not in before:
            out.append(f"{tree_id}: {part} added under {parent or 'the root'}")
    for part, (parent, _) in before.items():
        if part not in after:
            out.append(f"{tree_id}: {part} removed from {parent or 'the root'}")
    for part in after:
        if part not in before:
            continue
        (p_old, s_old), (p_new, s_new) = before[part], after[part]
        if p_old != p_new:
            out.append(f"{tree_id}: {part} moved from {p_old} to {p_new}")
        for key in s_new:
            if s_old.get(key) != s_new[key]:
                out.append(f"{tree_id}: {part}: {key} {_fmt(s_old.get(key))} -> "
                           f"{_fmt(s_new[key])}")
    return out


def diff_snapshots(old: Snapshot, new: Snapshot, old_name: str = "old", new_name: str = "new"
                   ) -> Diff:
    """Every scenario's score before and after, largest movement first."""
    factor_changes = [f"{fid}: factor added" for fid in new.catalogue if fid not in old.catalogue]
    factor_changes += [f"{fid}: factor removed" for fid in old.catalogue
                       if fid not in new.catalogue]
    for fid in new.catalogue:
        if fid in old.catalogue:
            factor_changes += _factor_changes(old.catalogue[fid], new.catalogue[fid])
    changes = []
    for key in sorted(old.scenarios.keys() | new.scenarios.keys()):
        a, b = old.scenarios.get(key), new.scenarios.get(key)
        listed = (_scenario_changes(a, b) if a and b else
                  ["scenario added"] if b else ["scenario removed"])
        changes.append(ScenarioChange(key, score(a) if a else None, score(b) if b else None,
                                      listed))
    changes.sort(key=lambda c: (-(abs(c.delta) if c.delta is not None else math.inf), c.key))
    tree_changes = [change for tree_id in sorted(old.trees.trees.keys() | new.trees.trees.keys())
                    for change in _tree_changes(old.trees.get(tree_id), new.trees.get(tree_id),
                                                tree_id)]
    return Diff(old_name, new_name, changes, factor_changes, tree_changes)


def diff_paths(old: str | Path, new: str | Path) -> Diff:
    return diff_snapshots(load_snapshot(old), load_snapshot(new), str(old), str(new))


class GitError(Exception):
    """git is missing, the folder is not in a repository, or the revision is unknown."""


def _git(args: list[str], cwd: Path) -> bytes:
    # user text goes to git only after "--end-of-options", never where git reads options
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


def tree_of(rev: str, top: Path) -> str:
    """The id of the tree that ``rev`` names; :class:`GitError` unless it names one."""
    if not rev or rev.startswith("-"):
        raise GitError("a revision must not start with '-'")
    try:
        out = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{tree}}"],
                   top)
    except GitError:
        raise GitError("not a commit or tree in this repository") from None
    return out.decode().strip()


def _extract(archive: bytes, dest: str, rev: str) -> list[str]:
    """Unpack ``archive`` into ``dest`` as plain data (tarfile's "data" filter: no devices, no
    absolute paths, no modes beyond the user's); a symlink or hard link that would reach outside
    ``dest`` is skipped, and the list of what was skipped, and why, is returned."""
    skipped: list[str] = []

    def only_inside(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        try:
            return tarfile.data_filter(member, path)
        except tarfile.FilterError:
            if member.issym() or member.islnk():
                kind = "symlink" if member.issym() else "hard link"
                skipped.append(f"{rev}:{member.name}: a {kind} to {member.linkname}, outside "
                               "the revision")
                return None
            raise

    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        try:
            tar.extractall(dest, filter=only_inside)
        except tarfile.FilterError as exc:
            raise GitError(f"cannot extract the revision safely: {exc}") from None
    return skipped


def _outside(folder: Path | None, top: Path) -> Path | None:
    """``folder`` if it lies outside the repository at ``top`` (so git does not version it)."""
    if folder is None:
        return None
    return None if folder.resolve().is_relative_to(top.resolve()) else folder


def diff_git(rev: str, path: str | Path = ".") -> Diff:
    """``path`` (a project or scenarios folder) as of git revision ``rev`` against the working
    tree."""
    here = Path(path).resolve()
    if not here.is_dir():
        raise GitError(f"{path}: no such folder")
    top = Path(_git(["rev-parse", "--show-toplevel"], here).decode().strip())
    relative = here.relative_to(top.resolve())
    tree = tree_of(rev, top)
    new = load_snapshot(here)
    # Archive the whole revision: a scenarios folder needs the factors/ beside or above it.
    archive = _git(["archive", "--format=tar", tree], top)
    with tempfile.TemporaryDirectory(prefix="riskengine-diff-") as tmp:
        skipped = _extract(archive, tmp, rev)
        old_root = Path(tmp) / relative
        if not old_root.is_dir():
            raise GitError(f"{display_path(here)} does not exist at {rev}")
        try:
            # A catalogue outside the repository is not versioned: the one the working tree
            # uses stands for it, never a factors/ that happens to be above the temporary folder.
            old = load_snapshot(old_root, top=Path(tmp),
                                fallback=_outside(new.catalogue.root, top))
        except InputError as exc:
            # Name broken old files as git does (REV:path), not by the temporary folder.
            prefix = os.path.abspath(tmp) + os.sep
            raise InputError([dataclasses.replace(
                p, path=f"{rev}:{os.path.abspath(p.path).removeprefix(prefix)}")
                if os.path.abspath(p.path).startswith(prefix) else p
                for p in exc.problems]) from None
    diff = diff_snapshots(old, new, rev, "working tree")
    diff.skipped = skipped
    return diff
