"""A project: the folder that holds a catalogue, its trees and its scenarios, and its settings.

A project's root is marked by ``riskengine.toml``, or by a ``[tool.riskengine]`` table in
``pyproject.toml``. Both hold the same keys::

    factors = "factors"          # folders, relative to the root, inside it
    models = "models"
    scenarios = "scenarios"
    tree = "pillars"             # the tree of scenarios that name none (default: MODEL.md's)

    [model]                      # defaults for scenarios that do not say
    bands = { stable = 65, fragile = 40 }

    [validate]
    select = ["ALL"]
    ignore = ["RE606"]
    max-evidence-age = 1095
    [validate.per-file-ignores]
    "scenarios/history/*.yaml" = ["RE602"]

Discovery walks up from a scenario (or any path) to the nearest folder that is a project: one
with a config file, or, without any, one holding both ``factors/`` and ``scenarios/``. A config
beats the plain layout in the same folder; the nearer folder beats the farther one, so a project
inside another (an example inside a repository) is its own.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riskengine.models import SCENARIO_ID, ModelSettingsEntry
from riskengine.problems import InputError, Problem, display_path

CONFIG_NAME = "riskengine.toml"
PYPROJECT = "pyproject.toml"
MAX_CONFIG_BYTES = 100_000


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


RelativeFolder = Annotated[str, Field(min_length=1, max_length=255)]
Codes = list[Annotated[str, Field(pattern=r"^(ALL|RE\d{0,3})$")]]


class ValidateConfig(_Config):
    """``[validate]``: the defaults of ``riskengine validate``'s flags for this project."""

    select: Codes | None = None
    ignore: Codes = []
    per_file_ignores: dict[Annotated[str, Field(min_length=1, max_length=255)], Codes] = Field(
        default_factory=dict, alias="per-file-ignores")
    max_evidence_age: Annotated[int, Field(ge=0, le=100_000)] | None = Field(
        default=None, alias="max-evidence-age")


class ProjectConfig(_Config):
    """A project's settings; every key is optional."""

    factors: RelativeFolder = "factors"
    models: RelativeFolder = "models"
    scenarios: RelativeFolder = "scenarios"
    tree: Annotated[str, Field(pattern=SCENARIO_ID, max_length=64)] | None = None
    model: ModelSettingsEntry = ModelSettingsEntry()
    validate_: ValidateConfig = Field(default=ValidateConfig(), alias="validate")


