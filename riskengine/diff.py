"""How a change to factor, tree or scenario files moves the scores (``riskengine diff``).

Two sides are compared, each a project folder (holding ``factors/`` and ``scenarios/``) or a
folder of scenarios (the catalogue is then the nearest ``factors/`` above it). Each side resolves
its own catalogue and trees, so OLD and NEW may be different projects. Scenarios are matched by
``partnership/id``.

What changed is reported where it was made:

* a **catalogue change** (a factor's scale, weight, kind, direction, …) or a **tree change** is
  one :class:`SharedChange`, listed once with the scenarios whose inputs it changes (a scenario
  that overrides a factor's weight is not moved by a new default weight);
* a scenario's own changes (an estimate as ``low / mode / high``, a weight override, its model
  settings, the tree it names) are :class:`Change` rows of its :class:`ScenarioChange`;
* each partnership's outlook, ``E[S] = Σ p_k S_k`` of the point scores (MODEL.md), and its band
  before and after (:class:`PartnershipChange`).

:class:`Gates` turn the diff into a CI check: a band change (of a scenario or an outlook) and
``|ΔS|`` above a threshold.

``diff_git`` takes the old side from a git revision, streamed out of ``git archive`` into a
temporary folder; nothing in the working tree is touched. The revision is data, never an option
of git: it may not start with ``-`` and must name a tree (``git rev-parse --verify
--end-of-options REV^{tree}``), and only that tree's id reaches ``git archive``. Only the files a
project is read from (``*.yaml``, ``*.yml``, ``*.toml``) are written out, each at most one byte
past the reader's size limit (so a huge file is refused by name, not copied); symlinks that
point outside the revision are skipped (and reported), and its catalogue is looked for only
inside the extracted revision.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from riskengine.files import YAML_SUFFIXES, yaml_names
from riskengine.loading import (
    Catalogue,
    apply_scenarios,
    load_catalogue,
    load_trees,
    outlook_problems,
)
from riskengine.models import Estimate, Factor, Scenario, TreeFile, TreeNode
from riskengine.problems import InputError, Problem, display_path
from riskengine.project import Project, config_file, find_project, load_project
from riskengine.scoring import Result, band_of, scenario_bands, score, score_many
from riskengine.trees import TreeSet, walk
from riskengine.yamlio import MAX_FILE_BYTES

FACTOR_FIELDS = ("name", "kind", "group", "about", "scale", "higher_means", "weight")
# the files a project is read from; nothing else of a revision is written to disk
PROJECT_SUFFIXES = (".yaml", ".yml", ".toml")
ARROW = "→"
EPS = 1e-12  # a score that moves less than this has not moved (rounding of the same sums)


# ---------------------------------------------------------------------------------------------
# the result, as data


@dataclass(frozen=True)
class Change:
    """One thing that changed: ``subject`` (a factor id, ``model``, ``tree``, ``scenario``, or a
    tree's part), the ``field`` that changed, its value before and after (JSON values; None:
    absent) and the one line people read."""

    subject: str
    field: str
    old: Any
    new: Any
    text: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SharedChange:
    """A change to a definition scenarios share — a factor of the catalogue or a model tree —
    shown once, with the scenarios (``partnership/id``) whose inputs it changes."""

    kind: Literal["factor", "tree"]
    id: str
    changes: list[Change]
    scenarios: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """How a scenario row names it: ``factor russia_balancing``, ``tree pillars``."""
        return f"{self.kind} {self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "ref": self.ref,
                "changes": [c.to_dict() for c in self.changes],
                "scenarios": list(self.scenarios), "scenario_count": len(self.scenarios)}


@dataclass(frozen=True)
class Snapshot:
    """One side of a diff: a project's catalogue, model trees and scored scenarios.
    ``catalogue_name``: how output names the catalogue (``REV:factors`` for a revision)."""

    catalogue: Catalogue
    scenarios: dict[str, Scenario]
    trees: TreeSet = field(default_factory=TreeSet)
    catalogue_name: str = ""
    # scores made where the scenarios were loaded, by key (those missing are made when needed)
    scored: dict[str, Result] = field(default_factory=dict)
    # how a scenario's file is named in output (a revision's as git names it: REV:path)
    shown: Callable[[str], str] | None = None

    @property
    def name(self) -> str:
        return self.catalogue_name or display_path(self.catalogue.root or "factors")


class _BeforeAfter:
    """A score on both sides of a change: how far its headline value moved and whether its band
    did (nothing to say when a side is missing)."""

    before: Any
    after: Any

    @staticmethod
    def headline(side: Any) -> float:
        raise NotImplementedError

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.headline(self.after) - self.headline(self.before)

    @property
    def band_changed(self) -> bool:
        return (self.before is not None and self.after is not None
                and self.before.band != self.after.band)


@dataclass
class ScenarioChange(_BeforeAfter):
    """One scenario before and after. ``changes``: its own (estimates, weight overrides, model
    settings, tree named); ``shared``: the refs of the :class:`SharedChange` s that reach it."""

    key: str
    before: Result | None
    after: Result | None
    changes: list[Change] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)
    # the parent (``partnership/id``) whose changes it inherits: they are listed there, once
    inherits_from: str | None = None
    inherited: int = 0  # how many
    catalogue_before: str | None = None
    catalogue_after: str | None = None

    @property
    def partnership(self) -> str:
        return self.key.split("/", 1)[0]

    @staticmethod
    def headline(side: Result) -> float:
        return side.stability

    @property
    def moved(self) -> bool:
        return (self.before is None or self.after is None or bool(self.changes)
                or bool(self.shared) or bool(self.inherited) or abs(self.delta or 0.0) > EPS)

    def to_dict(self) -> dict[str, Any]:
        def side(r: Result | None, catalogue: str | None) -> dict[str, Any] | None:
            return None if r is None else {
                "stability": r.stability, "risk_index": r.risk_index,
                "opportunity_index": r.opportunity_index, "band": r.band,
                "tree": r.tree.id if r.tree is not None else "default", "catalogue": catalogue}
        return {"scenario": self.key, "partnership": self.partnership,
                "before": side(self.before, self.catalogue_before),
                "after": side(self.after, self.catalogue_after),
                "delta_stability": self.delta, "band_changed": self.band_changed,
                "changes": [c.to_dict() for c in self.changes], "shared": list(self.shared),
                "inherits_from": self.inherits_from, "inherited_changes": self.inherited}


@dataclass(frozen=True)
class OutlookScore:
    """A partnership's outlook from point scores: ``E[S] = Σ p_k S_k`` and its band."""

    expected_stability: float
    band: str
    scenarios: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PartnershipChange(_BeforeAfter):
    """A partnership's outlook before and after; ``note_*`` says why a side has none (its
    probabilities do not make an outlook, or the partnership is not on that side)."""

    partnership: str
    before: OutlookScore | None
    after: OutlookScore | None
    note_before: str | None = None
    note_after: str | None = None

    @staticmethod
    def headline(side: OutlookScore) -> float:
        return side.expected_stability

    @property
    def moved(self) -> bool:
        return ((self.before is None) != (self.after is None) or self.band_changed
                or abs(self.delta or 0.0) > EPS)

    def to_dict(self) -> dict[str, Any]:
        return {"partnership": self.partnership,
                "before": None if self.before is None else self.before.to_dict(),
                "after": None if self.after is None else self.after.to_dict(),
                "delta_expected_stability": self.delta, "band_changed": self.band_changed,
                "moved": self.moved,
                "note_before": self.note_before, "note_after": self.note_after}


