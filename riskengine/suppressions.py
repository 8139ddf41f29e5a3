"""Silencing findings on purpose: inline comments and per-file ignores (``riskengine validate``).

In a YAML file, a comment ``# riskengine: ignore[RE602]`` suppresses the findings with those
codes (comma-separated; prefixes such as ``RE6`` too) located on its line, and
``# riskengine: ignore-file[RE602]`` anywhere in the file suppresses them in the whole file.
Free text may follow the closing bracket, to say why. As in ruff:

- a suppression without codes (``# riskengine: ignore``) is an error, RE611: name what you
  silence, so a new problem on the line still shows;
- a code that suppresses nothing that was checked is a warning, RE612 (ruff's RUF100), so stale
  suppressions do not pile up; a code not checked in this run (not selected, RE602 without a
  maximum age, RE606 without both factors and scenarios, any code in a file with an error that
  may have stopped later checks) is not called unused;
- an unknown code, or one that cannot be suppressed, is a warning, RE613, and a
  ``riskengine:`` comment that is no suppression, RE614; the findings it meant to silence are
  still reported.

Never suppressed, inline or per file: RE001–RE004, the file could not be read as YAML (so its
comments cannot be trusted either), and, by an inline comment, the RE61x findings about
suppressions themselves. ``--select``/``--ignore`` still apply to every code.

Text that only looks like a comment inside a quoted or block string suppresses nothing (see
:func:`_comments`). Only files that mention ``riskengine:`` are looked at again.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from riskengine.problems import CODES, InputError, Problem, display_path, matching_codes
from riskengine.yamlio import MAX_FILE_BYTES, _compose, _decode, _read_regular

# the file could not be read as YAML: nothing in it, comments included, can be relied on
UNSUPPRESSIBLE = frozenset({"RE001", "RE002", "RE003", "RE004"})
SUPPRESSION_CODES = frozenset({"RE611", "RE612", "RE613", "RE614"})
MARK = "riskengine:"

# a `#` at the start of a line or after whitespace, then `riskengine:`; the comment may say more
# before it (`# old source  # riskengine: ignore[RE602]`)
_CANDIDATE = re.compile(r"(?:^|(?<=[ \t]))(#[^#]*?\briskengine:.*)$")
_DIRECTIVE = re.compile(r"#\s*riskengine:\s*(?P<rest>.*)$")
_FORM = re.compile(r"(?P<kind>ignore-file|ignore)(?![-\w])\s*(?:\[(?P<codes>[^\]]*)\])?"
                   r"(?P<reason>\s.*)?$")


@dataclass
class Suppression:
    """One ``# riskengine: ignore[...]`` comment, and which of its codes were used."""

    path: str  # as findings show it
    line: int
    col: int
    file_wide: bool
    text: str  # ``ignore[RE602]`` as written, for messages
    selectors: dict[str, frozenset[str]]  # each known selector written -> the codes it matches
    used: set[str] = field(default_factory=set)

    def matches(self, problem: Problem) -> bool:
        if problem.code in UNSUPPRESSIBLE or problem.code in SUPPRESSION_CODES:
            return False
        if not self.file_wide and problem.line != self.line:
            return False
        hit = [s for s, codes in self.selectors.items() if problem.code in codes]
        self.used.update(hit)
        return bool(hit)


def _comments(text: str, shown: str) -> list[tuple[int, int, str]]:
    """The ``riskengine:`` comments of a YAML text as (line, column, text), 1-based.

    A ``#`` after whitespace starts a comment unless it lies inside a scalar (a quoted or block
    string): the candidates are checked against the spans of the composed nodes, the same
    composition the file was read with. A text that does not compose has no comments to trust.
    """
    candidates = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in _CANDIDATE.finditer(line):
            candidates.append((number, match.start(1) + 1, match.group(1)))
    if not candidates:
        return []
    try:
        root = _compose(text, shown)
    except InputError:
        return []
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias: the same node again
            continue
        seen.add(id(node))
        if isinstance(node.value, list):
            for item in node.value:
                stack.extend(item if isinstance(item, tuple) else (item,))
        else:
            spans.append(((node.start_mark.line, node.start_mark.column),
                          (node.end_mark.line, node.end_mark.column)))
    return [(line, col, comment) for line, col, comment in candidates
            if not any(start <= (line - 1, col - 1) < end for start, end in spans)]


