"""Hostile and mutated tree files through the real CLI: a located finding and exit 1, never a
traceback, an internal error (exit 3) or a hang."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ROOT, Runner

LONG_FUZZ = os.environ.get("RISKENGINE_LONG_FUZZ") == "1"
PILLARS = (ROOT / "models/pillars.yaml").read_text(encoding="utf-8")
BITS = ["\n", ":", " ", "-", "{", "}", "[", "]", "children:", "factor: ", "weight: 0",
        "weight: 1e308", "weight: -1", "method: max", "method: geometric", "eps: 0",
        "round: 99", "inverted: yes", "normalise: rank", "min_coverage: 2", "id: risk",
        "id: stability", "factor: russia_balancing", ".nan", ".inf", "&a", "*a", "!!python/x",
        "\t", "é", "\x00"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped catalogue, and the Japan–Turkey scenarios scored with the pillar tree."""
    root = tmp_path_factory.mktemp("tree-project")
    shutil.copytree(ROOT / "factors", root / "factors")
    shutil.copytree(ROOT / "scenarios/japan-turkey", root / "scenarios/japan-turkey")
    (root / "models").mkdir()
    return root


HOSTILE = {
    "huge weight": PILLARS.replace("{factor: russia_balancing, weight: 3}",
                                   "{factor: russia_balancing, weight: 1e308}"),
    "huge scale": PILLARS.replace("scale: {min: 0, max: 100, unit: stability}",
                                  "scale: {min: -1e308, max: 1e308, unit: stability}"),
    "multiplier above 1": PILLARS.replace("      inverted: true\n      method: "
                                          "geometric_complements",
                                          "      inverted: true\n      method: max").replace(
        "            - {factor: regional_interventions, weight: 1}",
        "            - {factor: regional_interventions, weight: 1}").replace(
        "        - id: security_risk\n", "        - id: security_risk\n          weight: 5\n"),
    "self-nesting alias": "id: pillars\nname: P\ndescription: d\nroot: &r\n  id: top\n"
                          "  children: [*r]\n",
    "unknown key": PILLARS.replace("higher_is: better", "higher_is: better\nweigth: 1"),
    "bands out of order": PILLARS.replace("{name: stable, min: 65}", "{name: stable, min: 5}"),
    "nan eps": PILLARS.replace("method: geometric_complements",
                               "method: geometric_complements\n      eps: .nan"),
    "round too fine": PILLARS.replace("method: geometric_complements",
                                      "method: geometric_complements\n      round: 400"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_tree_is_a_located_finding(project: Path, cli: Runner, name: str) -> None:
    (project / "models/pillars.yaml").write_text(HOSTILE[name], encoding="utf-8")
    for args in (("validate", "factors", "models", "scenarios", "--format", "json"),
                 ("run", "scenarios/japan-turkey", "--tree", "pillars", "--format", "json")):
        proc = cli(*args, cwd=project)
        assert proc.returncode in (1, 2), (name, args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    report = json.loads(cli("validate", "factors", "models", "scenarios", "--format", "json",
                            cwd=project).stdout)
    located = [p for p in report["problems"] if p["path"].endswith("models/pillars.yaml")
               and p["severity"] == "error"]
    assert located and all(p["line"] is not None for p in located), report["problems"]


@st.composite
def mutated_tree(draw: st.DrawFn) -> str:
    text = PILLARS
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        bit = draw(st.sampled_from(BITS))
        if action == "insert":
            text = text[:where] + bit + text[where:]
        elif action == "delete":
            text = text[:where] + text[where + draw(st.integers(1, 30)):]
        else:
            text = text[:where] + bit + text[where + len(bit):]
    return text


@settings(max_examples=5_000 if LONG_FUZZ else 25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=mutated_tree())
def test_mutated_tree_files_give_only_clean_results(project: Path, cli: Runner, text: str
                                                    ) -> None:
    (project / "models/pillars.yaml").write_text(text, encoding="utf-8", errors="replace")
    for args in (("validate", "models", "scenarios", "--quiet"),
                 ("run", "scenarios/japan-turkey/baseline.yaml", "--tree", "pillars",
                  "--format", "json")):
        proc = cli(*args, cwd=project)
        assert proc.returncode in (0, 1, 2), (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