GateName = Literal["band-change", "delta"]


@dataclass(frozen=True)
class GateTrip:
    """One reason a gate failed: which gate, what (a scenario ``partnership/id`` or a
    partnership's ``outlook``) and why, in words."""

    gate: GateName
    subject: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Gates:
    """What makes ``riskengine diff`` fail: any band change (scenario or outlook), and
    ``|ΔS|`` of any scenario above ``max_delta`` points."""

    band_change: bool = False
    max_delta: float | None = None

    def __post_init__(self) -> None:
        if self.max_delta is not None and not (math.isfinite(self.max_delta)
                                               and self.max_delta >= 0):
            raise ValueError(f"max_delta must be a finite number >= 0, got {self.max_delta}")

    @property
    def names(self) -> list[str]:
        out = ["band-change"] if self.band_change else []
        if self.max_delta is not None:
            out.append(f"|ΔS| > {self.max_delta:g}")
        return out

    def check(self, diff: Diff) -> list[GateTrip]:
        trips: list[GateTrip] = []
        if self.band_change:
            trips += [GateTrip("band-change", s.key, f"{_band(s.before)} {ARROW} "
                               f"{_band(s.after)}") for s in diff.scenarios if s.band_changed]
            trips += [GateTrip("band-change", f"{p.partnership} outlook",
                               f"{p.before.band} {ARROW} {p.after.band}")
                      for p in diff.partnerships
                      if p.band_changed and p.before is not None and p.after is not None]
        if self.max_delta is not None:
            limit = self.max_delta
            trips += [GateTrip("delta", s.key, f"ΔS {s.delta:+.2f} beyond ±{limit:g}")
                      for s in diff.scenarios if s.delta is not None and abs(s.delta) > limit]
        return trips


def _band(result: Result | None) -> str:
    return "—" if result is None else result.band


@dataclass
class Diff:
    old: str
    new: str
    scenarios: list[ScenarioChange]
    shared: list[SharedChange] = field(default_factory=list)
    partnerships: list[PartnershipChange] = field(default_factory=list)
    catalogue_old: str = ""
    catalogue_new: str = ""
    # whether the two sides read different catalogues (different projects): output then says
    # which one each row used
    catalogues_differ: bool = False
    skipped: list[str] = field(default_factory=list)  # what could not be extracted, and why
    gates: Gates = field(default_factory=Gates)
    tripped: list[GateTrip] = field(default_factory=list)

    @property
    def moved(self) -> list[ScenarioChange]:
        return [s for s in self.scenarios if s.moved]

    @property
    def unchanged(self) -> int:
        return len(self.scenarios) - len(self.moved)

    @property
    def band_changes(self) -> int:
        return sum(s.band_changed for s in self.scenarios)

    @property
    def catalogue_pairs(self) -> list[tuple[str | None, str | None]]:
        """The (old, new) catalogues of the moved rows, each once."""
        return list(dict.fromkeys((s.catalogue_before, s.catalogue_after) for s in self.moved))

    @property
    def catalogue_changes(self) -> list[SharedChange]:
        return [s for s in self.shared if s.kind == "factor"]

    @property
    def tree_changes(self) -> list[SharedChange]:
        return [s for s in self.shared if s.kind == "tree"]

    def check(self, gates: Gates) -> list[GateTrip]:
        """Apply ``gates``: remember them and what tripped, and return what tripped."""
        self.gates = gates
        self.tripped = gates.check(self)
        return self.tripped

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new,
                "catalogues": {"old": self.catalogue_old, "new": self.catalogue_new,
                               "differ": self.catalogues_differ},
                "shared_changes": [s.to_dict() for s in self.shared],
                "scenarios": [s.to_dict() for s in self.moved],
                "partnerships": [p.to_dict() for p in self.partnerships],
                "unchanged": self.unchanged, "band_changes": self.band_changes,
                "gates": {"band_change": self.gates.band_change,
                          "max_delta": self.gates.max_delta,
                          "passed": not self.tripped,
                          "tripped": [t.to_dict() for t in self.tripped]},
                "skipped": list(self.skipped)}

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


