"""Checking factor and scenario files, collecting every problem (``riskengine validate``).

Files below a folder named ``factors`` are factor definitions, in a ``models`` folder model
trees; every other YAML file is a scenario. Scenarios are checked against the catalogue given,
else against the factor files being validated, else against the nearest ``factors/`` folder
above them.

Errors come from loading (the file cannot be scored); warnings from :mod:`riskengine.lint`
(it can, but a reviewer should look). Selection (``select``/``ignore``, ruff-style code
prefixes) and ``strict`` (warnings count as errors) are applied last.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from riskengine.executors import forked_map, keep_to_exit
from riskengine.files import Jobs, count_yaml_files, readers
from riskengine.lint import scenario_warnings, unused_factor_warnings
from riskengine.loading import (
    Catalogue,
    Placement,
    ScenarioReader,
    absolute,
    check_catalogue,
    folder_shares,
    gc_relaxed,
    in_file_order,
    outlook_problems,
    placement_problems,
    shares_for,
    yaml_files,
)
from riskengine.models import Scenario
from riskengine.problems import Problem, display_path, matching_codes
from riskengine.project import CONFIG_NAME, PYPROJECT, Finder, Project, read_config
from riskengine.reliability import PartsCache, Reliability, reliability
from riskengine.suppressions import (
    Written,
    compile_per_file_ignores,
    read_suppressions,
    statistics,
)
from riskengine.suppressions import apply as apply_suppressions
from riskengine.trees import check_tree_files, is_tree_file, models_dir_for
from riskengine.yamlio import Document


@dataclass
class Validation:
    """What ``riskengine validate`` found: every problem, and a grade for each valid scenario."""

    problems: list[Problem]
    files: int
    graded: list[Graded]
    suppressed_inline: list[Problem] = dataclasses.field(default_factory=list)
    suppressed_by_config: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def statistics(self) -> dict[str, Any]:
        """Findings per code, and how many were suppressed inline and by per-file ignores."""
        return statistics(self.problems, self.suppressed_inline, self.suppressed_by_config)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [{"path": p.path, "line": p.line, "col": p.col, "field": p.field,
                          "code": p.code, "severity": p.severity, "message": p.message,
                          "hint": p.hint} for p in self.problems],
            "scenarios": [{"scenario": g.scenario, "path": g.path,
                           "reliability": g.reliability.to_dict()} for g in self.graded],
            "statistics": self.statistics,
        }

    def to_frame(self) -> Any:
        """The problems as a DataFrame, one row each (the columns of ``to_dict()["problems"]``)."""
        import pandas as pd

        return pd.DataFrame(self.to_dict()["problems"], columns=[
            "path", "line", "col", "field", "code", "severity", "message", "hint"])


def is_factor_file(path: Path, project: Project | None = None) -> bool:
    """A factor definition: in the project's catalogue folder, or, for files of no marked
    project, below a folder named ``factors``."""
    full = os.path.abspath(path)
    if project is not None and project.marked:
        # `factors_dir in Path(full).parents` without a Path per ancestor (validate asks this
        # of every file): a proper prefix ending at a separator
        folder = str(project.factors_dir)
        return full != folder and full.startswith(folder.rstrip(os.sep) + os.sep)
    return "factors" in Path(full).parent.parts


def _is_tree_file(path: Path, project: Project) -> bool:
    if project.marked:
        return absolute(path).parent == project.models_dir
    return is_tree_file(path)


@dataclass
class _Group:
    """The files of one project being validated."""

    project: Project
    factor_files: list[Path] = dataclasses.field(default_factory=list)
    tree_files: list[Path] = dataclasses.field(default_factory=list)
    scenario_files: list[Path] = dataclasses.field(default_factory=list)


def _groups(files: list[Path], factors_dir: str | Path | None
            ) -> tuple[list[_Group], list[Problem]]:
    """Files by project (one group for all with ``factors_dir``), and the configs' problems."""
    problems: list[Problem] = []
    groups: dict[Path | None, _Group] = {}  # by project root; None: all, with factors_dir
    by_folder: dict[Path, Project] = {}
    # What a file is follows from its folder as written (the checks below read no more of
    # it): worked out once per folder, not per file (a tenth of validating 5,000 files).
    kinds: dict[str, list[Path]] = {}
    finder = Finder()
    for file in files:
        written = os.path.dirname(file)
        into = kinds.get(written)
        if into is None:
            folder = absolute(file).parent
            if folder not in by_folder:
                # a config read from several folders reports once: validate keeps a set
                project, found = finder.check(file)
                problems.extend(found)
                by_folder[folder] = project
            project = by_folder[folder]
            # the first file's project stands for all when one catalogue is forced
            group = groups.setdefault(project.root if factors_dir is None else None,
                                      _Group(project))
            if is_factor_file(file, group.project):
                into = group.factor_files
            elif _is_tree_file(file, group.project):
                into = group.tree_files
            else:
                into = group.scenario_files
            kinds[written] = into
        into.append(file)
    return list(groups.values()), problems


