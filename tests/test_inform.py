"""The INFORM Risk Index 2021, reproduced with riskengine files and the real CLI.

The published values are in ``examples/inform-2021/data/inform_2021.csv``; every country's
INFORM RISK, its three dimensions and its seven categories must match them within the rounding
of the published values (±0.05 after rounding to one decimal).
"""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest

from riskengine.cli import main

from .conftest import ROOT

EXAMPLE = ROOT / "examples" / "inform-2021"
COMPONENTS = ("earthquake", "flood", "tsunami", "tropical_cyclone", "drought", "epidemic",
              "projected_conflict_risk", "current_highly_violent_conflict_intensity",
              "development_deprivation", "inequality", "economic_dependency", "uprooted_people",
              "health_conditions", "children_u5", "recent_shocks", "food_security", "drr",
              "governance", "communication", "physical_infrastructure", "access_to_health_care")
NODES = ("inform_risk", "hazard_exposure", "vulnerability", "lack_of_coping_capacity",
         "natural", "human", "socio_economic_vulnerability", "vulnerable_groups",
         "other_vulnerable_groups", "institutional", "infrastructure")
# The countries INFORM 2021 publishes without some components, and which (the rule applied:
# the component is dropped and its siblings' weights renormalised within its own category).
DRR_ONLY = ["alb", "aze", "bhs", "bel", "blz", "bih", "caf", "tcd", "cog", "cyp", "est", "guy",
            "isl", "irl", "isr", "kir", "kwt", "lva", "lbr", "lby", "ltu", "lux", "mlt", "omn",
            "rus", "stp", "sau", "ssd", "sur", "tuv", "uga", "ukr"]
INEQUALITY_ONLY = ["atg", "grd", "mhl", "nru", "plw", "kna"]
INEQUALITY_AND_DRR = ["dma", "gnq", "eri", "prk", "vct", "som", "tkm"]
LIECHTENSTEIN = ("inequality", "health_conditions", "children_u5", "drr",
                 "access_to_health_care")


def half_up(value: float) -> float:
    return int(value * 10 + 0.5 + 1e-9) / 10


@pytest.fixture(scope="module")
def published() -> dict[str, dict[str, str]]:
    with (EXAMPLE / "data" / "inform_2021.csv").open(encoding="utf-8") as handle:
        return {row["iso3"].lower(): row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("inform") / "inform.json"
    assert main(["run", str(EXAMPLE / "scenarios" / "inform-2021"), "--format", "json",
                 "-o", str(out)]) == 0
    return list(json.loads(out.read_text(encoding="utf-8")))


def test_every_country_and_node_matches_the_published_values(
        scored: list[dict[str, Any]], published: dict[str, dict[str, str]]) -> None:
    assert len(scored) == len(published) == 191
    mismatches = []
    for result in scored:
        row = published[result["scenario"]]
        nodes = {n["id"]: n["value"] for n in result["nodes"]}
        for node in NODES:
            if abs(half_up(nodes[node]) - float(row[node])) > 0.05:
                mismatches.append((result["scenario"], node, nodes[node], row[node]))
        assert result["stability"] == nodes["inform_risk"]
        assert result["band"] == row["risk_class"].lower().replace(" ", "_")
    assert mismatches == []


def test_countries_with_missing_components_and_the_rule_applied(
        scored: list[dict[str, Any]], published: dict[str, dict[str, str]]) -> None:
    missing = {r["scenario"]: set(r["missing"]) for r in scored if r["missing"]}
    expected = {iso: {"drr"} for iso in DRR_ONLY}
    expected |= {iso: {"inequality"} for iso in INEQUALITY_ONLY}
    expected |= {iso: {"inequality", "drr"} for iso in INEQUALITY_AND_DRR}
    expected["lie"] = set(LIECHTENSTEIN)
    assert missing == expected
    for iso, components in missing.items():
        assert components == {c for c in COMPONENTS if published[iso][c] == ""}
    # the rule: renormalised within the category; Albania's institutional is its governance
    albania = next(r for r in scored if r["scenario"] == "alb")
    institutional = next(n for n in albania["nodes"] if n["id"] == "institutional")
    assert institutional["missing"] == ["drr"]
    assert institutional["value"] == pytest.approx(float(published["alb"]["governance"]))


def test_contributions_sum_to_the_score_and_name_the_population(
        scored: list[dict[str, Any]]) -> None:
    for result in scored:
        total = sum(f["contribution"] for f in result["factors"])
        assert total == pytest.approx(result["stability"]
                                      - result["model"]["contribution_reference"], abs=1e-9)
        assert result["model"]["contribution_reference"] == 0.0  # a risk index: from no risk
        assert result["tree"]["id"] == "inform_2021"


def test_the_example_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(EXAMPLE / "factors"), str(EXAMPLE / "models"),
                 str(EXAMPLE / "scenarios"), "--ignore", "RE6", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["problems"][:5]
    assert report["files"] == 21 + 1 + 191


def test_generator_output_is_committed() -> None:
    """generate.py, run again, would write exactly the files in the repository."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("inform_generate", EXAMPLE / "generate.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    with (EXAMPLE / "data" / "inform_2021.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    comps = gen.components()
    expected = {f"factors/{cid}.yaml": gen.factor_yaml(cid, name, dim)
                for cid, name, dim, _ in comps}
    expected["models/inform_2021.yaml"] = gen.tree_yaml()
    expected |= {f"scenarios/inform-2021/{r['iso3'].lower()}.yaml": gen.scenario_yaml(r, comps)
                 for r in rows}
    on_disk = {str(p.relative_to(EXAMPLE)): p.read_text(encoding="utf-8")
               for folder in ("factors", "models", "scenarios")
               for p in (EXAMPLE / folder).rglob("*.yaml")}
    assert on_disk == expected
