"""Loading factor catalogues and scenarios from files: parse, validate, resolve inheritance.

Every function here either returns fully checked models or raises :class:`InputError` carrying
*all* problems found, each with file, line, column and field. The ``check_*`` functions return the
problems instead of raising, for ``riskengine validate``.
"""

from __future__ import annotations

import functools
import gc
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from riskengine.executors import can_fork, default_jobs, forked_map, keep_to_exit
from riskengine.files import (
    YAML_SUFFIXES,
    Jobs,
    ReadAhead,
    Readers,
    _parse,
    absolute,
    readers,
    suggest,
    yaml_files,
)
from riskengine.models import (
    LOADER_CHECKED,
    SLUG,
    Estimate,
    EstimateEntry,
    Factor,
    ModelSettings,
    Scenario,
    ScenarioFile,
    correlation_problems,
    kind_problems,
)
from riskengine.problems import InputError, Problem, display_path
from riskengine.project import Finder, Project, find_project, project_root
from riskengine.trees import (
    TreeSet,
    attach_populations,
    check_trees,
    models_dir_for,
    scenario_tree_problems,
)
from riskengine.yamlio import Document, Location, read_yaml

T = TypeVar("T")
U = TypeVar("U")

DEFAULT_TREE = "default"
ESTIMATE_KEYS = ("value", "low", "mode", "high")


@dataclass(frozen=True)
class Catalogue(Mapping[str, Factor]):
    """The factor definitions a scenario draws on, keyed by id."""

    factors: dict[str, Factor]
    paths: dict[str, Path] = field(default_factory=dict)
    root: Path | None = None
    # each factor's file as read, for the line of a finding about a whole factor (found when
    # one is reported: a file the fast parser read has its positions found then)
    docs: dict[str, Document] = field(default_factory=dict)
    # yaml_files(root), valid or not: what validate checked whole (listing the folder again
    # cost a listing of every factor file)
    files: tuple[Path, ...] = ()

    def position(self, factor_id: str) -> tuple[int | None, int | None]:
        """Where ``factor_id``'s `id` key is written."""
        doc = self.docs.get(factor_id)
        return (None, None) if doc is None else doc.position(("id",))

    def __getitem__(self, factor_id: str) -> Factor:
        return self.factors[factor_id]

    # Mapping's own versions go through __getitem__ and a KeyError: loading asks these of
    # every estimate of every scenario
    def __contains__(self, factor_id: object) -> bool:
        return factor_id in self.factors

    def get(self, factor_id: str, default: Any = None) -> Any:
        return self.factors.get(factor_id, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.factors)

    def __len__(self) -> int:
        return len(self.factors)

    @functools.cached_property
    def total_weight(self) -> float:
        """The sum of every factor's default weight (for reliability coverage)."""
        return math.fsum(f.weight for f in self.factors.values())

    def weight_of(self, ids: tuple[str, ...]) -> float:
        """The sum of the default weights of the distinct factors of this catalogue among
        ``ids``, kept per ``ids`` (asked of every scenario a validate run grades)."""
        found = self._weights_of.get(ids)
        if found is None:
            used = {factor_id for factor_id in ids if factor_id in self.factors}
            found = self._weights_of[ids] = math.fsum(self.factors[f].weight for f in used)
        return found

    @functools.cached_property
    def _weights_of(self) -> dict[tuple[str, ...], float]:
        return {}


LOADING_GC_THRESHOLD = (50_000, 20, 10)
# Estimates and scenarios are built under this context: every check their validators make,
# _complete and _finish have made already, with the file's line and column.
_CHECKED = {LOADER_CHECKED: True}