def validate(paths: Iterable[str | Path], factors_dir: str | Path | None = None, *,
             max_evidence_age: int | None = None, select: list[str] | None = None,
             ignore: list[str] | None = None, strict: bool = False,
             per_file_ignores: Mapping[str, Sequence[str]] | None = None,
             project_root: str | Path | None = None, jobs: Jobs = None,
             grades: bool = True) -> Validation:
    """Check the files at ``paths`` (files or folders): every error and warning, sorted.

    Files are checked project by project (:mod:`riskengine.project`), each scenario against its
    own project's catalogue, or all against ``factors_dir`` when given. A project's catalogue
    and trees are checked whole: a broken factor anywhere in them affects every scenario
    checked against it. ``select``/``ignore`` take codes or prefixes (``RE6``, ``ALL``); an
    unknown one raises ``ValueError``. ``max_evidence_age``, ``select`` and ``ignore`` left at
    None take the project's ``[validate]`` settings.

    ``per_file_ignores`` maps globs, relative to ``project_root`` (default: each file's project
    root), to the codes not reported in the files they match
    (:func:`riskengine.suppressions.glob_matches`); left at None, each project's
    ``[validate] per-file-ignores``. Inline ``# riskengine: ignore[...]`` comments are read from
    every file (:mod:`riskengine.suppressions`).

    ``jobs``: worker processes reading a large set of files (default: every core; the findings
    are the same for any number, :class:`riskengine.files.ReadAhead`).

    ``grades``: grade each valid scenario's reliability (:attr:`Validation.graded`); False
    leaves them out where nothing shows them (a tenth of checking 5,000 files).
    """
    given_ignores = (compile_per_file_ignores(per_file_ignores)
                     if per_file_ignores is not None else None)
    files = [f for p in paths for f in yaml_files(p)]
    configs = [f for f in files if f.suffix == ".toml"]
    files = [f for f in files if f.suffix != ".toml"]
    with readers(jobs) as shared:  # one pool for every project's files
        return _validate(files, configs, factors_dir, max_evidence_age, select, ignore, strict,
                         given_ignores, project_root, shared, grades)


def _validate(files: list[Path], configs: list[Path], factors_dir: str | Path | None,
              max_evidence_age: int | None, select: list[str] | None,
              ignore: list[str] | None, strict: bool,
              given_ignores: list[tuple[str, frozenset[str]]] | None,
              project_root: str | Path | None, jobs: Jobs, grades: bool) -> Validation:
    groups, problems = _groups(files, factors_dir)
    problems += _config_problems(configs, {g.project.config_path for g in groups})
    kept: list[Problem] = []
    inline: list[Problem] = []
    by_config: list[Problem] = []
    graded: list[Graded] = []
    for group in groups:
        settings = group.project.config.validate_
        chosen = matching_codes(select or settings.select or ["ALL"])
        ignored = ignore if ignore is not None else settings.ignore
        chosen -= matching_codes(ignored) if ignored else set()
        age = max_evidence_age if max_evidence_age is not None else settings.max_evidence_age
        # One relaxed-GC span for the whole group: entered per file (ScenarioReader.resolve),
        # each exit put the default thresholds back over a heap of parsed files, and the
        # collections that followed took a sixth of validating 5,000 scenarios.
        with gc_relaxed():
            found, group_grades, read = _validate_group(group, factors_dir,
                                                        _Checks(age, grades), jobs)
        graded += group_grades
        # Suppressions: inline comments in every file read, then the per-file ignores.
        checked = chosen - {"RE602"} if age is None else set(chosen)
        if not read.judged_unused:
            checked.discard("RE606")
        filtered = apply_suppressions(
            [p for p in set(found) if p.code in chosen], read.files, read.whole, checked, chosen,
            given_ignores if given_ignores is not None
            else compile_per_file_ignores(settings.per_file_ignores),
            Path(project_root) if project_root is not None else group.project.root,
            {p.path for p in found if p.severity == "error"}, read.written)
        kept += filtered.kept
        inline += filtered.inline
        by_config += filtered.by_config
    kept += problems
    if strict:
        kept = [dataclasses.replace(p, severity="error") for p in kept]
    return Validation(sorted(set(kept)), len(files) + len(configs), graded, sorted(inline),
                      sorted(by_config))


