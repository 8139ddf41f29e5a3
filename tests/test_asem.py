"""COINr's ASEM Sustainable Connectivity index, reproduced with riskengine files.

Every leaf is min–max normalised over the population (the 51 countries scored together), 15
after winsorising at the population's quantiles; all 11 aggregates must match COINr's stored
build (``examples/asem-2018/data/aggregated.csv``).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from typing import Any

import pytest

from riskengine.cli import main

from .conftest import ROOT

EXAMPLE = ROOT / "examples" / "asem-2018"


def _ids() -> dict[str, str]:
    """COINr's codes -> the tree's node ids (the generator's table)."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        spec = importlib.util.spec_from_file_location("asem_generate", EXAMPLE / "generate.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return dict(module.IDS)
    finally:
        sys.path.remove(str(EXAMPLE))


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("asem") / "asem.json"
    assert main(["run", str(EXAMPLE / "scenarios" / "asem-2018"), "--format", "json",
                 "-o", str(out)]) == 0
    return list(json.loads(out.read_text(encoding="utf-8")))


def test_every_aggregate_matches_coinr(scored: list[dict[str, Any]]) -> None:
    with (EXAMPLE / "data" / "aggregated.csv").open(encoding="utf-8") as handle:
        published = {row["code"].lower(): row for row in csv.DictReader(handle)}
    ids = _ids()
    aggregates = [code for code in ("Physical", "ConEcFin", "Political", "Instit", "P2P",
                                    "Environ", "Social", "SusEcFin", "Conn", "Sust", "Index")]
    assert len(scored) == len(published) == 51
    worst = 0.0
    for result in scored:
        row = published[result["scenario"]]
        nodes = {n["id"]: n["value"] for n in result["nodes"]}
        for code in aggregates:
            worst = max(worst, abs(nodes[ids[code]] - float(row[code])))
        assert result["tree"]["population"]["size"] == 51
    assert worst < 1e-9


def test_min_max_spans_the_population(scored: list[dict[str, Any]]) -> None:
    """Each leaf's normalised values run from exactly 0 to exactly 1 over the countries."""
    by_factor: dict[str, list[float]] = {}
    for result in scored:
        for factor in result["factors"]:
            by_factor.setdefault(factor["id"], []).append(factor["normalised"])
    assert len(by_factor) == 49
    for values in by_factor.values():
        assert min(values) == pytest.approx(0.0, abs=1e-12)
        assert max(values) == pytest.approx(1.0, abs=1e-12)


def test_one_country_alone_is_normalised_over_its_whole_folder(
        scored: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    """The population is the folder, not the files named on the command line."""
    capsys.readouterr()
    assert main(["run", str(EXAMPLE / "scenarios" / "asem-2018" / "aut.yaml"),
                 "--format", "json"]) == 0
    alone = json.loads(capsys.readouterr().out)[0]
    together = next(r for r in scored if r["scenario"] == "aut")
    assert alone["nodes"] == together["nodes"]
    assert alone["tree"]["population"]["size"] == 51