# ---------------------------------------------------------------------------------------------
# reading one side


def load_snapshot(path: str | Path, top: Path | None = None, fallback: Project | None = None,
                  catalogue_name: str = "", project: Project | None = None) -> Snapshot:
    """The catalogue, trees and every scenario of a project folder or a folder of scenarios,
    read as that project says (``riskengine.toml``: where its folders are, its defaults).

    A folder of scenarios belongs to the project above it. With ``top`` (an extracted
    revision: above it is the temporary folder) the project is looked for no higher than
    ``top``, else ``fallback`` stands for it.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError([Problem(display_path(root), None, None, "", "no such folder",
                                  "RE001")])
    if project is None:  # ``project``: the one ``path`` belongs to, found already
        project = find_project(root) if top is None else _revision_project(root, top, fallback)
    scenario_root = _scenario_root(project, root)
    catalogue = load_catalogue(project.factors_dir)
    trees = load_trees(catalogue, project.models_dir)
    # scored where loaded: on every core for a large project (10,000 scenarios of two sides
    # scored here took 7 s of an 18 s diff)
    pairs = (apply_scenarios(scenario_root, catalogue=catalogue, trees=trees, project=project,
                             each_of_all=_with_scores)
             if scenario_root.is_dir() else [])
    return Snapshot(catalogue, {s.key: s for s, _ in pairs}, trees, catalogue_name,
                    {s.key: result for s, result in pairs})


def _revision_project(root: Path, top: Path, fallback: Project | None) -> Project:
    """The project of ``root`` in a revision extracted at ``top``: looked for no higher."""
    return _project_within(root, top) or fallback or Project(root.resolve())


def _scenario_root(project: Project, root: Path) -> Path:
    """The folder a side's scenarios are read from: a project's scenarios folder when
    ``root`` is the project, else ``root`` itself."""
    return project.scenarios_dir if Path(os.path.abspath(root)) == project.root else root


def _with_scores(scenarios: list[Scenario]) -> list[tuple[Scenario, Result]]:
    return list(zip(scenarios, score_many(scenarios), strict=True))


def _project_within(start: Path, top: Path) -> Project | None:
    """The project of ``start`` (its config, or a ``factors/`` folder), looked for from
    ``start`` up to ``top``, never above it."""
    start, top = start.resolve(), top.resolve()
    for folder in (start, *start.parents):
        if config_file(folder) is not None or (folder / "factors").is_dir():
            return load_project(folder)
        if folder == top:
            break
    return None


# ---------------------------------------------------------------------------------------------
# what changed


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b)
    return bool(a == b)


def _field_change(subject: str, name: str, old: Any, new: Any) -> Change:
    if name == "scale" and isinstance(old, dict) and isinstance(new, dict):
        # a scale reads as its range; the unit only when it changed too
        ranges = f"{_fmt(old['min'])}–{_fmt(old['max'])} {ARROW} {_fmt(new['min'])}–" \
                 f"{_fmt(new['max'])}"
        unit = "" if old.get("unit") == new.get("unit") else \
            f" (unit {old.get('unit')} {ARROW} {new.get('unit')})"
        return Change(subject, name, old, new, f"{subject}: scale {ranges}{unit}")
    return Change(subject, name, old, new, f"{subject}: {name} {_fmt(old)} {ARROW} {_fmt(new)}")


def _factor_changes(old: Factor, new: Factor, fields: Sequence[str] = FACTOR_FIELDS
                    ) -> list[Change]:
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    return [_field_change(new.id, name, a[name], b[name]) for name in fields
            if not _same(a[name], b[name])]


def _point(e: Estimate) -> dict[str, Any]:
    return {"low": e.low, "mode": e.mode, "high": e.high, "distribution": e.distribution,
            "fixed": e.fixed}


def _points(p: dict[str, Any]) -> str:
    return f"{p['low']:g}" if p["fixed"] else f"{p['low']:g} / {p['mode']:g} / {p['high']:g}"


def _label(p: dict[str, Any]) -> str:
    return "value" if p["fixed"] else str(p["distribution"])


def _estimate_change(fid: str, old: Estimate | None, new: Estimate | None) -> Change | None:
    """An estimate on one line: ``russia_balancing: 5 / 7 / 8 → 5 / 7 / 9 (pert)``."""
    if old is None and new is not None:
        p = _point(new)
        return Change(fid, "estimate", None, p,
                      f"{fid}: estimate added: {_points(p)} ({_label(p)})")
    if new is None and old is not None:
        p = _point(old)
        return Change(fid, "estimate", p, None,
                      f"{fid}: estimate removed (was {_points(p)} ({_label(p)}))")
    assert old is not None and new is not None
    a, b = _point(old), _point(new)
    if all(_same(a[k], b[k]) for k in a):
        return None
    if _label(a) == _label(b):
        text = f"{fid}: {_points(a)} {ARROW} {_points(b)} ({_label(b)})"
    else:
        text = f"{fid}: {_points(a)} ({_label(a)}) {ARROW} {_points(b)} ({_label(b)})"
    return Change(fid, "estimate", a, b, text)


def _compare_scenarios(old: Scenario, new: Scenario
                       ) -> tuple[list[Change], dict[str, list[Change]]]:
    """A scenario's own changes, and per factor the catalogue changes that reach it.

    A new default weight reaches a scenario only where it takes the default on both sides;
    where it overrides the weight, the override's change (if any) is its own."""
    before = {e.factor.id: e for e in old.estimates}
    after = {e.factor.id: e for e in new.estimates}
    own: list[Change] = []
    shared: dict[str, list[Change]] = {}
    for fid in [*after, *(f for f in before if f not in after)]:
        a, b = before.get(fid), after.get(fid)
        estimate = _estimate_change(fid, a, b)
        if estimate is not None:
            own.append(estimate)
        if a is None or b is None:
            continue
        reaching = _factor_changes(a.factor, b.factor,
                                   [f for f in FACTOR_FIELDS if f != "weight"])
        default_moved = not _same(a.factor.weight, b.factor.weight)
        takes_default = _same(a.weight, a.factor.weight) and _same(b.weight, b.factor.weight)
        if default_moved and takes_default:
            reaching.append(_field_change(fid, "weight", a.factor.weight, b.factor.weight))
        elif not _same(a.weight, b.weight):
            own.append(_field_change(fid, "weight", a.weight, b.weight))
        if reaching:
            shared[fid] = reaching
    a_model, b_model = old.model.model_dump(mode="json"), new.model.model_dump(mode="json")
    own += [_field_change("model", name, a_model[name], b_model[name])
            for name in b_model if a_model[name] != b_model[name]]
    old_tree, new_tree = _tree_id(old), _tree_id(new)
    if old_tree != new_tree:
        own.append(Change("tree", "tree", old_tree, new_tree,
                          f"tree: {old_tree} {ARROW} {new_tree}"))
    return own, shared


