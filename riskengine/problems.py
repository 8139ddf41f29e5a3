"""Findings about input files: one shape for every error and warning the engine reports.

A ``Problem`` always names a file and, where it can, the line and column of the offending key,
so that every message can be printed as ``path:LINE:COL: field.path: message``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]

# Stable codes: CI configurations select and ignore them, so a code never changes meaning.
# The text is the one-line fix hint printed next to a finding.
CODES: dict[str, tuple[Severity, str, str]] = {
    # code: (default severity, meaning, fix hint)
    "RE001": ("error", "file cannot be read or parsed as YAML", "fix the YAML syntax or encoding"),
    "RE002": ("error", "file exceeds a safety limit",
              "reduce the file's size, nesting depth or alias use"),
    "RE003": ("error", "YAML tag not allowed", "remove the tag; only plain YAML values are read"),
    "RE004": ("error", "duplicate key in a mapping", "keep one of the duplicated keys"),
    "RE101": ("error", "unknown key", "remove the key or fix its spelling"),
    "RE102": ("error", "wrong type or invalid value", "give a value of the documented type"),
    "RE103": ("error", "required field missing", "add the field"),
    "RE201": ("error", "id does not match the file name", "rename the file or the id"),
    "RE202": ("error", "duplicate id", "give every factor and scenario a unique id"),
    "RE301": ("error", "unknown factor", "add the factor to the catalogue or fix the id"),
    "RE302": (
        "error", "estimate outside the factor's scale", "keep estimates within scale.min..max"),
    "RE303": ("error", "estimate not ordered", "use low <= mode <= high (low < high for uniform)"),
    "RE304": ("error", "estimate incomplete", "give value, or low, mode and high"),
    "RE305": (
        "error", "no positive total weight for a kind", "give a factor of that kind weight > 0"),
    "RE306": (
        "error", "scenario lacks a kind of factor", "use at least one risk and one opportunity"),
    "RE401": (
        "error", "parent scenario not found", "fix `extends` to name a scenario in the folder"),
    "RE402": ("error", "inheritance cycle", "break the cycle of `extends`"),
    "RE403": ("error", "shift moves an estimate outside the scale", "reduce the shift"),
    "RE404": (
        "error", "shift on an entry the parent lacks", "give the estimate instead of a shift"),
    "RE501": ("error", "outlook probabilities do not sum to 1", "make the probabilities sum to 1"),
    "RE502": ("error", "scenarios of one outlook disagree", "use one partnership slug per folder"),
    "RE701": ("error", "tree names an unknown factor",
              "add the factor to the catalogue or fix the leaf's id"),
    "RE702": ("error", "node id used twice in a tree (a node cannot contain itself)",
              "give every node of the tree its own id"),
    "RE703": ("error", "tree node without children", "give the node children or remove it"),
    "RE704": ("error", "tree weight not positive", "give every node and leaf a weight > 0"),
    "RE705": ("error", "factor used twice in a tree", "keep each factor under one parent"),
    "RE706": ("error", "scenario names an unknown tree",
              "add models/<id>.yaml or fix the scenario's `tree`"),
    "RE707": ("error", "tree node below its min_coverage for a scenario",
              "estimate more of the node's factors or lower its min_coverage"),
    "RE708": ("error", "population too small to normalise over",
              "score more scenarios with the tree, or normalise the leaf by its scale"),
    "RE709": ("warning", "scenario estimates a factor its tree does not use",
              "add the factor to the tree or remove the estimate"),
    "RE801": ("error", "invalid project setting",
              "fix the value in riskengine.toml (or pyproject.toml's [tool.riskengine])"),
    "RE802": ("error", "project folder outside the project",
              "name a folder inside the project root, relative to it"),
    "RE803": ("error", "project config is not valid TOML", "fix the TOML syntax"),
    "RE901": ("error", "spreadsheet cannot be read", "give an xlsx or CSV file written by "
              "`riskengine export`, with its five tables"),
    "RE902": ("error", "spreadsheet exceeds a safety limit",
              "split the project or remove stray rows, columns or long cells"),
    "RE903": ("error", "spreadsheet column unknown, missing or misplaced",
              "keep the header row and columns as `riskengine export` writes them"),
    "RE904": ("error", "spreadsheet cell holds an invalid value",
              "give a finite number, a YYYY-MM-DD date or one of the listed words"),
    "RE905": ("error", "spreadsheet cell holds a formula", "type the value itself"),
    "RE906": ("error", "spreadsheet row does not fit the others",
              "give each file one scenarios row and each estimate one row; match ids"),
    "RE907": ("error", "spreadsheet names a file outside the scenarios folder",
              "use scenarios/<partnership>/<id>.yaml, relative to the project root"),
    "RE601": ("warning", "estimate without evidence", "cite at least one dated source"),
    "RE602": ("warning", "an estimate's newest evidence is older than --max-evidence-age at "
                         "the scenario's as_of",
              "find newer evidence or say in a note why the old source still holds"),
    "RE603": ("warning", "evidence dated after the scenario's as_of",
              "move as_of forward or drop evidence the assessment could not have known"),
    "RE604": ("warning", "high confidence resting on a single source",
              "add an independent source or lower the confidence"),
    "RE605": ("warning", "estimate without a stated confidence", "add confidence: low|medium|high"),
    "RE606": ("warning", "catalogue factor not used by any scenario checked",
              "estimate it in a scenario or remove it from the catalogue"),
    # Inline suppressions (`# riskengine: ignore[CODES]`, `# riskengine: ignore-file[CODES]`).
    "RE611": ("error", "suppression names no code",
              "list the codes to suppress, e.g. `# riskengine: ignore[RE602]`"),
    "RE612": ("warning", "suppression matches no finding",
              "remove the suppression or the codes it no longer needs"),
    "RE613": ("warning", "unknown or unsuppressible rule code in a suppression",
              "fix the code's spelling (RE602, or a prefix such as RE6); RE001-RE004 and "
              "RE61x cannot be suppressed by a comment"),
    "RE614": ("warning", "unreadable suppression comment",
              "write `# riskengine: ignore[CODES]` or `# riskengine: ignore-file[CODES]`"),
}


def matching_codes(patterns: list[str]) -> set[str]:
    """The codes matched by ruff-style selectors: a full code, a prefix (``RE6``) or ``ALL``.

    Raises ``ValueError`` naming any selector that matches no code, so a typo in a CI
    configuration fails loudly instead of silently selecting nothing.
    """
    chosen: set[str] = set()
    unknown = []
    for pattern in patterns:
        wanted = pattern.strip().upper()
        found = set(CODES) if wanted == "ALL" else {c for c in CODES if c.startswith(wanted)}
        if not wanted or not found:
            unknown.append(pattern)
        chosen |= found
    if unknown:
        raise ValueError(f"unknown rule code(s): {', '.join(unknown)} (known: RE001-RE"
                         f"{max(CODES)[2:]}, prefixes such as RE6, or ALL)")
    return chosen


@dataclass(frozen=True)
class Problem:
    """One finding, located in a file. Sorted by file, then line, then column."""

    path: str
    line: int | None = None  # 1-based, as editors count
    col: int | None = None  # 1-based
    field: str = ""
    message: str = ""
    code: str = "RE102"
    severity: Severity = dataclasses.field(default="error", compare=False)
    # What another file defines that this finding is about (a factor id for "unknown factor"),
    # so validate can drop it when that file's own error is the root cause.
    subject: str = dataclasses.field(default="", compare=False)

    def __lt__(self, other: Problem) -> bool:
        # A finding about a whole file (no line) sorts before the file's located findings.
        def key(p: Problem) -> tuple[str, int, int, str, str, str]:
            return (p.path, p.line or 0, p.col or 0, p.field, p.message, p.code)
        return key(self) < key(other)

    @property
    def hint(self) -> str:
        return CODES.get(self.code, ("error", "", ""))[2]

    def location(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)

    def __str__(self) -> str:
        field_part = f"{self.field}: " if self.field else ""
        return f"{self.location()}: {field_part}{self.message} [{self.code}]"


def display_path(path: str | Path) -> str:
    """A path as the user would type it: relative to the working directory when below it."""
    # Asked about sixteen times of every file a project check reads (for its findings, its
    # suppressions, its document's name), at 6 µs each a tenth of reading a scenario file;
    # kept per working directory, since a chdir changes the answer.
    return _shown(path, os.getcwd())


@functools.lru_cache(maxsize=1 << 16)
def _shown(path: str | Path, cwd: str) -> str:
    # abspath's arithmetic, not resolve(): no symlink lookups, which cost a system call per
    # path component and dominate validating thousands of files.
    absolute = os.path.normpath(os.path.join(cwd, path))
    if absolute == cwd:
        return "."
    if absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return absolute[len(cwd.rstrip(os.sep)) + 1:]
    return str(path)


class InputError(Exception):
    """Raised when input files have problems; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        # once each: a parent's problem reached through several children is one problem
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))