def _config_problems(configs: list[Path], read: set[Path | None]) -> list[Problem]:
    """Config files named on the command line, unless a group's discovery read them."""
    problems: list[Problem] = []
    for path in configs:
        if absolute(path) in {absolute(p) for p in read if p is not None}:
            continue
        if path.name not in (CONFIG_NAME, PYPROJECT):
            problems.append(Problem(display_path(path), None, None, "", f"not a riskengine "
                                    f"file: configs are {CONFIG_NAME} or {PYPROJECT}", "RE001"))
            continue
        problems += read_config(path)[1]
    return problems


@dataclass(frozen=True)
class _Checks:
    """What each scenario file is checked for beyond loading it."""

    max_evidence_age: int | None  # days; None: evidence of any age
    grades: bool  # grade its reliability (Validation.graded)


def _validate_group(group: _Group, factors_dir: str | Path | None, checks: _Checks,
                    jobs: Jobs = None
                    ) -> tuple[list[Problem], list[Graded], _Read]:
    project = group.project
    factor_files, tree_files, scenario_files = (group.factor_files, group.tree_files,
                                                group.scenario_files)
    shares = shares_for(jobs, len(scenario_files))
    roots = sorted({project.factors_dir if project.marked else factors_root(f)
                    for f in factor_files})
    if factors_dir is not None:
        chosen_root = absolute(factors_dir)
        roots = [chosen_root, *(r for r in roots if r != chosen_root)]
    elif not roots and scenario_files:
        roots = [project.factors_dir]

    problems: list[Problem] = []
    catalogue = Catalogue({}, root=roots[0] if roots else None)
    catalogue_files: list[Path] = []
    for root in roots:
        part, found = check_catalogue(root, jobs)
        problems.extend(found)
        catalogue_files += part.files
        for factor_id in part:
            if factor_id not in catalogue.factors:
                catalogue.factors[factor_id] = part[factor_id]
                catalogue.paths[factor_id] = part.paths[factor_id]
                catalogue.docs[factor_id] = part.docs[factor_id]

    # The trees: those given, and those of each catalogue's project (models/ beside factors/).
    # A project's trees are checked whole, like its catalogue: a broken tree affects every
    # scenario that names it.
    tree_paths = {absolute(p): p for p in tree_files}  # a file given and found is one file
    folders = [project.models_dir] if project.marked and factors_dir is None else [
        models_dir_for(root) for root in roots]
    for folder in folders:
        if folder.is_dir():
            for path in yaml_files(folder):
                tree_paths.setdefault(absolute(path), path)
    trees, found = check_tree_files(tree_paths.values(), catalogue if roots else None)
    problems.extend(found)

    reader = ScenarioReader(catalogue, trees, project=project)
    if shares > 1:
        # Whole folders a process: a scenario's parents, siblings and outlook lie in its
        # folder, so each is checked whole by one process, with the catalogue and trees it
        # inherited. What spans folders is checked below, from what the processes sent back.
        checked = forked_map(functools.partial(_check_scenarios, reader, checks=checks, jobs=1),
                             folder_shares(scenario_files, shares))
    else:
        checked = [_check_scenarios(reader, list(enumerate(scenario_files)), checks, jobs)]
    graded = in_file_order(g for c in checked for g in c.graded)
    for part in checked:
        problems.extend(part.problems)
    # the rule loading applies, so a tree that validates also loads for compare, report, diff
    placed = in_file_order(p for c in checked for p in c.placed)
    problems.extend(placement_problems(placed, reader.doc_of))
    # Unused factors need every scenario read: one that cannot be is reported, not as every
    # factor it would have used going unused.
    judge_unused = bool(factor_files and scenario_files) and all(c.whole for c in checked)
    if judge_unused:
        # Ids written in any scenario file count as used, valid or not: a typo in one scenario
        # is reported there, not as every factor of the catalogue going unused.
        problems.extend(unused_factor_warnings(catalogue, set().union(*(c.named
                                                                         for c in checked))))
    # The scenario files are the shares': every one was read there, its suppressions are
    # in `written` or its path in `read`, and its shown path came back with them.
    read_whole = [*factor_files, *tree_files, *catalogue_files, *tree_paths.values()]
    written = suppressions_in([*catalogue.docs.values(), *trees.docs.values()])
    for part in checked:
        written.update(part.written)
    read = _Read([*read_whole, *(f for c in checked for f in c.read)],
                 {display_path(f) for f in read_whole}.union(*(c.shown for c in checked)),
                 judge_unused, written)
    keep_to_exit(reader)  # every file this process checked, with its parents and models
    return _root_causes(problems, catalogue_files, catalogue), graded, read


