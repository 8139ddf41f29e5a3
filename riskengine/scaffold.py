"""Starting a project (``riskengine init``) and adding a scenario to it (``riskengine new``).

Both write only new files, all or none: ``init`` builds the project in a temporary folder
beside the target and moves it into place; ``new scenario`` writes one file atomically and
never replaces an existing one.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from riskengine.files import parse_file, yaml_files
from riskengine.models import SCENARIO_ID, SLUG, Factor, json_schema
from riskengine.problems import display_path
from riskengine.project import CONFIG_NAME, find_project

StarterCatalogue = Literal["shipped", "minimal"]
MAX_NAME = 64


class ScaffoldError(Exception):
    """The project or scenario cannot be created as asked; nothing was written."""


@dataclass(frozen=True)
class Created:
    """What a scaffolding command wrote."""

    root: Path
    files: list[Path]


# ---------------------------------------------------------------------------------------------
# the shipped catalogue, wherever riskengine is installed from


def _shipped(kind: Literal["factors", "models"]) -> Traversable | Path:
    """The shipped catalogue (or trees): the wheel carries them as package data
    (pyproject's package-dir mapping); a source checkout has them beside the package."""
    try:
        return importlib.resources.files(f"riskengine.shipped_{kind}")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / kind


def _yaml_entries(folder: Traversable | Path) -> Iterator[tuple[str, str]]:
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml") and entry.is_file():
            yield entry.name, entry.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# init


CONFIG_TEXT = """\
# riskengine project settings (https://github.com/riskengine: README, "Start your own project").
# Every key is optional; the values below are the defaults unless stated.
factors = "factors"      # the catalogue: one YAML file per factor
models = "models"        # model trees, models/<id>.yaml
scenarios = "scenarios"  # one folder per partnership
# tree = "pillars"       # the tree of scenarios that name none (default: MODEL.md's formula)

[model]                  # defaults for scenarios whose `model:` does not say
bands = {{ stable = 65, fragile = 40 }}

[validate]               # defaults of `riskengine validate`; its flags override them
max-evidence-age = 1095  # days: warn (RE602) when an estimate's newest source is older
# ignore = ["RE606"]
# [validate.per-file-ignores]
# "scenarios/{partnership}/history-*.yaml" = ["RE602"]
"""

README_TEXT = """\
# {title}

A [riskengine](https://pypi.org/project/riskengine/) project: the stability of the {a}–{b}
partnership under scenarios.

    riskengine validate                       # check every file (CI runs this)
    riskengine run scenarios/{partnership}/   # score the scenarios
    riskengine new scenario NAME --partnership {partnership} --extends baseline
    riskengine compare scenarios/             # side by side, with P(A beats B)
    riskengine report scenarios/ -o report.html

- `factors/` is the catalogue: what is scored and on which scale. {catalogue_note}
- `scenarios/{partnership}/baseline.yaml` is a placeholder: every estimate spans the factor's
  whole scale with low confidence and no evidence, so validate warns (RE601) until each
  estimate cites a dated source. Replace the ranges with your assessment.
- An outlook (`riskengine outlook scenarios/{partnership}`) needs a `probability` in every
  scenario of the folder, summing to 1.
- `riskengine.toml` holds the project's settings.
"""

MINIMAL_FACTORS = {
    "partner_alignment_gap.yaml": """\
# yaml-language-server: $schema=../schemas/factor.schema.json
id: partner_alignment_gap
name: Gap in the partners' foreign-policy alignment
kind: risk
group: political
about: pair
description: >-
  How far the two parties' foreign and security policies diverge on the questions that matter
  to the cooperation. 0: fully aligned; 10: opposed on the core questions.
scale: {min: 0, max: 10, unit: expert score}
higher_means: more
weight: 1
""",
    "procurement_demand.yaml": """\
# yaml-language-server: $schema=../schemas/factor.schema.json
id: procurement_demand
name: Procurement demand for the partner's products
kind: opportunity
group: economic
about: a
description: >-
  How much the acquiring party needs and can fund what the other party offers. 0: no
  requirement; 10: urgent, funded requirements that the partner's products fit.
scale: {min: 0, max: 10, unit: expert score}
higher_means: more
weight: 1
""",
}


def _baseline(partnership: str, parties: tuple[str, str], factors: list[Factor],
              today: dt.date) -> str:
    lines = [
        "# yaml-language-server: $schema=../../schemas/scenario.schema.json",
        "id: baseline",
        f"title: Baseline for {parties[0]}–{parties[1]} (placeholder estimates)",
        f"partnership: {partnership}",
        f"parties: [{json.dumps(parties[0])}, {json.dumps(parties[1])}]",
        f"as_of: {today.isoformat()}",
        "description: >-",
        "  The trend continues. Every estimate below spans its factor's whole scale until it is",
        "  assessed: replace each with a range, a confidence and dated evidence.",
        "factors:",
    ]
    for factor in factors:
        low, high = factor.scale.min, factor.scale.max
        mode = (low + high) / 2
        lines += [f"  {factor.id}:",
                  f"    low: {low:g}", f"    mode: {mode:g}", f"    high: {high:g}",
                  "    distribution: uniform", "    confidence: low", "    evidence: []"]
    return "\n".join(lines) + "\n"


def _check_name(value: str, pattern: str, what: str) -> None:
    if len(value) > MAX_NAME or not re.fullmatch(pattern, value):
        shown = value if len(value) <= MAX_NAME else value[:MAX_NAME] + "…"
        raise ScaffoldError(f"{what} {shown!r} must match {pattern} (at most {MAX_NAME} "
                            "characters)")


def _check_party(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 80 or any(ord(c) < 32 or c == "\x7f" for c in cleaned):
        raise ScaffoldError(f"party name {name[:80]!r} must be 1–80 printable characters")
    return cleaned


def init_project(folder: str | Path, partnership: str = "my-partnership",
                 parties: tuple[str, str] = ("Party A", "Party B"),
                 catalogue: StarterCatalogue = "shipped",
                 today: dt.date | None = None) -> Created:
    """Create a project in ``folder`` (new, or empty) that validates and runs at once: a
    config, a catalogue (the shipped one, or a minimal two-factor one), the shipped trees
    with it, one partnership with a placeholder baseline, editor schemas and a README.
    Raise :class:`ScaffoldError` (nothing written) when ``folder`` is not empty."""
    _check_name(partnership, SLUG, "partnership")
    parties = (_check_party(parties[0]), _check_party(parties[1]))
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise ScaffoldError(f"{display_path(target)} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        marker = " (it holds a project)" if (target / CONFIG_NAME).exists() else ""
        raise ScaffoldError(f"{display_path(target)} is not empty{marker}; give a new or "
                            "empty folder")
    if catalogue == "shipped":
        factor_texts = dict(_yaml_entries(_shipped("factors")))
        tree_texts = dict(_yaml_entries(_shipped("models")))
        if not factor_texts:
            raise ScaffoldError("the shipped catalogue is not installed with riskengine; use "
                                "--catalogue minimal")
        note = "It starts as riskengine's shipped catalogue: review each scale for your case."
    else:
        factor_texts, tree_texts = dict(MINIMAL_FACTORS), {}
        note = "It starts with two placeholder factors: add your own."
    files: dict[str, str] = {
        CONFIG_NAME: CONFIG_TEXT.format(partnership=partnership),
        "README.md": README_TEXT.format(title=f"{parties[0]}–{parties[1]} partnership",
                                        a=parties[0], b=parties[1], partnership=partnership,
                                        catalogue_note=note),
        ".gitignore": "report.html\n*.xlsx\n",
    }
    files.update({f"factors/{name}": text for name, text in factor_texts.items()})
    files.update({f"models/{name}": text for name, text in tree_texts.items()})
    for kind in ("factor", "scenario", "tree"):
        files[f"schemas/{kind}.schema.json"] = json.dumps(json_schema(kind), indent=2,
                                                          ensure_ascii=False) + "\n"

    def baseline(scratch: Path) -> dict[str, str]:
        # the factors as the engine's own reader sees them, so the baseline fits their scales
        factors = [parse_file(path, Factor)[0] for path in yaml_files(scratch / "factors")]
        if any(f is None for f in factors):
            raise ScaffoldError("a starter factor does not load; use --catalogue minimal")
        return {f"scenarios/{partnership}/baseline.yaml": _baseline(
            partnership, parties, [f for f in factors if f is not None],
            today or dt.date.today())}

    return _materialise(target, files, baseline)


def _materialise(target: Path, files: dict[str, str],
                 more: Callable[[Path], dict[str, str]]) -> Created:
    """Write ``files``, then those ``more`` derives from them, under ``target`` all at once:
    built in a temporary folder, then moved into place, so a failure leaves nothing behind.

    A new folder is built beside it and renamed. An existing (empty) folder is kept, since it
    may be the working folder of the shell that runs ``init``: it is built inside it and its
    entries are moved up, the moved ones taken back if a move fails."""
    full = Path(os.path.abspath(target))
    existing = full.is_dir()
    home = full if existing else full.parent
    if not home.is_dir():
        raise ScaffoldError(f"folder {display_path(home)} does not exist")
    try:
        scratch = Path(tempfile.mkdtemp(prefix=".riskengine-init-", dir=home))
    except OSError as exc:
        raise ScaffoldError(f"cannot write in {display_path(home)}: {exc.strerror}") from None
    try:
        written = dict(files)
        _write_all(scratch, files)
        extra = more(scratch)
        _write_all(scratch, extra)
        written.update(extra)
        if existing:
            _move_into(scratch, full)
            scratch.rmdir()
        else:
            os.rename(scratch, full)
            os.chmod(full, 0o777 & ~_umask())
    except OSError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        raise ScaffoldError(f"cannot create {display_path(target)}: {exc.strerror}") from None
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return Created(Path(target), [Path(target) / name for name in sorted(written)])


def _move_into(scratch: Path, folder: Path) -> None:
    moved: list[Path] = []
    try:
        for entry in sorted(scratch.iterdir()):
            destination = folder / entry.name
            os.rename(entry, destination)
            moved.append(destination)
    except OSError:
        for path in moved:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise


def _write_all(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------------------------
# new scenario


def new_scenario(name: str, partnership: str | None = None, extends: str | None = "baseline",
                 title: str | None = None, start: str | Path = ".",
                 today: dt.date | None = None) -> Created:
    """Add ``scenarios/<partnership>/<name>.yaml`` to the project ``start`` belongs to: a
    variant that ``extends`` a scenario of the folder (None: a file of its own, to fill in).
    ``partnership`` may be left out when the project has exactly one."""
    _check_name(name, SCENARIO_ID, "scenario name")
    project = find_project(start)
    scenarios = project.scenarios_dir
    if not scenarios.is_dir():
        raise ScaffoldError(f"no scenarios folder {display_path(scenarios)} in the project "
                            f"at {project.shown}; run `riskengine init` first")
    existing = sorted(p.name for p in scenarios.iterdir() if p.is_dir()
                      and not p.name.startswith("."))
    if partnership is None:
        if len(existing) != 1:
            raise ScaffoldError(f"give --partnership: the project has "
                                f"{'no partnership' if not existing else ', '.join(existing)}")
        partnership = existing[0]
    _check_name(partnership, SLUG, "partnership")
    folder = scenarios / partnership
    path = folder / f"{name}.yaml"
    if path.exists() or (folder / f"{name}.yml").exists():
        raise ScaffoldError(f"{display_path(path)} already exists; choose another name")
    if extends is not None:
        _check_name(extends, SCENARIO_ID, "--extends")
        siblings = {p.stem for p in yaml_files(folder)} if folder.is_dir() else set()
        if extends not in siblings:
            raise ScaffoldError(f"--extends {extends}: no scenario {extends!r} in "
                                f"{display_path(folder)}")
    heading = title or name.replace("-", " ").replace("_", " ").capitalize()
    lines = ["# yaml-language-server: $schema=../../schemas/scenario.schema.json",
             f"id: {name}", f"title: {json.dumps(heading, ensure_ascii=False)}"]
    if extends is not None:
        lines += [f"extends: {extends}",
                  "description: >-",
                  f"  What changes against {extends}: state the events, then override the "
                  "estimates they move",
                  "  below (a full estimate, or `shift: +1` to move the inherited one).",
                  "factors: {}"]
    else:
        lines += [f"partnership: {partnership}", f"as_of: {(today or dt.date.today())}",
                  "factors: {}"]
    from riskengine.fileio import write_atomic

    folder.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: a file that appeared since the check above is not replaced
        with open(path, "x", encoding="utf-8"):
            pass
        write_atomic(path, "\n".join(lines) + "\n")
    except FileExistsError:
        raise ScaffoldError(f"{display_path(path)} already exists; choose another name") \
            from None
    return Created(project.root, [path])