@dataclass(frozen=True)
class Project:
    """Where a project's files live, and its settings."""

    root: Path
    config_path: Path | None = None
    config: ProjectConfig = field(default_factory=ProjectConfig)
    # False: no config and no factors/ beside scenarios/ marks it; the nearest factors/ folder
    # (the layout of earlier versions) stands in for the catalogue
    marked: bool = True

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def factors_dir(self) -> Path:
        return self.root / self.config.factors

    @property
    def models_dir(self) -> Path:
        return self.root / self.config.models

    @property
    def scenarios_dir(self) -> Path:
        return self.root / self.config.scenarios

    @property
    def shown(self) -> str:
        """The root as messages and outputs show it."""
        return display_path(self.root)

    def relative(self, path: str | Path) -> str | None:
        """``path`` relative to the root in POSIX form (for per-file-ignores), or None when it
        lies outside the project."""
        try:
            return Path(os.path.abspath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return None


# ---------------------------------------------------------------------------------------------
# reading a config file


def _key_line(text: str, key: str) -> int | None:
    """The first line that assigns ``key`` (tomllib keeps no positions; a config is short)."""
    pattern = re.compile(rf"^\s*(\[\s*)?[\"']?{re.escape(key)}[\"']?\s*[=\].]", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _config_problem(path: Path, text: str, loc: tuple[Any, ...], message: str,
                    code: str = "RE801") -> Problem:
    field_path = ".".join(str(part) for part in loc)
    line = None
    for part in reversed(loc):
        if isinstance(part, str):
            line = _key_line(text, part)
            if line is not None:
                break
    return Problem(display_path(path), line, 1 if line else None, field_path, message, code)


def read_config(path: Path) -> tuple[ProjectConfig, list[Problem]]:
    """The settings in ``path`` (``riskengine.toml``, or ``pyproject.toml``'s
    ``[tool.riskengine]``), and every problem in them."""
    shown = display_path(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return ProjectConfig(), [Problem(shown, None, None, "", f"config file larger than "
                                             f"{MAX_CONFIG_BYTES:,} bytes", "RE002")]
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        return ProjectConfig(), [Problem(shown, None, None, "", f"cannot read: "
                                         f"{getattr(exc, 'strerror', None) or exc}", "RE001")]
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's tomllib puts the position only in the message
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line, col = (int(where[1]), int(where[2])) if where else (None, None)
        if where is None and "end of document" in str(exc):
            line, col = text.count("\n") + 1, len(text.rsplit("\n", 1)[-1]) + 1
        message = str(exc).split(" (at ")[0]
        return ProjectConfig(), [Problem(shown, line, col, "", f"not valid TOML: {message}",
                                         "RE803")]
    prefix: tuple[str, ...] = ()
    if path.name == PYPROJECT:
        data = data.get("tool", {}).get("riskengine", {})
        prefix = ("tool", "riskengine")
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple("validate" if part == "validate_" else part for part in error["loc"])
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(_config_problem(path, text, prefix + loc, message,
                                            "RE101" if error["type"] == "extra_forbidden"
                                            else "RE801"))
        return ProjectConfig(), problems
    return config, _folder_problems(path, text, config, prefix)


def _folder_problems(path: Path, text: str, config: ProjectConfig,
                     prefix: tuple[str, ...]) -> list[Problem]:
    """A project's folders stay inside it: a config in a scenario repository must not point
    the engine at files elsewhere on the machine."""
    root = Path(os.path.abspath(path.parent))
    problems = []
    for key in ("factors", "models", "scenarios"):
        value = getattr(config, key)
        target = Path(os.path.normpath(root / value))
        if Path(value).is_absolute() or (target != root and root not in target.parents):
            problems.append(_config_problem(path, text, (*prefix, key),
                                            f"{value!r} lies outside the project folder "
                                            f"{display_path(root)}", "RE802"))
    return problems


def _has_tool_table(pyproject: Path) -> bool:
    try:
        if pyproject.stat().st_size > MAX_CONFIG_BYTES:
            return False
        return "riskengine" in tomllib.loads(pyproject.read_text("utf-8")).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        # a pyproject.toml that is not ours to judge; it simply marks no project
        return False


def config_file(folder: Path) -> Path | None:
    """The config file that makes ``folder`` a project root, if any. A folder that cannot be
    looked into (permission denied) marks no project: reading its files reports why."""
    own = folder / CONFIG_NAME
    if _exists(own.is_file):
        return own
    pyproject = folder / PYPROJECT
    if _exists(pyproject.is_file) and _has_tool_table(pyproject):
        return pyproject
    return None


def _exists(probe: Callable[[], bool]) -> bool:
    """``probe()`` (an ``is_file``/``is_dir``), False where the system refuses to answer:
    pathlib lets a permission error through."""
    try:
        return probe()
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# discovery


def _is_layout(folder: Path) -> bool:
    return _exists((folder / "factors").is_dir) and _exists((folder / "scenarios").is_dir)


def project_root(start: str | Path) -> tuple[Path, Path | None] | None:
    """The root of the project ``start`` belongs to and its config file, or None."""
    return Finder().root(start)


def find_project(start: str | Path | None = None) -> Project:
    """The project ``start`` (a file or folder; default: the working folder) belongs to.

    Without a project marker above it, the nearest ``factors/`` folder above ``start`` that
    does not contain ``start`` is the catalogue (the layout of earlier versions), else
    ``./factors``. Raise :class:`InputError` when the config file has problems.
    """
    return Finder().find(start if start is not None else Path.cwd())


def check_project(start: str | Path) -> tuple[Project, list[Problem]]:
    """Like :func:`find_project`, returning the config's problems instead of raising."""
    return Finder().check(start)


class Finder:
    """:func:`find_project` and :func:`check_project` for the many folders of one command:
    each folder on the way up is looked at once, and each config read once (500 folders of
    scenarios walked up to their root one by one took 0.3 s)."""

    def __init__(self) -> None:
        self._roots: dict[Path, tuple[Path, Path | None] | None] = {}
        self._projects: dict[Path, tuple[Project, list[Problem]]] = {}

    def root(self, start: str | Path) -> tuple[Path, Path | None] | None:
        """:func:`project_root` of ``start``."""
        here = Path(os.path.abspath(start))
        if not _exists(here.is_dir):
            here = here.parent
        walked: list[Path] = []
        found = None
        for folder in (here, *here.parents):
            if folder in self._roots:
                found = self._roots[folder]
                break
            walked.append(folder)
            config = config_file(folder)
            if config is not None:
                found = (folder, config)
                break
            if _is_layout(folder):
                found = (folder, None)
                break
        for folder in walked:  # below a root, every folder has that root
            self._roots[folder] = found
        return found

    def check(self, start: str | Path) -> tuple[Project, list[Problem]]:
        """:func:`check_project` of ``start``."""
        found = self.root(start)
        if found is None:
            return _legacy(Path(start)), []
        if found[0] not in self._projects:
            try:
                self._projects[found[0]] = (_configured(*found), [])
            except InputError as exc:
                self._projects[found[0]] = (Project(*found), exc.problems)
        return self._projects[found[0]]

    def find(self, start: str | Path) -> Project:
        """:func:`find_project` of ``start``."""
        project, problems = self.check(start)
        if problems:
            raise InputError(problems)
        return project


def _legacy(start: Path) -> Project:
    here = Path(os.path.abspath(start))
    for folder in (here if _exists(here.is_dir) else here.parent, *here.parents):
        factors = folder / "factors"
        if _exists(factors.is_dir) and factors != here and factors not in here.parents:
            return Project(folder, marked=False)
    return Project(Path(os.path.abspath(".")), marked=False)


def load_project(root: str | Path) -> Project:
    """The project whose root is ``root`` (its config read if it has one)."""
    folder = Path(os.path.abspath(root))
    return _configured(folder, config_file(folder))


def _configured(root: Path, config_path: Path | None) -> Project:
    """The project at ``root`` with the settings of ``config_path``; raise on its problems."""
    if config_path is None:
        return Project(root)
    config, problems = read_config(config_path)
    if problems:
        raise InputError(problems)
    return Project(root, config_path, config)