def _tree_id(scenario: Scenario) -> str:
    return scenario.tree.id if scenario.tree is not None else "default"


def _tree_parts(tree: TreeFile) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Every node (``node <id>``) and leaf (``<factor>``) with its parent and settings."""
    out: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for item, _, ancestors in walk(tree.root):
        parent = ancestors[-1] if ancestors else None
        if isinstance(item, TreeNode):
            settings = item.model_dump(mode="json",
                                       exclude={"children", "id", "name", "description"})
            out[f"node {item.id}"] = (parent, settings)
        else:
            out[item.factor] = (parent, item.model_dump(mode="json", exclude={"factor"}))
    return out


def _tree_changes(old: TreeFile | None, new: TreeFile | None, tree_id: str) -> list[Change]:
    """Structure, rules and weights of one tree, before and after."""
    if old is None:
        return [Change(tree_id, "tree", None, tree_id, f"{tree_id}: tree added")]
    if new is None:
        return [Change(tree_id, "tree", tree_id, None, f"{tree_id}: tree removed")]
    out = []
    a_file, b_file = old.model_dump(mode="json"), new.model_dump(mode="json")
    for name in ("scale", "bands", "higher_is"):
        if a_file[name] != b_file[name]:
            out.append(_field_change(tree_id, name, a_file[name], b_file[name]))
    before, after = _tree_parts(old), _tree_parts(new)
    for part, (parent, _) in after.items():
        if part not in before:
            out.append(Change(f"{tree_id}: {part}", "added", None, parent,
                              f"{tree_id}: {part} added under {parent or 'the root'}"))
    for part, (parent, _) in before.items():
        if part not in after:
            out.append(Change(f"{tree_id}: {part}", "removed", parent, None,
                              f"{tree_id}: {part} removed from {parent or 'the root'}"))
    for part in after:
        if part not in before:
            continue
        (p_old, s_old), (p_new, s_new) = before[part], after[part]
        if p_old != p_new:
            out.append(Change(f"{tree_id}: {part}", "parent", p_old, p_new,
                              f"{tree_id}: {part} moved from {p_old} to {p_new}"))
        out += [_field_change(f"{tree_id}: {part}", key, s_old.get(key), s_new[key])
                for key in s_new if s_old.get(key) != s_new[key]]
    return out


def _catalogue_changes(old: Catalogue, new: Catalogue) -> dict[str, list[Change]]:
    out: dict[str, list[Change]] = {}
    for fid in new:
        if fid not in old:
            out[fid] = [Change(fid, "factor", None, fid, f"{fid}: factor added")]
        else:
            found = _factor_changes(old[fid], new[fid])
            if found:
                out[fid] = found
    for fid in old:
        if fid not in new:
            out[fid] = [Change(fid, "factor", fid, None, f"{fid}: factor removed")]
    return out


def expected_stability(scenarios: Sequence[Scenario], results: Sequence[Result]
                       ) -> OutlookScore:
    """The outlook's point rule (MODEL.md, riskengine.outlook): ``E[S] = Σ p_k S_k`` of the
    deterministic scores, read against the first scenario's bands as the outlook reads its
    mixture."""
    expected = math.fsum((s.probability or 0.0) * r.stability
                         for s, r in zip(scenarios, results, strict=True))
    return OutlookScore(expected, band_of(expected, scenario_bands(scenarios[0])),
                        len(scenarios))


def _outlooks(snapshot: Snapshot, results: dict[str, Result]
              ) -> dict[str, tuple[OutlookScore | None, str | None]]:
    """Each partnership's outlook, or why its scenarios make none (their probabilities)."""
    groups: dict[str, list[Scenario]] = {}
    for scenario in snapshot.scenarios.values():
        groups.setdefault(scenario.partnership, []).append(scenario)
    out: dict[str, tuple[OutlookScore | None, str | None]] = {}
    for partnership, members in groups.items():
        problems = outlook_problems(members, shown=snapshot.shown)
        if problems:
            out[partnership] = (None, problems[0].message)
        else:
            out[partnership] = (expected_stability(members, [results[s.key] for s in members]),
                                None)
    return out


