"""Presenting what ``riskengine validate`` found: text for people, JSON, GitHub annotations, SARIF.

Every format carries the same findings; only the shape differs. Paths are shown as the user
gave them, relative to the working directory, which is what GitHub and code-scanning expect
when the command runs at the repository root.

Paths, keys and messages carry user text: every format shows it on one line with control
characters escaped (:func:`riskengine.reporting.printable`), so a key cannot forge a finding, a
workflow command or a terminal escape sequence.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any
from urllib.parse import quote

from riskengine import __version__
from riskengine.problems import CODES, Problem
from riskengine.reporting import json_text, printable
from riskengine.reporting import to_json as json_document
from riskengine.texttable import Column, print_table
from riskengine.validation import Validation

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def to_json(validation: Validation) -> str:
    return json_document(validation.to_dict())


def _escape_data(text: str) -> str:
    # GitHub workflow commands end at a newline and decode %-escapes in the message; control
    # characters are shown as escapes first, so none reaches the log raw.
    return printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(validation: Validation) -> str:
    """One ``::error``/``::warning`` workflow command per finding."""
    lines = []
    for p in validation.problems:
        props = [f"file={_escape_property(p.path)}"]
        if p.line is not None:
            props.append(f"line={p.line}")
            if p.col is not None:
                props.append(f"col={p.col}")
        props.append(f"title={_escape_property(f'{p.code} {CODES[p.code][1]}')}")
        field = f"{p.field}: " if p.field else ""
        lines.append(f"::{p.severity} {','.join(props)}::"
                     f"{_escape_data(f'{field}{p.message} ({p.hint})')}")
    return "".join(line + "\n" for line in lines)


def to_sarif(validation: Validation) -> str:
    """A SARIF 2.1.0 log with one run, for GitHub code scanning and other SARIF viewers."""
    used = sorted({p.code for p in validation.problems})
    index = {code: i for i, code in enumerate(used)}
    rules = [{
        "id": code,
        "name": "".join(word.capitalize() for word in CODES[code][1].split()
                        if word.isalnum()),
        "shortDescription": {"text": CODES[code][1]},
        "help": {"text": CODES[code][2]},
        "defaultConfiguration": {"level": CODES[code][0]},
    } for code in used]
    results = []
    for p in validation.problems:
        location: dict[str, Any] = {"artifactLocation": {"uri": quote(p.path.replace("\\", "/")),
                                                         "uriBaseId": "%SRCROOT%"}}
        if p.line is not None:
            region = {"startLine": p.line}
            if p.col is not None:
                region["startColumn"] = p.col
            location["region"] = region
        field = f"{p.field}: " if p.field else ""
        results.append({
            "ruleId": p.code,
            "ruleIndex": index[p.code],
            "level": p.severity,
            "message": {"text": f"{field}{p.message}"},
            "locations": [{"physicalLocation": location}],
        })
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "riskengine", "version": __version__,
                                "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json_text(json.dumps(log, indent=2, ensure_ascii=False))


def statistics_text(validation: Validation) -> str:
    """``--statistics``: one line per code reported (count, code, meaning), then how many
    findings the suppressions silenced."""
    stats = validation.statistics
    width = max((len(f"{row['count']:,}") for row in stats["codes"]), default=1)
    lines = [f"{row['count']:>{width},}  {row['code']}  {row['meaning']}"
             for row in stats["codes"]]
    suppressed = stats["suppressed"]
    lines.append(f"suppressed: {suppressed['inline']:,} inline, "
                 f"{suppressed['per_file_ignores']:,} by per-file-ignores")
    return "".join(line + "\n" for line in lines)


def summary_line(validation: Validation) -> str:
    """``6 file(s) checked: 0 error(s), 4 warning(s)``, and how many were suppressed."""
    errors, warnings = len(validation.errors), len(validation.warnings)
    suppressed = len(validation.suppressed_inline) + len(validation.suppressed_by_config)
    more = f", {suppressed:,} suppressed" if suppressed else ""
    return f"{validation.files} file(s) checked: {errors} error(s), {warnings} warning(s){more}"


_RELIABILITY_COLUMNS = [Column(name, "left" if name == "Scenario" else "right") for name in (
    "Scenario", "Grade", "Score", "Coverage", "Evidenced", "Sources", "Recency", "Precision")]


def print_text(validation: Validation, console: Any, quiet: bool = False,
               statistics: bool = False) -> None:
    """Findings grouped by file, each with its hint; then each scenario's reliability grade.
    With ``statistics``, counts per code instead of the findings and grades."""
    from rich.text import Text

    if statistics:
        console.file.write(statistics_text(validation))
        if not quiet:
            verdict = "[green]all files valid[/]" if not validation.errors else "[red]invalid[/]"
            console.print(f"{summary_line(validation)} — {verdict}")
        return

    # One Text for all findings, styled by spans: printing thousands of lines one call at a
    # time through rich's markup parser took longer than validating the files.
    by_file: dict[str, list[Problem]] = defaultdict(list)
    for p in validation.problems:
        by_file[p.path].append(p)
    out = Text()
    for path, found in by_file.items():
        errors = sum(p.severity == "error" for p in found)
        out.append(printable(path), "bold")
        out.append(f" ({errors} error(s), {len(found) - errors} warning(s))\n", "dim")
        for p in found:
            # Each finding keeps its full path:line:col so editors and terminals can jump to it.
            field = f"{p.field}: " if p.field else ""
            out.append(printable(f"  {p.location()}: {field}{p.message} "))
            out.append(f"[{p.code}]", "red" if p.severity == "error" else "yellow")
            out.append(f"\n    {p.severity}; fix: {p.hint}\n", "dim")
    if out and console.color_system is None:
        console.file.write(out.plain)  # same characters, without rendering spans nobody sees
    elif out:
        console.print(out, end="")
    if quiet:
        return
    if validation.graded:
        print_table(console, _RELIABILITY_COLUMNS, [
            [printable(scenario), rel.grade, f"{rel.score:.2f}",
             "-" if rel.coverage is None else f"{rel.coverage:.0%}", f"{rel.evidenced:.0%}",
             f"{rel.sources:.0%}", f"{rel.recency:.0%}", f"{rel.precision:.0%}"]
            for scenario, _, rel in validation.graded], "Reliability")
    verdict = "[green]all files valid[/]" if not validation.errors else "[red]invalid[/]"
    console.print(f"{summary_line(validation)} — {verdict}")