@contextmanager
def gc_relaxed() -> Iterator[None]:
    """Fewer cyclic garbage collections inside: loading makes hundreds of thousands of small
    containers that live on (parsed nodes, models), and the collector's passes over them at
    the default threshold (one every 700 allocations) took about a quarter of the loading
    time while finding little to free. A larger first threshold keeps most of that saving
    and, unlike switching the collector off, still frees the cycles loading leaves behind
    (5,000 files, two runs on a shared machine: CPU 18.3 -> 14.9 s and 15.0 -> 11.2 s, peak
    RSS +0 to +28 MB; off: 13.5 s but +90 MB). Nested uses are free; the caller's
    thresholds come back on exit."""
    before = gc.get_threshold()
    if before[0] >= LOADING_GC_THRESHOLD[0]:
        yield
        return
    gc.set_threshold(*LOADING_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


# ---------------------------------------------------------------------------------------------
# file discovery


def find_factors_dir(start: str | Path | None = None) -> Path:
    """The catalogue folder of the project ``start`` belongs to (:func:`find_project`)."""
    return find_project(start).factors_dir


# ---------------------------------------------------------------------------------------------
# the catalogue


def check_catalogue(path: str | Path, jobs: Jobs = None) -> tuple[Catalogue, list[Problem]]:
    """Read every factor file below ``path``; return what is valid and every problem.

    A large catalogue is read on ``jobs`` forked processes (default: every core), built here
    (:func:`_read_in_shares`); a pool of readers did not pay for its start (2,000 files:
    1.67 s to validate one of them with the pool, 1.03 s without)."""
    with gc_relaxed():
        return _check_catalogue(path, jobs)


def _read_in_shares(files: list[Path], jobs: Jobs) -> list[tuple[Any, str] | None]:
    """Each file's data and text as read by the fast parser, the files split in contiguous
    shares over forked processes when there are enough of them; None for a file to read
    here (an error, or one only ruamel reads), which then reports its own problems. Reading
    is nine tenths of a factor file; a child sends back plain data and text, cheaper to
    unpickle than the documents and models (1,000 factors: 4 ms against 28 ms)."""
    shares = shares_for(jobs, len(files), CATALOGUE_SPLIT_MIN_FILES)
    if shares < 2:
        return [None] * len(files)
    size = -(-len(files) // shares)
    parts = forked_map(_read_plain, [files[i:i + size] for i in range(0, len(files), size)])
    return [read for part in parts for read in part]


def _read_plain(files: list[Path]) -> list[tuple[Any, str] | None]:
    read: list[tuple[Any, str] | None] = []
    for file in files:
        try:
            doc = read_yaml(file)
        except InputError:
            read.append(None)
            continue
        read.append(None if doc.text is None else (doc.data, doc.text))
    return read


def _check_catalogue(path: str | Path, jobs: Jobs = None) -> tuple[Catalogue, list[Problem]]:
    root = Path(path)
    problems: list[Problem] = []
    if not root.exists():
        missing = Problem(display_path(root), None, None, "", "no such file or folder", "RE001")
        return Catalogue({}, root=root, files=(root,)), [missing]
    factors: dict[str, Factor] = {}
    paths: dict[str, Path] = {}
    docs: dict[str, Document] = {}
    files = yaml_files(root)
    for file, read in zip(files, _read_in_shares(files, jobs), strict=True):
        # a file read in a share is built from its data and text; any other is read here
        reader = read_yaml if read is None else functools.partial(_document, data=read[0],
                                                                  text=read[1])
        factor, doc, found = _parse(file, Factor, reader)
        problems.extend(found)
        if factor is None or doc is None:
            continue
        if factor.id in factors:
            problems.append(doc.problem(("id",), f"factor id {factor.id!r} is already "
                                        f"defined in {display_path(paths[factor.id])}",
                                        "RE202"))
            continue
        factors[factor.id] = factor
        paths[factor.id] = file
        docs[factor.id] = doc
    return Catalogue(factors, paths, root, docs, tuple(files)), problems


def _document(path: Path, data: Any, text: str) -> Document:
    return Document(path, data, text=text)


def load_catalogue(path: str | Path = "factors", jobs: Jobs = None) -> Catalogue:
    """Load the factor catalogue from a folder (or one file); raise on any problem.
    ``jobs``: as for :func:`check_catalogue`."""
    catalogue, problems = check_catalogue(path, jobs)
    if problems:
        raise InputError(problems)
    if not catalogue:
        raise InputError([Problem(display_path(path), None, None, "",
                                  "no factor files (*.yaml) found", "RE001")])
    return catalogue


# ---------------------------------------------------------------------------------------------
# scenarios and inheritance


@dataclass
class _Parsed:
    file: ScenarioFile
    doc: Document


@dataclass
class _Merged:
    """An estimate entry being folded down an inheritance chain, with where each key came from."""

    keys: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, tuple[Document, Location]] = field(default_factory=dict)
    broken: bool = False  # already reported; checking it further would repeat the report
    # What _complete made of it: a child that leaves the entry alone shares this _Merged with
    # its parent (folds copy an entry before changing it), so the estimate is built once for
    # the family instead of once per scenario, three in five of the estimates of an outlook.
    completed: tuple[Estimate | None, list[Problem]] | None = None

    def problem(self, key: str, message: str, code: str) -> Problem:
        doc, loc = self.origin[key]
        return doc.problem(loc, message, code)


class ScenarioReader:
    """Reads scenario files once each and resolves their inheritance within their folder."""

    def __init__(self, catalogue: Catalogue, trees: TreeSet | None = None,
                 tree: str | None = None, project: Project | None = None) -> None:
        self.catalogue = catalogue
        self.trees = trees if trees is not None else TreeSet()
        self.tree = tree  # score every scenario with this tree ("default": MODEL.md's)
        self.project = project  # its config gives defaults for what a scenario leaves unsaid
        self.parsed: dict[Path, _Parsed | None] = {}
        self.problems: dict[Path, list[Problem]] = {}
        self.resolved: dict[Path, tuple[Scenario | None, list[Problem]]] = {}
        self._active: set[Path] = set()  # being resolved: the way up a chain of `extends`
        self.folds: dict[Path, _FoldState] = {}
        # Within one run a path's absolute form and a parent's file do not change; computing
        # them again (Path parsing, a stat per `extends`) was a tenth of loading 5,000 files.
        self._absolute: dict[Path, Path] = {}
        self._parents: dict[tuple[Path, str], Path | None] = {}
        self._parent_of: dict[int, Path | None] = {}  # by id() of a _Parsed in self.parsed
        self._ends: set[Path] = set()  # files whose extends walk ends at a root: on no cycle
        self._read: Callable[[Path], Document] = read_yaml

    @contextmanager
    def reading_ahead(self, files: Sequence[Path], jobs: Jobs = None) -> Iterator[None]:
        """Inside, ``files`` are read on ``jobs`` worker processes ahead of being resolved
        (:class:`ReadAhead`): the same documents, so the same scenarios and findings."""
        with ReadAhead(files, jobs) as ahead:
            self._read = ahead.read
            try:
                yield
            finally:
                self._read = read_yaml

    def absolute(self, path: Path) -> Path:
        found = self._absolute.get(path)
        if found is None:
            found = self._absolute[path] = absolute(path)
        return found

    def parse(self, path: Path) -> _Parsed | None:
        key = self.absolute(path)
        if key not in self.parsed:
            file, doc, problems = _parse(path, ScenarioFile, self._read)
            self.parsed[key] = _Parsed(file, doc) if file is not None and doc is not None else None
            self.problems[key] = problems
        return self.parsed[key]

    def parent_path(self, parsed: _Parsed) -> Path | None:
        """The file a scenario ``extends``, if it names one that exists in its folder."""
        parent_id = parsed.file.extends
        if not parent_id:
            return None
        # asked about three times a file: answered once per parsed file (kept in self.parsed
        # for the reader's life, so its id stays its own)
        if id(parsed) in self._parent_of:
            return self._parent_of[id(parsed)]
        folder = parsed.doc.path.parent
        key = (folder, parent_id)
        if key not in self._parents:
            self._parents[key] = next((folder / f"{parent_id}{suffix}" for suffix in YAML_SUFFIXES
                                       if (folder / f"{parent_id}{suffix}").is_file()), None)
        self._parent_of[id(parsed)] = self._parents[key]
        return self._parents[key]

    def chain(self, path: Path) -> tuple[list[_Parsed], list[Problem]]:
        """The file and its ancestors, root first; problems if a parent is missing or cyclic."""
        parsed = self.parse(path)
        if parsed is None:
            return [], []
        chain = [parsed]
        seen = {self.absolute(path)}
        while (parent_id := chain[-1].file.extends) is not None and parent_id:
            child = chain[-1]
            parent_path = self.parent_path(child)
            if parent_path is None:
                siblings = [p.stem for p in child.doc.path.parent.iterdir()
                            if p.suffix in YAML_SUFFIXES]
                return [], [child.doc.problem(("extends",), f"parent scenario {parent_id!r} not "
                                              f"found in {display_path(child.doc.path.parent)}"
                                              f"{suggest(parent_id, siblings)}", "RE401")]
            if self.absolute(parent_path) in seen:
                names = " -> ".join([c.file.id for c in chain] + [parent_id])
                return [], [child.doc.problem(("extends",), f"inheritance cycle: {names}",
                                              "RE402")]
            seen.add(self.absolute(parent_path))
            parent = self.parse(parent_path)
            if parent is None:
                return [], [child.doc.problem(("extends",), f"parent scenario {parent_id!r} has "
                                              "errors", "RE401")]
            chain.append(parent)
        return chain[::-1], []

    def _on_cycle(self, start: Path) -> bool:
        """Whether following ``extends`` up from ``start`` comes back to it. The files whose
        walk ends at a root are remembered, so the files of one long chain cost one walk in
        all, not one each (a chain of 1,000 took 6.8 s, quadratic, with a walk per file)."""
        seen: set[Path] = set()
        node = self.parsed.get(start)
        while node is not None and (parent := self.parent_path(node)) is not None:
            key = self.absolute(parent)
            if key == start:
                return True
            if key in seen:
                return False  # a cycle above start, not through it
            if key in self._ends:
                break
            seen.add(key)
            node = self.parsed.get(key)
        self._ends.update(seen)
        self._ends.add(start)
        return False

    def folded(self, path: Path) -> _FoldState | None:
        """The fold of ``path``'s chain down to ``path``, each file's kept for its children,
        so a chain of L files costs L folds in all, not L**2 / 2. None when the chain has a
        problem: :meth:`chain` then finds and words it."""
        walk: list[tuple[Path, _Parsed]] = []
        seen: set[Path] = set()
        state = None
        while True:
            key = self.absolute(path)
            if key in self.folds:
                state = self.folds[key]
                break
            if key in seen:
                return None  # a cycle
            seen.add(key)
            parsed = self.parse(path)
            if parsed is None:
                return None
            walk.append((key, parsed))
            parent_id = parsed.file.extends
            if not parent_id:
                break
            parent_path = self.parent_path(parsed)
            if parent_path is None:
                return None
            path = parent_path
        for key, parsed in reversed(walk):
            state = _fold_link(state, parsed, self.catalogue, self.project)
            self.folds[key] = state
        return state

    def placement(self, path: Path, scenario: Scenario) -> Placement | None:
        """Where ``scenario``, resolved from ``path``, lies (None if the file was not read)."""
        key = self.absolute(path)
        if self.parsed.get(key) is None:
            return None
        return Placement(scenario.key, scenario.partnership, str(path),
                         os.path.dirname(str(key)))

    def resolve_all(self, files: Sequence[tuple[int, Path]], jobs: Jobs = None
                    ) -> Iterator[tuple[int, Path, Scenario | None, list[Problem],
                                        Placement | None]]:
        """Each numbered file's scenario (:meth:`resolve`), its problems and where it lies,
        in order, the files read ahead on ``jobs`` workers: what loading and validate both
        walk a share of files with."""
        with self.reading_ahead([file for _, file in files], jobs):
            for index, file in files:
                scenario, found = self.resolve(file)
                place = None if scenario is None else self.placement(file, scenario)
                yield index, file, scenario, found, place

    def doc_of(self, path: Path) -> Document:
        """The document of a file this reader has read, else read now."""
        parsed = self.parsed.get(self.absolute(path))
        return parsed.doc if parsed is not None else read_yaml(path)

    def resolve(self, path: str | Path) -> tuple[Scenario | None, list[Problem]]:
        """The scenario at ``path`` with inheritance applied, and every problem of its own file."""
        if not isinstance(path, Path):  # Path(a Path) parses it again: a tenth of a ms a file
            path = Path(path)
        key = self.absolute(path)
        if key in self.resolved:
            return self.resolved[key]
        if not path.exists():  # anything else there (a FIFO, a folder) is read_yaml's to refuse
            return None, [Problem(display_path(path), None, None, "", "no such file", "RE001")]
        if key in self._active:
            return None, []  # a cycle back to a file being resolved: its chain reports it
        self._active.add(key)
        try:
            with gc_relaxed():
                self.resolved[key] = self._resolve(path, key)
        finally:
            self._active.discard(key)
        return self.resolved[key]

    def _resolve(self, path: Path, key: Path) -> tuple[Scenario | None, list[Problem]]:
        state = self.folded(path)
        leaf = self.parse(path)
        own = list(self.problems.get(key, []))  # after parsing: the file's own findings
        if state is not None and leaf is not None:
            # the chain is sound: each file's fold is kept for its children
            chain: list[_Parsed] = [leaf]
            scenario, found = _finish(state, leaf, self.catalogue, self.trees, self.tree,
                                      self.project)
            found = own + found
        else:
            chain, problems = self.chain(path)
            if not chain:
                scenario, found = None, own + problems
            else:
                scenario, found = _fold(chain, self.catalogue, self.trees, self.tree,
                                        self.project)
                found = own + found
        if any(p.severity == "error" for p in found):
            scenario = None
        parsed = self.parsed.get(key)
        parent = self.parent_path(parsed) if parsed is not None else None
        if parsed is None or parent is None or self._on_cycle(key):
            return scenario, found  # each file of a cycle reports the cycle as it sees it
        parent_scenario, inherited = self.resolve(parent)
        if parent_scenario is not None or not any(p.severity == "error" for p in inherited):
            return scenario, found
        # The parent cannot be scored: its findings say why, once, at the parent. The child
        # adds only what its own file gets wrong beyond repeating them (not "the parent has
        # errors", not the parent's kind check again at the child's `factors`).
        repeated = {(p.code, p.field, p.message) for p in inherited}
        mine = [p for p in found if p.path == parsed.doc.shown and chain
                and (p.code, p.field, p.message) not in repeated]
        return None, inherited + mine

    def siblings(self, scenario: Scenario) -> list[Scenario]:
        """The valid scenarios of ``scenario``'s folder (its population, for a tree that
        normalises over one)."""
        folder = Path(scenario.source or ".").parent
        resolved = (self.resolve(p)[0] for p in yaml_files(folder))
        return [s for s in resolved if s is not None]

    def tree_location(self, scenario: Scenario) -> tuple[Document, Location] | None:
        parsed = self.parsed.get(self.absolute(Path(scenario.source or "")))
        return None if parsed is None else (parsed.doc, ("tree",))

    def with_populations(self, scenarios: list[Scenario]) -> tuple[list[Scenario], list[Problem]]:
        return attach_populations(scenarios, self.siblings, self.tree_location)


@dataclass(frozen=True)
class Placement:
    """Where a valid scenario lies: what the checks across folders need of it, in plain values
    (a worker checking some folders sends these back)."""

    key: str
    partnership: str
    # Text, not Paths: a share sends thousands back, and unpickling a Path parses it again
    # (5,000 files: 47 ms of the parent's time after the shares had finished).
    path: str  # as given
    folder: str  # absolute


def placement_problems(placed: Iterable[Placement], doc_of: Callable[[Path], Document]
                       ) -> list[Problem]:
    """One partnership's scenarios live in one folder, so ``partnership/id`` names one file
    and ``extends`` means the same parent wherever the scenarios are compared. ``placed`` in
    the order the files were given (the first place of a key or partnership is its home);
    ``doc_of`` gives the document of a file found in the wrong place, to locate the finding."""
    first_of: dict[str, Placement] = {}
    home_of: dict[str, Placement] = {}
    reported: set[tuple[str, str]] = set()
    problems = []
    for place in placed:
        first = first_of.setdefault(place.key, place)
        if first.folder != place.folder or (os.path.basename(first.path)
                                            != os.path.basename(place.path)):
            doc = doc_of(Path(place.path))
            problems.append(doc.problem(("id",), f"scenario {place.key} is also defined in "
                                        f"{display_path(first.path)}", "RE202"))
            continue
        home = home_of.setdefault(place.partnership, place)
        if place.folder != home.folder and (place.partnership, place.folder) not in reported:
            reported.add((place.partnership, place.folder))
            doc = doc_of(Path(place.path))
            where = ("partnership",) if ("partnership",) in doc.positions else ("id",)
            problems.append(doc.problem(where, f"partnership {place.partnership!r} is also "
                                        f"used in {display_path(home.folder)} "
                                        f"({display_path(home.path)}); one partnership's "
                                        "scenarios belong in one folder", "RE502"))
    return problems


@dataclass
class _FoldState:
    """What folding a chain down to one of its files has found: the start of every child's
    fold, so each file of a long ``extends`` chain is folded once, not once per descendant."""

    settings: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    entries: dict[str, _Merged] = field(default_factory=dict)
    tree_doc: Document | None = None  # the last file naming a tree (else the leaf)
    correlations_doc: Document | None = None  # the last file giving correlations
    problems: list[Problem] = field(default_factory=list)


def _fold_link(state: _FoldState | None, link: _Parsed, catalogue: Catalogue,
               project: Project | None = None) -> _FoldState:
    """``state`` (the parent's fold, left unchanged) with one more file folded in; the root
    of a chain starts from ``project``'s defaults."""
    file, doc = link.file, link.doc
    if state is None:
        state = _FoldState(project.config.model.model_dump(exclude_none=True)
                           if project is not None else {})
    # copy on write: the parent's state is shared by all its children
    new = _FoldState(dict(state.settings), dict(state.header), dict(state.entries),
                     state.tree_doc, state.correlations_doc, list(state.problems))
    if file.model is not None:
        new.settings.update(file.model.model_dump(exclude_none=True))
    for name in ("partnership", "parties", "as_of", "description", "signposts",
                 "correlations", "tree"):
        if getattr(file, name) is not None:
            new.header[name] = getattr(file, name)
    if file.tree is not None:
        new.tree_doc = doc
    if file.correlations is not None:
        new.correlations_doc = doc  # an inherited list's problems belong to the parent's file
    for factor_id, entry in file.factors.items():
        inherited = new.entries.get(factor_id)
        if inherited is not None:
            new.entries[factor_id] = _Merged(dict(inherited.keys), dict(inherited.origin),
                                             inherited.broken)
        new.problems.extend(_merge_entry(new.entries, factor_id, entry, doc, catalogue))
    return new


def _fold(chain: list[_Parsed], catalogue: Catalogue, trees: TreeSet | None = None,
          tree_override: str | None = None, project: Project | None = None
          ) -> tuple[Scenario | None, list[Problem]]:
    state = None
    for link in chain:
        state = _fold_link(state, link, catalogue, project)
    assert state is not None
    return _finish(state, chain[-1], catalogue, trees, tree_override, project)


def _finish(state: _FoldState, leaf: _Parsed, catalogue: Catalogue, trees: TreeSet | None,
            tree_override: str | None, project: Project | None = None
            ) -> tuple[Scenario | None, list[Problem]]:
    """The scenario of a folded chain whose last file is ``leaf``, or its problems."""
    problems = list(state.problems)
    settings, header, entries = state.settings, dict(state.header), state.entries
    tree_doc = state.tree_doc or leaf.doc
    correlations_doc = state.correlations_doc or leaf.doc

    factors = catalogue.factors  # the dict itself: asked twice of every estimate
    for factor_id in entries:
        if factor_id not in factors:
            doc, loc = next(iter(entries[factor_id].origin.values()))
            problems.append(replace(doc.problem(loc[:2], f"unknown factor {factor_id!r}"
                                                f"{suggest(factor_id, catalogue)}", "RE301"),
                                    subject=factor_id))
    estimates = []
    for factor_id, merged in entries.items():
        if factor_id in factors and not merged.broken:
            if merged.completed is None:
                merged.completed = _complete(factors[factor_id], merged)
            estimate, found = merged.completed
            problems.extend(found)
            if estimate is not None:
                estimates.append(estimate)

    if tree_override is not None:
        header["tree"] = None if tree_override == DEFAULT_TREE else tree_override
    elif header.get("tree") is None and project is not None and project.config.tree:
        header["tree"] = None if project.config.tree == DEFAULT_TREE else project.config.tree
    tree = None
    if header.get("tree") is not None:
        tree = (trees or TreeSet()).get(header["tree"])
        if tree is None:
            known = sorted((trees or TreeSet()).trees)
            where = f"{display_path(trees.root)}" if trees and trees.root else "models/"
            problems.append(tree_doc.problem(("tree",), f"unknown tree {header['tree']!r}: no "
                                             f"{header['tree']}.yaml in {where}"
                                             f"{suggest(header['tree'], known)}", "RE706"))
    else:
        problems.extend(_check_kinds(leaf, estimates, len(entries)))
    for loc, message, code in correlation_problems(list(entries),
                                                   header.get("correlations") or ()):
        problems.append(correlations_doc.problem(("correlations", *loc), message, code))
    partnership = header.get("partnership")
    if partnership is None:
        # The folder's name stands in only when it is a slug like the key would be: a name
        # with quotes, newlines or markup would otherwise reach every table and report.
        partnership = leaf.doc.path.parent.name
        if not re.fullmatch(SLUG, partnership):
            problems.append(leaf.doc.problem(("partnership",), f"the folder name "
                                             f"{partnership!r} is not a partnership slug "
                                             f"(lowercase letters, digits, -); set "
                                             "`partnership:` in the file", "RE102"))
    if problems:
        return None, problems
    scenario = Scenario.model_validate(dict(
        id=leaf.file.id,
        title=leaf.file.title,
        partnership=partnership,
        parties=tuple(header["parties"]) if header.get("parties") else None,
        as_of=header.get("as_of"),
        probability=leaf.file.probability,
        extends=leaf.file.extends,
        description=header.get("description"),
        signposts=tuple(header.get("signposts") or ()),
        model=ModelSettings.model_validate(settings),
        estimates=tuple(estimates),
        correlations=tuple(header.get("correlations") or ()),
        source=leaf.doc.shown,
        tree=tree,
        project=project.shown if project is not None else None,
        catalogue=display_path(catalogue.root) if catalogue.root is not None else None,
    ), context=_CHECKED)
    if tree is not None:
        found = scenario_tree_problems(scenario, tree_doc, ("tree",))
        if any(p.severity == "error" for p in found):
            return None, found
        return scenario, found
    return scenario, []


def _merge_entry(entries: dict[str, _Merged], factor_id: str, entry: EstimateEntry,
                 doc: Document, catalogue: Catalogue) -> list[Problem]:
    # the entry's own values, not model_dump's: that turns its Evidence models into dicts,
    # which the Estimate then had to validate again (a sixth of loading 5,000 files)
    given = {key: value for key, value in entry.__dict__.items() if value is not None}
    base = ("factors", factor_id)
    merged = entries.get(factor_id)
    if merged is None:  # not setdefault: that built a _Merged (two dicts) for every entry
        merged = entries[factor_id] = _Merged()
    keys, origin = merged.keys, merged.origin
    if "" not in origin:
        origin[""] = (doc, base)
    # `stale`: what an entry that changes the numbers makes stale of the parent's. Evidence
    # and confidence speak for the numbers they came with: a child that changes the numbers
    # without giving its own does not inherit the parent's. And a new value replaces a
    # parent's three-point estimate and vice versa.
    if "shift" in given:
        named_estimates = [k for k in ESTIMATE_KEYS if k in given]
        if named_estimates:
            return [doc.problem((*base, "shift"), "shift cannot be combined with "
                                f"{', '.join(named_estimates)} in one entry", "RE102")]
        present = [k for k in ESTIMATE_KEYS if k in keys]
        if not present:
            return [doc.problem((*base, "shift"), "shift needs a parent estimate of "
                                f"{factor_id!r} to move", "RE404")]
        shift = given.pop("shift")
        factor = catalogue.get(factor_id)
        at_shift = (doc, ("factors", factor_id, "shift"))
        problems = []
        for key in present:
            moved = keys[key] + shift
            keys[key] = moved
            origin[key] = at_shift
            if factor is not None and not factor.scale.min <= moved <= factor.scale.max:
                problems.append(doc.problem(at_shift[1], f"shift {shift:+g} moves {key} to "
                                            f"{moved:g}, outside the scale {factor.scale.min:g}.."
                                            f"{factor.scale.max:g}", "RE403"))
        if problems:
            merged.broken = True
            return problems
        stale: tuple[str, ...] = ("evidence", "confidence")
    elif "value" in given:
        stale = ("evidence", "confidence", "low", "mode", "high")
    elif "low" in given or "mode" in given or "high" in given:
        stale = ("evidence", "confidence", "value")
    else:
        stale = ()
    if keys:
        for key in stale:
            if key not in given and key in keys:
                del keys[key]
                origin.pop(key, None)
    for key, val in given.items():
        keys[key] = val
        origin[key] = (doc, ("factors", factor_id, key))
    return []


def _complete(factor: Factor, merged: _Merged) -> tuple[Estimate | None, list[Problem]]:
    keys = merged.keys
    lo, hi = factor.scale.min, factor.scale.max
    distribution = keys.get("distribution", "pert")
    if "value" not in keys and "low" in keys and "mode" in keys and "high" in keys:
        # the common case, each check below passed at once: a sound three-point estimate
        # (10.3 -> 8.0 µs an estimate of the 5,000 generated files)
        low, mode, high = keys["low"], keys["mode"], keys["high"]
        if lo <= low <= mode <= high <= hi and (distribution != "uniform" or low < high):
            return _estimate(factor, keys, low, mode, high, distribution, False), []
    entry_loc = merged.origin[""]
    problems: list[Problem] = []
    if "value" in keys and any(k in keys for k in ("low", "mode", "high")):
        return None, [merged.problem("value", "give either value or low/mode/high, not both",
                                     "RE102")]
    if "value" in keys:
        low = mode = high = keys["value"]
        fixed = True
    else:
        fixed = False
        needed = ("low", "high") if distribution == "uniform" else ("low", "mode", "high")
        missing = [k for k in needed if k not in keys]
        if missing:
            doc, loc = entry_loc
            return None, [doc.problem(loc, f"estimate needs {', '.join(missing)} (or a single "
                                      "value)", "RE304")]
        low, high = keys["low"], keys["high"]
        mode = keys.get("mode", (low + high) / 2)
    for key in ("value",) if fixed else ("low", "mode", "high"):
        if key not in keys:
            continue
        if not lo <= keys[key] <= hi:
            problems.append(merged.problem(key, f"{key} {keys[key]:g} is outside the scale "
                                           f"{lo:g}..{hi:g} ({factor.scale.unit})", "RE302"))
    if not fixed and not problems:
        if not low <= mode <= high:
            problems.append(merged.problem("mode" if "mode" in keys else "low",
                                           f"estimate must satisfy low <= mode <= high "
                                           f"(got {low:g}, {mode:g}, {high:g})", "RE303"))
        elif distribution == "uniform" and not low < high:
            problems.append(merged.problem("low", "a uniform estimate needs low < high "
                                           f"(got {low:g}, {high:g})", "RE303"))
    if problems:
        return None, problems
    return _estimate(factor, keys, low, mode, high, distribution, fixed), []


def _estimate(factor: Factor, keys: dict[str, Any], low: float, mode: float, high: float,
              distribution: str, fixed: bool) -> Estimate:
    # under _CHECKED: the checks across fields were made by _complete, at the lines that
    # wrote them
    return Estimate.model_validate(dict(
        factor=factor, low=low, mode=mode, high=high, distribution=distribution,
        confidence=keys.get("confidence"), weight=keys.get("weight", factor.weight),
        evidence=tuple(keys.get("evidence", ())), fixed=fixed,
    ), context=_CHECKED)


def _check_kinds(leaf: _Parsed, estimates: list[Estimate], n_entries: int) -> list[Problem]:
    if len(estimates) != n_entries:
        return []  # the missing ones already reported; a kind count now would mislead
    return [leaf.doc.problem(("factors",), message, code)
            for message, code in kind_problems(estimates)]


def scenario_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Scenario files named directly, or found below folders, in order and without repeats.
    A project's root folder stands for its scenarios folder: below the root lie its factor
    and tree files too, which read as scenarios would each be a finding."""
    return list(_listing(paths))


def _listing(paths: Iterable[str | Path]) -> dict[Path, bool]:
    """:func:`scenario_paths`, each with whether it was named rather than found in a listed
    folder (a named one may not exist)."""
    # a dict keeps the order; a list's `in` made 5,000 files 12.5 million Path comparisons
    out: dict[Path, bool] = {}
    for path in paths:
        root = _scenarios_of_root(path)
        named = not os.path.isdir(root)
        for file in yaml_files(root):
            out.setdefault(file, named)
    return out


@dataclass(frozen=True)
class ScenarioFiles:
    """The scenario files of some paths, listed and checked once
    (:func:`list_scenario_files`): the loaders take them as they are rather than list the
    paths again (5,000 files: 0.11 s, a stat or two and a Path for each)."""

    given: tuple[str | Path, ...]  # the paths as named, for messages
    files: tuple[Path, ...]


def list_scenario_files(paths: Iterable[str | Path] | str | Path) -> ScenarioFiles:
    """The scenario files at ``paths`` (:func:`scenario_paths`), none if there are none; raise
    :class:`InputError` (RE001) naming each path named as a file that does not exist."""
    given = (paths,) if isinstance(paths, str | Path) else tuple(paths)
    listing = _listing(given)
    # a file found by listing its folder was there a moment ago; reading it says if it left
    missing = [Problem(display_path(f), None, None, "", "no such file or folder", "RE001")
               for f, named in listing.items() if named and not f.exists()]
    if missing:
        raise InputError(missing)
    return ScenarioFiles(given, tuple(listing))


#: what the loaders take: files and folders, or files already listed
ScenarioPaths = Iterable[str | Path] | str | Path | ScenarioFiles


def _scenarios_of_root(path: str | Path) -> str | Path:
    """``path``, or the scenarios folder of the project whose root it is."""
    if not os.path.isdir(path):
        return path
    found = project_root(path)
    if found is None or found[0] != absolute(path):
        return path
    return find_project(path).scenarios_dir


def load_scenario(path: str | Path, catalogue: Catalogue | None = None) -> Scenario:
    """Load one scenario file, applying ``extends``; raise :class:`InputError` on any problem.

    Without a catalogue, the catalogue of the file's project is used.
    """
    return load_scenarios([path], catalogue)[0]


def load_trees(catalogue: Catalogue, models: str | Path | None = None) -> TreeSet:
    """The trees of the catalogue's project (``models/`` beside ``factors/``), or of
    ``models``; raise on any problem in them."""
    folder = Path(models) if models is not None else (
        models_dir_for(catalogue.root) if catalogue.root is not None else None)
    if folder is None:
        return TreeSet()
    trees, problems = check_trees(folder, catalogue)
    if problems:
        raise InputError(problems)
    return trees


def _files(paths: ScenarioPaths) -> list[Path]:
    listed = paths if isinstance(paths, ScenarioFiles) else list_scenario_files(paths)
    if not listed.files:
        raise InputError([Problem(", ".join(display_path(p) for p in listed.given), None,
                                  None, "", "no scenario files found", "RE001")])
    return list(listed.files)


def load_scenarios(paths: ScenarioPaths,
                   catalogue: Catalogue | None = None, trees: TreeSet | None = None,
                   tree: str | None = None, project: Project | None = None,
                   jobs: Jobs = None) -> list[Scenario]:
    """Load scenario files and folders of them; raise one :class:`InputError` with all problems.

    Every scenario is read with ``catalogue`` and ``trees`` (default: those of the first file's
    project) and ``project``'s defaults. ``tree`` scores every scenario with that tree of the
    project instead of its own (``"default"``: MODEL.md's formula). To read scenarios of
    several projects, each with its own catalogue, use :func:`load_project_scenarios`.
    ``jobs``: worker processes reading a large set of files (default: every core; the result
    is the same for any number).
    """
    files = _files(paths)
    with readers(jobs) as shared:  # one pool for the catalogue and the scenarios
        return _load_scenarios(files, catalogue, trees, tree, project, shared, None)


def apply_scenarios(paths: ScenarioPaths, each: Callable[[Scenario], T] | None = None,
                    catalogue: Catalogue | None = None, trees: TreeSet | None = None,
                    tree: str | None = None, project: Project | None = None,
                    jobs: Jobs = None, *,
                    each_of_all: Callable[[list[Scenario]], Sequence[T]] | None = None
                    ) -> list[T]:
    """``each`` of every scenario :func:`load_scenarios` would load, in its order, with the
    same errors: for a large set of files, applied where each share of folders is loaded
    (as :func:`apply_project_scenarios`), so only the results come back. ``each_of_all``
    instead of ``each``: given all the scenarios one process loads at once, their results
    in order (work that is faster over many, as :func:`riskengine.scoring.score_many`)."""
    files = _files(paths)
    with readers(jobs) as shared:
        return _load_scenarios(files, catalogue, trees, tree, project, shared,
                               _of_all(each, each_of_all))


def _load_scenarios(files: list[Path], catalogue: Catalogue | None, trees: TreeSet | None,
                    tree: str | None, project: Project | None, jobs: Jobs,
                    each: _EachOfAll | None) -> list[Any]:
    if catalogue is None:
        project = project or find_project(files[0])
        catalogue = load_catalogue(project.factors_dir, jobs)
        if trees is None:
            trees = load_trees(catalogue, project.models_dir)
    if trees is None:
        trees = load_trees(catalogue)
    if tree is not None and tree != DEFAULT_TREE and tree not in trees:
        where = display_path(trees.root) if trees.root is not None else "models/"
        raise InputError([Problem(where, None, None, "tree", f"unknown tree {tree!r}: no "
                                  f"{tree}.yaml in {where}{suggest(tree, trees.trees)}",
                                  "RE706")])
    with gc_relaxed():
        return [result for _, _, result in _applied(
            files, ScenarioReader(catalogue, trees, tree, project), jobs, each,
            shares_for(jobs, len(files)))]


@dataclass
class _Applied:
    """What one process made of some of a project's scenario files, numbered by their place
    among all: the errors that stop loading (by the file being read when found), where each
    scenario lies, the population findings (reported if nothing before stops loading), and
    ``each`` of every scenario, or the scenario itself, when nothing does."""

    errors: list[tuple[int, Problem]]
    placed: list[tuple[int, Placement]]
    later: list[Problem]
    results: list[tuple[int, Placement | None, Any]]


_EachOfAll = Callable[[list[Scenario]], Sequence[Any]]


def _of_all(each: Callable[..., Any] | None, each_of_all: Callable[..., Sequence[Any]] | None
            ) -> Callable[..., Sequence[Any]]:
    """The one function of the two given, as the loaders apply it: to a process's scenarios
    at once (and to what else the caller passes, a project's catalogue)."""
    if (each is None) == (each_of_all is None):
        raise TypeError("give either each or each_of_all")
    if each_of_all is not None:
        return each_of_all
    assert each is not None
    return _one_by_one(each)


def _one_by_one(each: Callable[..., Any]) -> Callable[..., list[Any]]:
    """``each`` of one scenario, made a function of a process's scenarios at once."""
    return lambda scenarios, *given: [each(scenario, *given) for scenario in scenarios]


def _apply_share(reader: ScenarioReader, files: list[tuple[int, Path]],
                 each: _EachOfAll | None, jobs: Jobs) -> _Applied:
    resolved: list[tuple[int, Scenario]] = []
    errors: list[tuple[int, Problem]] = []
    placed: list[tuple[int, Placement]] = []
    for index, _, scenario, found, place in reader.resolve_all(files, jobs):
        errors.extend((index, p) for p in found if p.severity == "error")
        if scenario is not None:
            resolved.append((index, scenario))
        if place is not None:
            placed.append((index, place))
    if errors:
        return _Applied(errors, placed, [], [])
    scenarios, later = reader.with_populations([scenario for _, scenario in resolved])
    if later:
        return _Applied([], placed, later, [])
    where = dict(placed)
    results = scenarios if each is None else each(scenarios)
    return _Applied([], placed, [], [
        (index, where.get(index), result)
        for (index, _), result in zip(resolved, results, strict=True)])


def _applied(files: list[Path], reader: ScenarioReader, jobs: Jobs,
             each: _EachOfAll | None, shares: int
             ) -> list[tuple[int, Placement | None, Any]]:
    """``each`` of the scenarios of every file (the scenario itself if None), numbered by the
    file's place; on ``shares`` processes, each with whole folders (a scenario's parents and
    population lie in its folder), when more than one. One :class:`InputError` with every
    problem, the same for any number of shares."""
    if shares > 1:
        applied = forked_map(functools.partial(_apply_share, reader, each=each, jobs=1),
                             folder_shares(files, shares))
    else:
        applied = [_apply_share(reader, list(enumerate(files)), each, jobs)]
    problems = in_file_order(e for a in applied for e in a.errors)
    placed = in_file_order(p for a in applied for p in a.placed)
    problems.extend(placement_problems(placed, reader.doc_of))
    if problems:
        raise InputError(problems)
    later = [p for a in applied for p in a.later]
    if later:
        raise InputError(later)
    return sorted((r for a in applied for r in a.results), key=_number)


def _number(numbered: tuple[int, Any]) -> int:
    return numbered[0]


def in_file_order(numbered: Iterable[tuple[int, T]]) -> list[T]:
    """The items of ``(place, item)`` pairs gathered from several processes, in the order
    of the places (the files' order): the same order whatever process found each."""
    return [item for _, item in sorted(numbered, key=_number)]


def folder_shares(files: Sequence[Path], shares: int) -> list[list[tuple[int, Path]]]:
    """The numbered ``files`` in at most ``shares`` parts of about as many files each, every
    folder's files in one part, each part in the files' order."""
    folders: dict[str, list[tuple[int, Path]]] = {}
    for index, file in enumerate(files):  # by text: a Path made per file cost 0.1 s at 5,000
        folders.setdefault(os.path.dirname(os.path.abspath(file)), []).append((index, file))
    parts: list[list[tuple[int, Path]]] = [[]]
    size = math.ceil(len(files) / shares)
    for folder_files in folders.values():
        if len(parts[-1]) >= size and len(parts) < shares:
            parts.append([])
        parts[-1].extend(folder_files)
    return [sorted(part, key=_number) for part in parts if part]


@dataclass(frozen=True)
class ProjectScenarios:
    """The scenarios of one project, with the catalogue and trees they were scored with."""

    project: Project
    catalogue: Catalogue
    trees: TreeSet
    scenarios: list[Scenario]


@dataclass(frozen=True)
class Loaded:
    """Scenarios from one or several projects, each read with its own project's catalogue."""

    scenarios: list[Scenario]  # in the order the paths named them
    groups: list[ProjectScenarios]

    @functools.cached_property
    def catalogues(self) -> dict[str, Catalogue]:
        """Each scenario's catalogue, by ``scenario.key``."""
        return {s.key: group.catalogue for group in self.groups for s in group.scenarios}

    def catalogue_of(self, scenario: Scenario) -> Catalogue:
        return self.catalogues[scenario.key]


class UnknownTree(ValueError):
    """``tree`` names no tree of a project (a usage error, not a problem in a file)."""


def load_project_scenarios(paths: ScenarioPaths,
                           factors: str | Path | None = None,
                           tree: str | None = None, jobs: Jobs = None) -> Loaded:
    """Load scenario files and folders from any number of projects, each scenario with the
    catalogue, trees and defaults of the project it lies in (``factors``: one catalogue for
    all instead). Raise one :class:`InputError` with every problem of every project, or
    :class:`UnknownTree` when ``tree`` is no tree of a project. ``jobs``: worker processes
    reading large sets of files (default: every core; the result is the same for any number)."""
    files = _files(paths)
    with readers(jobs) as shared:  # one pool for every project's files
        found = _by_project(files, factors, tree, shared, None)
    groups = [ProjectScenarios(project, catalogue, trees, [s for _, s in numbered])
              for project, catalogue, trees, numbered in found]
    return Loaded(in_file_order(n for *_, numbered in found for n in numbered), groups)


def apply_project_scenarios(paths: ScenarioPaths,
                            each: Callable[[Scenario, Catalogue], T] | None = None,
                            factors: str | Path | None = None, tree: str | None = None,
                            jobs: Jobs = None,
                            alone: Callable[[Scenario, Catalogue], U] | None = None, *,
                            each_of_all: Callable[[list[Scenario], Catalogue], Sequence[T]]
                            | None = None) -> list[T | U]:
    """``each(scenario, catalogue)`` of every scenario :func:`load_project_scenarios` would
    load, in its order, with the same errors; from a large set of files, on every core
    (``jobs``): each process loads whole folders of a project and applies ``each`` there,
    and only the results come back (sending 5,000 scenarios back took longer than loading
    them), so they should be plain values. ``each`` must give the same result for a scenario
    wherever it runs (no state carried from one scenario to the next).

    ``alone``: applied instead of ``each`` to the scenarios of a project whose files are
    loaded by this process alone (too few to share out, one job, or no fork here), for a
    caller that spreads that work another way (a pool of workers).

    ``each_of_all`` instead of ``each``: given all the scenarios of a project one process
    loads at once, and the catalogue, their results in order (work that is faster over many,
    as :func:`riskengine.scoring.score_many`)."""
    files = _files(paths)
    of_all = _of_all(each, each_of_all)
    with readers(jobs) as shared:
        found = _by_project(files, factors, tree, shared, of_all,
                            None if alone is None else _one_by_one(alone))
    return in_file_order(n for *_, numbered in found for n in numbered)


def _by_project(files: list[Path], factors: str | Path | None, tree: str | None,
                jobs: Readers, each: Callable[[list[Scenario], Catalogue], Sequence[Any]] | None,
                alone: Callable[[list[Scenario], Catalogue], Sequence[Any]] | None = None,
                ) -> list[tuple[Project, Catalogue, TreeSet, list[tuple[int, Any]]]]:
    """Each project's catalogue, trees and the numbered scenarios of its files (or ``each`` of
    them; ``alone`` of them where they are not shared out), numbered by the file's place in
    ``files``."""
    # with one catalogue for all, the first file's project gives the trees and defaults
    finder = Finder()
    forced = finder.find(files[0]) if factors is not None else None
    # a file's folder -> its project's numbers, walked up once; by text (a Path per file
    # took 0.12 s of 5,000 files, the parent's alone before any share could start)
    of_folder: dict[str, list[int]] = {}
    groups: dict[Path, tuple[Project, list[int]]] = {}
    problems: list[Problem] = []
    for index, file in enumerate(files):
        folder = os.path.dirname(os.path.abspath(file))
        numbers = of_folder.get(folder)
        if numbers is None:
            project = forced or finder.find(file)
            numbers = of_folder[folder] = groups.setdefault(project.root, (project, []))[1]
        numbers.append(index)
    loaded: list[tuple[Project, Catalogue, TreeSet, list[tuple[int, Any]]]] = []
    homes: dict[str, tuple[str, str, str | None]] = {}  # key -> its file, as given, project
    for project, numbers in groups.values():
        shares = shares_for(jobs, len(numbers))
        try:
            catalogue = load_catalogue(factors if factors is not None else project.factors_dir,
                                       jobs)
            trees = load_trees(catalogue, None if factors is not None else project.models_dir)
            if tree is not None and tree != DEFAULT_TREE and tree not in trees:
                where = display_path(trees.root or project.models_dir)
                known = ", ".join(sorted(trees.trees)) or "none"
                raise UnknownTree(f"no such tree in {where} (trees: {known}, or 'default')")
            default = project.config.tree
            if tree is None and default and default != DEFAULT_TREE and default not in trees:
                raise InputError([Problem(
                    display_path(project.config_path or project.root), None, None, "tree",
                    f"unknown tree {default!r}: no {default}.yaml in "
                    f"{display_path(project.models_dir)}{suggest(default, trees.trees)}",
                    "RE706")])
            reader = ScenarioReader(catalogue, trees, tree, project)
            apply = each if shares > 1 or alone is None else alone
            with gc_relaxed():
                applied = _applied([files[n] for n in numbers], reader, jobs,
                                   None if apply is None else _given(apply, catalogue), shares)
            keep_to_exit(reader)  # the files read here, with their parents and models
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        for _, place, _ in applied:
            if place is None:
                continue
            home = os.path.join(place.folder, os.path.basename(place.path))
            first = homes.setdefault(place.key, (home, place.path, project.shown))
            if first[0] != home:
                problems.append(Problem(display_path(place.path), None, None, "id",
                                        f"scenario {place.key} is also defined in "
                                        f"{display_path(first[1])} (project {first[2]}); "
                                        "compare scenarios of one key once", "RE202"))
        loaded.append((project, catalogue, trees,
                       [(numbers[index], result) for index, _, result in applied]))
    if problems:
        raise InputError(problems)
    return loaded


def _given(each: Callable[[list[Scenario], Catalogue], Sequence[Any]], catalogue: Catalogue
           ) -> _EachOfAll:
    return lambda scenarios: each(scenarios, catalogue)


# From this many scenario files of a project, they are loaded or checked on every core (a
# fork, and the results sent back, cost a few milliseconds; 400 generated files took 0.5 s
# to load on one core).
SPLIT_MIN_FILES = 400


# Factor files are read in shares from this many: reading one is a tenth of a ms, and a
# child's documents come back for about a twentieth of that (2,000 factors: 0.29 -> 0.22 s).
CATALOGUE_SPLIT_MIN_FILES = 400


def shares_for(jobs: Jobs, files: int, least: int | None = None) -> int:
    """How many processes load ``files`` scenario files (or ``least`` or more of another
    kind): ``jobs`` when that many are worth it and this process can fork them, else one
    (this one)."""
    if isinstance(jobs, Readers):
        jobs = jobs.jobs
    # no more shares than cores: each is a whole process working at full speed
    count = default_jobs() if jobs is None else min(jobs, default_jobs())
    worth = files >= (SPLIT_MIN_FILES if least is None else least)
    return count if count > 1 and worth and can_fork() else 1


def _some(names: Iterable[str], shown: int = 5) -> str:
    """A list of names for a one-line message: the first few, then how many more."""
    names = list(names)
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def outlook_problems(scenarios: Sequence[Scenario], tolerance: float = 1e-9,
                     shown: Callable[[str], str] | None = None) -> list[Problem]:
    """An outlook's scenarios share one partnership and have probabilities that sum to 1.
    ``shown``: how a scenario's file is named (default: as its ``source`` says)."""
    if not scenarios:
        return []

    def name(scenario: Scenario) -> str:
        return scenario.id if not scenario.source else \
            shown(scenario.source) if shown is not None else scenario.source

    names = _some(name(s) for s in scenarios)
    where = name(scenarios[0])
    partnerships = sorted({s.partnership for s in scenarios})
    if len(partnerships) > 1:
        return [Problem(where, None, None, "partnership", "one outlook mixes partnerships "
                        f"{', '.join(partnerships)} ({names})", "RE502")]
    lacking = [name(s) for s in scenarios if s.probability is None]
    if lacking:
        return [Problem(where, None, None, "probability", "an outlook needs a probability in "
                        f"every scenario; missing in {_some(lacking)}", "RE501")]
    total = math.fsum(s.probability or 0.0 for s in scenarios)
    if abs(total - 1.0) > tolerance:
        return [Problem(where, None, None, "probability", f"probabilities sum to {total:.12g}, "
                        f"not 1 ({names})", "RE501")]
    return []