def diff_snapshots(old: Snapshot, new: Snapshot, old_name: str = "old", new_name: str = "new",
                   catalogues_differ: bool | None = None) -> Diff:
    """Every scenario's score before and after, largest movement first; each shared change
    once, with the scenarios it reaches; every partnership's outlook."""
    factor_groups = {fid: SharedChange("factor", fid, changes) for fid, changes
                     in _catalogue_changes(old.catalogue, new.catalogue).items()}
    tree_ids = sorted(old.trees.trees.keys() | new.trees.trees.keys())
    tree_groups = {tid: SharedChange("tree", tid, changes) for tid in tree_ids
                   if (changes := _tree_changes(old.trees.get(tid), new.trees.get(tid), tid))}
    scored_old = {key: old.scored.get(key) or score(s) for key, s in old.scenarios.items()}
    scored_new = {key: new.scored.get(key) or score(s) for key, s in new.scenarios.items()}
    rows = []
    for key in sorted(old.scenarios.keys() | new.scenarios.keys()):
        a, b = old.scenarios.get(key), new.scenarios.get(key)
        row = ScenarioChange(key, scored_old.get(key), scored_new.get(key),
                             catalogue_before=old.name if a else None,
                             catalogue_after=new.name if b else None)
        if a is None or b is None:
            word = "added" if a is None else "removed"
            row.changes = [Change("scenario", word, None if a is None else key,
                                  None if b is None else key, f"scenario {word}")]
        elif a is b:
            pass  # taken from the other side whole: nothing of its own or shared changed
        else:
            row.changes, reaching = _compare_scenarios(a, b)
            for fid, changes in reaching.items():
                group = factor_groups.setdefault(fid, SharedChange("factor", fid, []))
                # the catalogue seen through the scenario (another project's, say) may differ
                # from the one compared above: its changes join the group, each once
                known = {c.text for c in group.changes}
                group.changes += [c for c in changes if c.text not in known]
                group.scenarios.append(key)
                row.shared.append(group.ref)
            tree_id = _tree_id(b)
            if tree_id == _tree_id(a) and tree_id in tree_groups:
                tree_groups[tree_id].scenarios.append(key)
                row.shared.append(tree_groups[tree_id].ref)
        rows.append(row)
    _fold_inherited(rows, old, new)
    rows.sort(key=lambda c: (-(abs(c.delta) if c.delta is not None else math.inf), c.key))
    before, after = _outlooks(old, scored_old), _outlooks(new, scored_new)
    absent: tuple[OutlookScore | None, str | None] = (None, "not on this side")
    partnerships = []
    for p in sorted(before.keys() | after.keys()):
        (was, why_not_was), (now, why_not_now) = before.get(p, absent), after.get(p, absent)
        partnerships.append(PartnershipChange(p, was, now, why_not_was, why_not_now))
    if catalogues_differ is None:
        catalogues_differ = _place(old.catalogue.root) != _place(new.catalogue.root)
    return Diff(old_name, new_name, rows,
                [*(factor_groups[f] for f in sorted(factor_groups)),
                 *(tree_groups[t] for t in sorted(tree_groups))],
                partnerships, old.name, new.name, catalogues_differ)


def _fold_inherited(rows: list[ScenarioChange], old: Snapshot, new: Snapshot) -> None:
    """A change a scenario inherits from its parent (the same ``extends`` on both sides) is
    the parent's: listed there once, and counted here."""
    written = {row.key: list(row.changes) for row in rows}
    for row in rows:
        a, b = old.scenarios.get(row.key), new.scenarios.get(row.key)
        if a is None or b is None or not b.extends or a.extends != b.extends:
            continue
        parent = f"{b.partnership}/{b.extends}"
        from_parent = written.get(parent, [])
        own = [c for c in row.changes if c not in from_parent]
        if len(own) < len(row.changes):
            row.inherits_from, row.inherited = parent, len(row.changes) - len(own)
            row.changes = own