@dataclass
class _Read:
    """What a project's check read, for the suppressions."""

    files: list[str | Path]  # every file read whose suppressions are not in `written`
    whole: set[str]  # those checked whole (shown paths): their suppressions can be unused
    judged_unused: bool  # whether RE606 was checked
    written: dict[str, Written]  # the suppressions of files whose text was at hand


class Graded(NamedTuple):
    """A valid scenario's reliability grade, as validate reports it."""

    scenario: str  # its key
    path: str | None  # its file, as shown
    reliability: Reliability


@dataclass
class _Checked:
    """What checking some folders' scenario files found, in plain values: a forked worker
    sends it back pickled (scenarios and documents would cost more to send than to check)."""

    problems: list[Problem]
    graded: list[tuple[int, Graded]]  # by the file's place among the files checked
    placed: list[tuple[int, Placement]]
    named: set[str]  # factor ids written in the scenario files read
    whole: bool  # every scenario file read could be parsed
    # The suppressions of every scenario file read, parents included: by shown path those
    # whose text was at hand, else the files to read them from. Plain text both: a Path sent
    # back is parsed again (5,000 files: 20 ms of the parent's time, the shares finished).
    written: dict[str, Written]
    read: list[str]
    shown: list[str]  # the files checked, as shown


def _check_scenarios(reader: ScenarioReader, files: list[tuple[int, Path]], checks: _Checks,
                     jobs: Jobs) -> _Checked:
    """Check the numbered scenario ``files`` (whole folders of them, when a process checks
    only some) as far as their folders go: each file, its parents, populations, outlooks."""
    problems: list[Problem] = []
    by_folder: dict[Path, list[Scenario]] = defaultdict(list)
    graded: list[tuple[int, Graded]] = []
    placed: list[tuple[int, Placement]] = []
    grading: PartsCache = {}  # a parent's estimates, shared by its children, graded once
    for index, file, scenario, found, place in reader.resolve_all(files, jobs):
        problems.extend(found)
        if scenario is None:
            continue
        if place is not None:
            placed.append((index, place))
        by_folder[file.parent].append(scenario)
        parsed = reader.parsed[reader.absolute(file)]
        if parsed is not None:
            problems.extend(scenario_warnings(parsed.file, parsed.doc, scenario,
                                              checks.max_evidence_age))
        if checks.grades:
            graded.append((index, Graded(scenario.key, scenario.source,
                                         reliability(scenario, reader.catalogue, grading))))
    valid = [s for folder_scenarios in by_folder.values() for s in folder_scenarios]
    problems.extend(reader.with_populations(valid)[1])
    for folder, folder_scenarios in by_folder.items():
        # An outlook is a whole folder; a file checked alone is no outlook.
        whole = len(folder_scenarios) == count_yaml_files(folder)
        if whole and any(s.probability is not None for s in folder_scenarios):
            problems.extend(outlook_problems(folder_scenarios))
    parsed_files = reader.parsed.values()
    return _Checked(problems, graded, placed,
                    {factor_id for parsed in parsed_files if parsed is not None
                     for factor_id in parsed.file.factors},
                    all(parsed is not None for parsed in parsed_files),
                    suppressions_in(p.doc for p in parsed_files if p is not None),
                    [str(key) for key, parsed in reader.parsed.items()
                     if parsed is None or parsed.doc.text is None],
                    [display_path(file) for _, file in files])


def suppressions_in(docs: Iterable[Document]) -> dict[str, Written]:
    """The suppressions written in files already read, from their text: the suppressions'
    check does not read them again (5,000 files: 0.15 s after the shares had finished)."""
    return {doc.shown: read_suppressions(doc.path, doc.text) for doc in docs
            if doc.text is not None}


def _root_causes(problems: Iterable[Problem], catalogue_files: Iterable[Path],
                 catalogue: Catalogue) -> list[Problem]:
    """The problems without those another one explains: a factor file that cannot be read is
    reported there, once, not as an unknown factor in every scenario and tree that uses it."""
    problems = list(problems)
    broken_files = {p.path for p in problems if p.severity == "error"}
    # a factor's id is its file's name (RE201), so a broken file stands for that id
    broken = {f.stem for f in catalogue_files
              if f.stem not in catalogue and display_path(f) in broken_files}
    return [p for p in problems
            if not (p.code in ("RE301", "RE701") and p.subject and p.subject in broken)]


def validate_paths(paths: Iterable[str | Path], factors_dir: str | Path | None = None,
                   **options: Any) -> list[Problem]:
    """Every problem in the files at ``paths``, sorted by file and line (see :func:`validate`)."""
    return validate(paths, factors_dir, **options).problems


def factors_root(path: Path) -> Path:
    """The ``factors`` folder a factor file belongs to."""
    full = absolute(path)
    return next((folder for folder in full.parents if folder.name == "factors"), full.parent)