Written = tuple[list[Suppression], list[Problem]]  # a file's suppressions, and findings


def read_suppressions(path: str | Path, text: str | None = None) -> Written:
    """The suppressions written in one file, and findings about malformed ones. ``text``: the
    file's text where it was read already (for its data), so it is not read again."""
    shown = display_path(path)
    if text is not None:
        if MARK not in text:
            return [], []
    else:
        try:
            raw = _read_regular(path, shown, MAX_FILE_BYTES + 1)
            if len(raw) > MAX_FILE_BYTES or MARK.encode() not in raw:
                return [], []
            text = _decode(raw, shown)
        except InputError:  # unreadable: reading it for validation reported why
            return [], []
    suppressions: list[Suppression] = []
    problems: list[Problem] = []
    for line, col, comment in _comments(text, shown):
        directive = _DIRECTIVE.search(comment)
        if directive is None:
            continue
        col += directive.start()
        rest = directive.group("rest").rstrip()
        form = _FORM.match(rest)
        if form is None:
            problems.append(Problem(shown, line, col, "", f"comment '{MARK} {rest}' is not a "
                                    "suppression", "RE614", "warning"))
            continue
        kind = form.group("kind")
        written = f"{kind}[{(form.group('codes') or '').strip()}]"
        selectors = [s.strip().upper() for s in (form.group("codes") or "").split(",")]
        selectors = [s for s in selectors if s]
        if not selectors:
            problems.append(Problem(shown, line, col, "", f"`{kind}` without codes would "
                                    f"silence every finding; name them, e.g. {kind}[RE602]",
                                    "RE611"))
            continue
        known: dict[str, frozenset[str]] = {}
        for selector in dict.fromkeys(selectors):
            try:
                codes = frozenset(matching_codes([selector]))
            except ValueError:
                problems.append(Problem(shown, line, col, "", f"unknown rule code {selector!r} "
                                        f"in `{written}`", "RE613", "warning"))
                continue
            if codes <= UNSUPPRESSIBLE | SUPPRESSION_CODES:
                why = ("the file could not be read as YAML" if codes <= UNSUPPRESSIBLE
                       else "it is about suppressions")
                problems.append(Problem(shown, line, col, "", f"{selector} in `{written}` "
                                        f"cannot be suppressed ({why})", "RE613", "warning"))
                continue
            known[selector] = codes - UNSUPPRESSIBLE - SUPPRESSION_CODES
        if known:
            suppressions.append(Suppression(shown, line, col, kind == "ignore-file",
                                            written, known))
    return suppressions, problems


def glob_matches(pattern: str, relative: str) -> bool:
    """Whether a per-file-ignores glob matches a path relative to the project root.

    Two readings, either suffices: :func:`fnmatch.fnmatchcase` on the whole relative path
    (``*`` also crosses ``/``, so ``scenarios/legacy/*`` covers every file below that folder),
    and :meth:`PurePath.match`, which matches from the right (so ``*.yml`` or ``baseline.yaml``
    match a file of that name in any folder). Paths use ``/`` on every system.
    """
    return (fnmatch.fnmatchcase(relative, pattern)
            or PurePosixPath(relative).match(pattern))


@dataclass
class Filtered:
    """Findings after suppressions: those kept, those silenced (and how), new RE61x findings."""

    kept: list[Problem]
    inline: list[Problem]
    by_config: list[Problem]


def compile_per_file_ignores(per_file_ignores: Mapping[str, Sequence[str]] | None
                             ) -> list[tuple[str, frozenset[str]]]:
    """Each glob with the codes it ignores; ``ValueError`` naming an unknown code."""
    compiled = []
    for pattern, codes in (per_file_ignores or {}).items():
        if isinstance(codes, str):
            codes = [codes]
        try:
            compiled.append((pattern.replace("\\", "/"), frozenset(matching_codes(list(codes)))))
        except ValueError as exc:
            raise ValueError(f"per-file-ignores {pattern!r}: {exc}") from None
    return compiled


