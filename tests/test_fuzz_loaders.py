"""Fuzzing every loader: random and mutated YAML through the real catalogue and scenario
loaders (both YAML parsers) gives a loaded model or an InputError with located, one-line
problems, never another exception.

Derandomised, so CI is repeatable; RISKENGINE_LONG_FUZZ=1 runs a longer, random search.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskengine import yamlio
from riskengine.loading import load_catalogue, load_scenario
from riskengine.problems import InputError

from .conftest import ROOT

LONG = bool(os.environ.get("RISKENGINE_LONG_FUZZ"))
FUZZ = settings(max_examples=5_000 if LONG else 25, derandomize=not LONG, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

FACTOR_SEEDS = [p.read_text() for p in sorted((ROOT / "factors").glob("*.yaml"))[:4]]
SCENARIO_SEEDS = [p.read_text() for p in sorted((ROOT / "scenarios").glob("*/*.yaml"))[:4]]
PIECES = [*":-[]{}&*!|>'\"#%@`,?\n\t ", "\n  ", ": ", "- ", "&a ", "*a", "!!str ", "<<: ",
          ".nan", "1e999", "1e-310", "-1e308", "0x1F", "~", "extends: ../x\n", "extends: ",
          "weight: 1e308\n", "rho: 1\n", "  shift: 1e308\n", "value: ", "low: ", "high: ",
          "correlations: [{factors: [a, b], rho: 0.9}]\n", "a" * 300, "\u2028", "é"]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str:
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(PIECES))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert":
            text = text[:where] + piece + text[where:]
        elif action == "delete":
            text = text[:where] + text[where + draw(st.integers(1, 60)):]
        else:
            text = text[:where] + piece + text[where + len(piece):]
    return text


def texts(seeds: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(mutated(seeds), st.text(max_size=300))


def check_clean(exc: InputError) -> None:
    assert exc.problems
    for problem in exc.problems:
        assert problem.code.startswith("RE") and "\n" not in problem.message


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(ROOT / "factors", root / "factors")
    shutil.copytree(ROOT / "scenarios/japan-turkey", root / "scenarios/japan-turkey")
    return root


@FUZZ
@given(text=texts(FACTOR_SEEDS), pure=st.booleans())
def test_factor_loader(base: Path, text: str, pure: bool) -> None:
    path = base / "factors/russia_balancing.yaml"
    original = path.read_text()
    path.write_text(text, encoding="utf-8")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(yamlio.PURE_ENV, "1" if pure else "0")
            load_catalogue(base / "factors")
    except InputError as exc:
        check_clean(exc)
    finally:
        path.write_text(original, encoding="utf-8")


@FUZZ
@given(text=texts(SCENARIO_SEEDS), name=st.sampled_from(["baseline", "budget-stall"]),
       pure=st.booleans())
def test_scenario_loader(base: Path, text: str, name: str, pure: bool) -> None:
    catalogue = load_catalogue(base / "factors")
    folder = base / "scenarios/japan-turkey"
    path = folder / f"{name}.yaml"
    original = path.read_text()
    path.write_text(text, encoding="utf-8")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(yamlio.PURE_ENV, "1" if pure else "0")
            # the file itself, and a child that inherits from it
            for file in (path, folder / "sanctions-alignment.yaml"):
                try:
                    load_scenario(file, catalogue)
                except InputError as exc:
                    check_clean(exc)
    finally:
        path.write_text(original, encoding="utf-8")
