"""Checking factor and scenario files, collecting every problem (``riskengine validate``).

Files below a folder named ``factors`` are factor definitions; every other YAML file is a
scenario. Scenarios are checked against the catalogue given, else against the factor files being
validated, else against the nearest ``factors/`` folder above them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from riskengine.loading import (
    Catalogue,
    ScenarioReader,
    check_catalogue,
    find_factors_dir,
    outlook_problems,
    yaml_files,
)
from riskengine.models import Factor, Scenario
from riskengine.problems import Problem


def is_factor_file(path: Path) -> bool:
    return "factors" in Path(os.path.abspath(path)).parent.parts


def validate_paths(paths: Iterable[str | Path], factors_dir: str | Path | None = None
                   ) -> list[Problem]:
    """Every problem in the files at ``paths`` (files or folders), sorted by file and line.

    The catalogue folders read (those holding the factor files given, or ``factors_dir``, or the
    nearest one above the scenarios) are checked whole: a broken factor anywhere in the catalogue
    affects every scenario that is checked against it.
    """
    files = [f for p in paths for f in yaml_files(p)]
    factor_files = [f for f in files if is_factor_file(f)]
    scenario_files = [f for f in files if not is_factor_file(f)]
    roots = sorted({factors_root(f) for f in factor_files})
    if factors_dir is not None:
        chosen = Path(os.path.abspath(factors_dir))
        roots = [chosen, *(r for r in roots if r != chosen)]
    elif not roots and scenario_files:
        roots = [Path(os.path.abspath(find_factors_dir(scenario_files[0])))]

    problems: list[Problem] = []
    factors: dict[str, Factor] = {}
    for root in roots:
        part, found = check_catalogue(root)
        problems.extend(found)
        for factor_id, factor in part.items():
            factors.setdefault(factor_id, factor)

    reader = ScenarioReader(Catalogue(factors))
    by_folder: dict[Path, list[Scenario]] = defaultdict(list)
    for file in scenario_files:
        scenario, found = reader.resolve(file)
        problems.extend(found)
        if scenario is not None:
            by_folder[file.parent].append(scenario)
    for folder, folder_scenarios in by_folder.items():
        # An outlook is a whole folder; a file checked alone is no outlook.
        whole = len(folder_scenarios) == len(yaml_files(folder))
        if whole and any(s.probability is not None for s in folder_scenarios):
            problems.extend(outlook_problems(folder_scenarios))
    return sorted(set(problems))


def factors_root(path: Path) -> Path:
    """The ``factors`` folder a factor file belongs to."""
    resolved = Path(os.path.abspath(path))
    return next((folder for folder in resolved.parents if folder.name == "factors"),
                resolved.parent)