def apply(problems: Iterable[Problem], files: Iterable[str | Path], whole: Collection[str],
          checked: Collection[str], chosen: Collection[str],
          per_file_ignores: Sequence[tuple[str, frozenset[str]]] = (),
          project_root: Path | None = None, incomplete: Collection[str] = (),
          written: Mapping[str, Written] | None = None) -> Filtered:
    """Silence ``problems`` by the suppressions written in ``files`` and by per-file ignores.

    ``whole`` are the display paths of files checked whole, the only ones whose suppressions
    can be called unused and whose malformed ones are reported; ``checked`` the codes whose
    checks ran; ``chosen`` the codes selected (the RE61x findings obey the selection too);
    ``incomplete`` files with an error, selected or not, which may have stopped later checks,
    so their suppressions are not called unused either. ``written``: what
    :func:`read_suppressions` gave for files (by shown path) where they were read, which are
    not read again, and count as read whether in ``files`` or not.
    Inline suppressions apply first, so a line silenced both ways counts as inline.
    """
    by_path: dict[str, list[Suppression]] = defaultdict(list)
    extra: list[Problem] = []
    seen: set[str] = set()

    def take(shown: str, suppressions: list[Suppression], found: list[Problem]) -> None:
        seen.add(shown)
        if suppressions:
            by_path[shown] = suppressions
        if shown in whole:
            extra.extend(found)

    for shown, (suppressions, found) in (written or {}).items():
        take(shown, suppressions, found)
    for path in files:
        shown = display_path(path)
        if shown not in seen:  # else one file, given and found, or written
            take(shown, *read_suppressions(path))
    kept: list[Problem] = []
    inline: list[Problem] = []
    for problem in problems:
        # every suppression that matches counts as used, not only the first
        if [s for s in by_path.get(problem.path, ()) if s.matches(problem)]:
            inline.append(problem)
        else:
            kept.append(problem)
    for shown, suppressions in by_path.items():
        if shown not in whole or shown in incomplete:
            continue
        for s in suppressions:
            unused = [sel for sel, codes in s.selectors.items()
                      if sel not in s.used and codes & set(checked)]
            if not unused:
                continue
            where = "in this file" if s.file_wide else "on this line"
            which = ("suppression" if len(unused) == len(s.selectors)
                     else f"{', '.join(unused)} in suppression")
            extra.append(Problem(shown, s.line, s.col, "", f"{which} `{s.text}` matches no "
                                 f"finding {where}", "RE612", "warning"))
    kept.extend(p for p in extra if p.code in chosen)
    by_config: list[Problem] = []
    if per_file_ignores:
        root = os.path.abspath(project_root if project_root is not None else os.getcwd())
        still: list[Problem] = []
        for problem in kept:
            relative = os.path.relpath(os.path.abspath(problem.path), root).replace(os.sep, "/")
            if problem.code not in UNSUPPRESSIBLE and any(
                    problem.code in codes and glob_matches(pattern, relative)
                    for pattern, codes in per_file_ignores):
                by_config.append(problem)
            else:
                still.append(problem)
        kept = still
    return Filtered(kept, inline, by_config)


def statistics(kept: Iterable[Problem], inline: Iterable[Problem],
               by_config: Iterable[Problem]) -> dict[str, Any]:
    """Counts per code of what is reported, and of what was suppressed each way."""
    def count(found: Iterable[Problem]) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for p in found:
            counts[p.code] += 1
        return dict(sorted(counts.items()))

    inline_counts, config_counts = count(inline), count(by_config)
    return {
        "codes": [{"code": code, "count": n, "meaning": CODES[code][1]}
                  for code, n in count(kept).items()],
        "suppressed": {"inline": sum(inline_counts.values()),
                       "per_file_ignores": sum(config_counts.values()),
                       "inline_by_code": inline_counts,
                       "per_file_ignores_by_code": config_counts},
    }