def _place(folder: Path | None) -> Path | None:
    return None if folder is None else folder.resolve()


def diff_paths(old: str | Path, new: str | Path) -> Diff:
    return diff_snapshots(load_snapshot(old), load_snapshot(new), str(old), str(new))


# ---------------------------------------------------------------------------------------------
# the old side from git


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


@dataclass
class _Unwritten:
    """The revision's YAML files below ``prefixes`` (relative to the repository's top, each
    ending in "/") that the working tree at ``disk`` holds byte for byte at the same place.
    :func:`_extract` leaves them unwritten: a folder whose files are all the same on both
    sides scores the same, so the old side takes its scores from the working tree
    (:func:`_reused_side`; 5,000 scenarios and one changed file: 16 s -> 6 s), and any other
    reading has them copied in first (:meth:`write`)."""

    disk: str
    prefixes: tuple[str, ...]
    names: list[str] = field(default_factory=list)  # every YAML file below them, relative
    same: set[str] = field(default_factory=set)  # those left unwritten
    pending: set[str] = field(default_factory=set)  # ... and not yet copied in
    folders: set[str] = field(default_factory=set)  # made for them in the destination

    def covers(self, name: str) -> bool:
        return name.startswith(self.prefixes) and name.endswith(YAML_SUFFIXES)

    def holds(self, name: str, data: bytes) -> bool:
        """Whether the working tree has a regular file of exactly ``data`` at ``name``."""
        path = os.path.join(self.disk, name)
        try:
            found = os.lstat(path)
            if not stat.S_ISREG(found.st_mode) or found.st_size != len(data):
                return False
            with open(path, "rb") as file:
                return file.read(len(data) + 1) == data
        except OSError:
            return False

    def leave(self, name: str, dest: str) -> None:
        self.same.add(name)
        self.pending.add(name)
        folder = os.path.dirname(name)
        if folder not in self.folders:  # one makedirs a folder, not one a file
            os.makedirs(os.path.join(dest, folder), exist_ok=True)
            self.folders.add(folder)

    def write(self, dest: str, names: Iterable[str] | None = None) -> None:
        """Copy the files left unwritten (all, or those of ``names``) into ``dest``."""
        for name in sorted(self.pending if names is None else self.pending.intersection(names)):
            shutil.copyfile(os.path.join(self.disk, name), os.path.join(dest, name))
            self.pending.discard(name)


def _extract(stream: IO[bytes], dest: str, rev: str, limit: int = MAX_FILE_BYTES,
             unwritten: _Unwritten | None = None) -> list[str]:
    """Unpack the tar ``stream`` into ``dest`` as plain data (tarfile's "data" filter: no
    devices, no absolute paths, no modes beyond the user's), member by member as it arrives.
    Only project files (:data:`PROJECT_SUFFIXES`) are written, each cut one byte past
    ``limit``: the reader then refuses it by name and size, and a revision with huge files
    costs neither memory nor disk. A symlink or hard link that would reach outside ``dest`` is
    skipped; the list of what was skipped, and why, is returned. A file ``unwritten`` covers
    is compared with the working tree's, and left there when the same."""
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

    linked = False  # whether a link has been written: a path may then lead through it

    def plain(member: tarfile.TarInfo) -> bool:
        # what the data filter would pass as is, without its two realpath calls a member (a
        # third of extracting 7,000 files): a relative name of plain parts, and no link
        # written that a part could be (asked of regular files only)
        parts = member.name.split("/")
        return not linked and not member.name.startswith("/") \
            and all(part not in ("", ".", "..") for part in parts) and "\0" not in member.name

    def write(name: str, data: bytes) -> None:
        target = Path(dest, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():  # written in place of a link, as tarfile does, never through it
            target.unlink()
        target.write_bytes(data)

    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.isfile() and not member.name.endswith(PROJECT_SUFFIXES):
                    continue  # read past, never written
                covered = unwritten is not None and unwritten.covers(member.name)
                if member.isfile() and (member.size > limit or covered):
                    safe = member if plain(member) else only_inside(member, dest)
                    source = tar.extractfile(member)
                    if safe is None or source is None:
                        continue
                    data = source.read(limit + 1)
                    if unwritten is not None and covered:
                        unwritten.names.append(safe.name)  # a huge one too: it is read, and refused
                        if member.size <= limit and unwritten.holds(safe.name, data):
                            unwritten.leave(safe.name, dest)
                            continue
                    write(safe.name, data)
                    continue
                tar.extract(member, dest, filter=only_inside)
                linked = linked or member.issym() or member.islnk()
    except (tarfile.TarError, OSError) as exc:
        raise GitError(f"cannot extract the revision safely: {exc}") from None
    return skipped


def _archive(tree: str, top: Path, dest: str, rev: str, unwritten: _Unwritten | None = None
             ) -> list[str]:
    """Stream ``git archive`` of ``tree`` into ``dest``: the archive is never held whole."""
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(["git", "archive", "--format=tar", tree], cwd=top,
                                    stdout=subprocess.PIPE, stderr=errors)
        except FileNotFoundError:
            raise GitError("git is not installed") from None
        assert proc.stdout is not None
        failure: GitError | None = None
        try:
            skipped = _extract(proc.stdout, dest, rev, unwritten=unwritten)
            proc.stdout.read()  # the archive's padding, so git can finish writing
        except GitError as exc:
            failure = exc
            proc.kill()
        finally:
            proc.stdout.close()
            proc.wait()
        if proc.returncode > 0 or (failure is None and proc.returncode != 0):
            # git's own reason comes first: a failed archive is also an unreadable one
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise GitError(message[-1] if message else "git archive failed")
        if failure is not None:
            raise failure
    return skipped


def _unversioned(project: Project, top: Path) -> Project | None:
    """``project`` if its catalogue lies outside the repository at ``top`` (git does not
    version it, so the working tree's stands for the revision's)."""
    return None if project.factors_dir.resolve().is_relative_to(top.resolve()) else project


def diff_git(rev: str, path: str | Path = ".", reuse: bool = True) -> Diff:
    """``path`` (a project or scenarios folder) as of git revision ``rev`` against the working
    tree. ``reuse``: scenario folders whose files the revision holds unchanged (with the same
    project settings, catalogue and trees) take their old scores from the working tree's
    rather than being read and scored again; the result is the same either way."""
    here = Path(path).resolve()
    if not here.is_dir():
        raise GitError(f"{path}: no such folder")
    top = Path(_git(["rev-parse", "--show-toplevel"], here).decode().strip()).resolve()
    if not here.is_relative_to(top):
        raise GitError(f"{path}: not inside the repository at {top}")
    relative = here.relative_to(top)
    tree = tree_of(rev, top)
    project = find_project(here)
    new = load_snapshot(here, project=project)
    scenario_root = _scenario_root(project, here)
    # the catalogue and the scenarios are what may be left in the working tree
    prefixes = tuple(f"{inside}/" for inside in (
        _repo_relative(project.factors_dir, top), _repo_relative(scenario_root, top)) if inside)
    unwritten = _Unwritten(str(top), prefixes if reuse else ())
    with tempfile.TemporaryDirectory(prefix="riskengine-diff-") as tmp:
        # the whole revision: a scenarios folder needs the factors/ beside or above it
        skipped = _archive(tree, top, tmp, rev, unwritten)
        old_root = Path(tmp) / relative
        if not old_root.is_dir():
            raise GitError(f"{display_path(here)} does not exist at {rev}")
        prefix = os.path.abspath(tmp) + os.sep

        def as_git(p: str | Path) -> str:
            # name old files as git does (REV:path), not by the temporary folder
            absolute = os.path.abspath(p)
            return f"{rev}:{absolute.removeprefix(prefix)}" if absolute.startswith(prefix) \
                else display_path(p)

        def source_as_git(p: str) -> str:
            # an old scenario's file: extracted, or the working tree's same file (reused)
            absolute = os.path.abspath(p)
            inside = _repo_relative(Path(os.path.realpath(p)), top)
            return as_git(p) if absolute.startswith(prefix) or inside is None \
                else f"{rev}:{inside}"

        # A catalogue outside the repository is not versioned: the one the working tree
        # uses stands for it, never a factors/ that happens to be above the temporary folder.
        fallback = _unversioned(project, top)
        old = _reused_side(old_root, Path(tmp), fallback, new, project, scenario_root, top,
                           unwritten)
        if old is None:
            unwritten.write(tmp)
            try:
                old = load_snapshot(old_root, top=Path(tmp), fallback=fallback)
            except InputError as exc:
                # messages may name the folder too (a config's folders, a parent's file)
                top_tmp = os.path.abspath(tmp)
                raise InputError([dataclasses.replace(
                    p, path=as_git(p.path), message=p.message.replace(prefix, f"{rev}:")
                    .replace(top_tmp, f"{rev}:")) for p in exc.problems]) from None
        old = dataclasses.replace(old, catalogue_name=as_git(old.catalogue.root or "factors"),
                                  shown=source_as_git)
        old_place = _repo_place(old.catalogue.root, Path(tmp))
        new_place = _repo_place(new.catalogue.root, top)
        diff = diff_snapshots(old, new, rev, "working tree",
                              catalogues_differ=old_place != new_place)
    diff.skipped = skipped
    return diff


def _repo_relative(folder: Path, top: Path) -> str | None:
    """``folder`` relative to the repository's ``top`` (POSIX), None outside it or at it."""
    absolute = Path(os.path.abspath(folder))
    if not absolute.is_relative_to(top) or absolute == top:
        return None
    return absolute.relative_to(top).as_posix()


def _reused_side(old_root: Path, tmp: Path, fallback: Project | None, new: Snapshot,
                 project: Project, scenario_root: Path, top: Path, unwritten: _Unwritten
                 ) -> Snapshot | None:
    """The old side with every scenario folder the revision holds unchanged taken from the
    working tree's side ``new`` (its scenarios and scores), the others read from ``tmp``; None
    where that might not be what reading the whole revision gives (a different project
    layout or settings, catalogue or trees; a scenario or partnership of a changed folder
    also in an unchanged one; any problem): the caller then reads the whole revision, and
    reports what it finds there."""
    if not unwritten.same:
        return None
    try:
        old_project = _revision_project(old_root, tmp, fallback)
    except InputError:
        return None
    old_factors = _repo_relative(old_project.factors_dir, tmp)
    old_scenarios = _repo_relative(_scenario_root(old_project, old_root), tmp)
    same_layout = (
        old_project.config == project.config and old_project.marked == project.marked
        and _repo_relative(old_project.root, tmp) == _repo_relative(project.root, top)
        and old_factors is not None and old_scenarios is not None
        and old_scenarios == _repo_relative(scenario_root, top))
    if not same_layout:
        return None
    factors, scenarios = f"{old_factors}/", f"{old_scenarios}/"
    disk_factors = yaml_names(project.factors_dir)
    disk_scenarios = yaml_names(scenario_root)
    if disk_factors is None or disk_scenarios is None:
        return None
    revision = _listed(unwritten.names)
    if not _all_same(revision, _by_relative_folder(disk_factors, unwritten.disk), unwritten,
                     factors):
        return None  # the catalogue changed: every scenario may have
    catalogue = dataclasses.replace(new.catalogue, root=old_project.factors_dir)
    try:
        trees = load_trees(catalogue, old_project.models_dir)
    except InputError:
        return None
    if trees.trees != new.trees.trees:
        return None
    on_disk = _by_relative_folder(disk_scenarios, unwritten.disk)
    # a folder is what a scenario depends on: its parents lie in it, its population in it
    # and below it
    same = {folder for folder, names in revision.items() if folder.startswith(scenarios)
            and _same_folder(folder, names, on_disk, unwritten)}
    differ = [folder for folder in {*revision, *on_disk} - same if folder.startswith(scenarios)]
    kept = {folder for folder in same if not any(d.startswith(folder) for d in differ)}
    changed = [folder for folder in revision if folder.startswith(scenarios) and
               folder not in kept]
    files = sorted((os.path.join(tmp, folder, name) for folder in changed
                    for name in revision[folder]), key=lambda f: f.replace(os.sep, "\0"))
    unwritten.write(str(tmp), (os.path.relpath(f, tmp) for f in files))
    try:
        pairs = apply_scenarios([Path(f) for f in files], catalogue=catalogue, trees=trees,
                                project=old_project, each_of_all=_with_scores) if files else []
    except InputError:
        return None
    kept_folders = {os.path.join(str(top), folder.rstrip("/")) for folder in kept}
    reused = [s for s in new.scenarios.values()
              if os.path.dirname(os.path.abspath(s.source or "")) in kept_folders]
    read = [s for s, _ in pairs]
    if len(reused) != sum(len(revision[folder]) for folder in kept) or len(read) != len(files):
        return None  # not every file one scenario: not what this reuse knows to take
    if ({s.key for s in read} & {s.key for s in reused}
            or {s.partnership for s in read} & {s.partnership for s in reused}):
        return None  # a finding of the whole revision's, across its folders
    unscored = [s for s in reused if s.key not in new.scored]
    scored = {s.key: new.scored[s.key] for s in reused if s.key in new.scored}
    scored.update(zip((s.key for s in unscored), score_many(unscored), strict=True))
    scored.update((s.key, result) for s, result in pairs)
    return Snapshot(catalogue, {s.key: s for s in [*reused, *read]}, trees, "", scored)


def _listed(names: Iterable[str]) -> dict[str, list[str]]:
    """The revision's YAML files by folder (relative, ending in "/"), as :func:`yaml_names`
    lists a folder: hidden files and folders left out."""
    out: dict[str, list[str]] = {}
    for name in names:
        folder, _, base = name.rpartition("/")
        if any(part.startswith(".") for part in name.split("/")):
            continue
        out.setdefault(f"{folder}/", []).append(base)
    return out


def _by_relative_folder(disk: dict[str, list[str]], top: str) -> dict[str, list[str]]:
    """:func:`yaml_names`' folders that hold YAML files, named relative to ``top`` as
    :func:`_listed` names them."""
    return {os.path.relpath(folder, top).replace(os.sep, "/") + "/": names
            for folder, names in disk.items() if names}


def _same_folder(folder: str, names: list[str], on_disk: dict[str, list[str]],
                 unwritten: _Unwritten) -> bool:
    """Whether the working tree's ``folder`` holds the revision's YAML files ``names`` and no
    other, each left unwritten as the same bytes (``on_disk``: :func:`_by_relative_folder`)."""
    return sorted(names) == sorted(on_disk.get(folder, ())) \
        and all(folder + name in unwritten.same for name in names)


def _all_same(revision: dict[str, list[str]], on_disk: dict[str, list[str]],
              unwritten: _Unwritten, under: str) -> bool:
    """Whether every folder below ``under`` holds the same YAML files on both sides
    (:func:`_same_folder`), and the working tree no other folder of them there."""
    ours = {folder: names for folder, names in revision.items() if folder.startswith(under)}
    theirs = {folder for folder in on_disk if folder.startswith(under)}
    return ours.keys() == theirs and all(
        _same_folder(folder, names, on_disk, unwritten) for folder, names in ours.items())


def _repo_place(folder: Path | None, top: Path) -> str | None:
    """Where a catalogue sits in its repository (both sides of ``--git`` are one repo)."""
    if folder is None:
        return None
    resolved = folder.resolve()
    return str(resolved.relative_to(top.resolve())) if resolved.is_relative_to(top.resolve()) \
        else str(resolved)

