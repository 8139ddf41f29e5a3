"""compare: one set of column names in every format, and partnerships ranked by outlooks."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from riskengine.compare import SCENARIO_COLUMNS, compare, expand_columns
from riskengine.loading import load_catalogue, load_scenarios
from riskengine.models import Scenario
from riskengine.simulation import simulate

from .conftest import ROOT, Runner


@pytest.fixture(scope="module")
def shipped() -> list[Scenario]:
    return load_scenarios(ROOT / "scenarios")


def _text_headers(text: str) -> set[str]:
    """Every column name the terminal tables show: header cells, and the columns said once
    above a table (``name = value``)."""
    names: set[str] = set()
    for line in text.splitlines():
        if "┃" in line:
            names |= {c.strip() for c in line.split("┃") if c.strip()}
        names |= set(re.findall(r"(\w+) = ", line))
    return names


def test_one_set_of_column_names_in_every_format(cli: Runner, tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    import pandas as pd

    args = ("compare", "scenarios/", "--simulate", "500")
    as_json = json.loads(cli(*args, "--format", "json", cwd=ROOT).stdout)
    columns = as_json["columns"]
    bands = ["stable", "fragile", "unstable"]
    assert columns == expand_columns(SCENARIO_COLUMNS, bands)
    for name in ("probability", "reliability_grade", "reliability_score", "tree_id",
                 "catalogue", "method", *(f"p_{b}" for b in bands)):
        assert name in columns
    for row in as_json["rows"]:
        assert set(columns) <= set(row)
        assert row["catalogue"] == "factors" and row["method"] in ("exact", "mc")

    header = next(csv.reader(io.StringIO(cli(*args, "--format", "csv", cwd=ROOT).stdout)))
    nodes = [h for h in header if h.startswith("node_")]
    assert nodes and header == columns + nodes

    markdown = cli(*args, "--format", "markdown", cwd=ROOT).stdout
    first_table = next(line for line in markdown.splitlines() if line.startswith("| "))
    assert [c.strip() for c in first_table.strip("| ").split(" | ")] == columns

    text = cli(*args, cwd=ROOT).stdout
    assert set(columns) <= _text_headers(text)

    out = tmp_path / "c.xlsx"
    assert cli(*args, "--format", "xlsx", "-o", str(out), cwd=ROOT).returncode == 0
    sheet = pd.read_excel(out, sheet_name="ranking")
    assert list(sheet.columns) == columns + nodes

    frame = compare(load_scenarios(ROOT / "scenarios"), n=500).to_frame().reset_index()
    assert list(frame.columns) == columns + nodes

    # the partnership rows: one set too
    outlook_columns = as_json["outlook_columns"]
    assert [list(r) for r in as_json["partnerships"]] == [outlook_columns] * 3
    partnerships = pd.read_excel(out, sheet_name="partnerships")
    assert list(partnerships.columns) == outlook_columns
    md_tables = [line for line in markdown.splitlines() if line.startswith("| partnership")]
    assert [c.strip() for c in md_tables[1].strip("| ").split(" | ")] == outlook_columns
    assert set(outlook_columns) <= _text_headers(text)


def test_rows_carry_probability_reliability_and_catalogue(shipped: list[Scenario]) -> None:
    catalogue = load_catalogue(ROOT / "factors")
    comparison = compare(shipped, n=500, catalogue=catalogue)
    by_key = {s.key: s for s in shipped}
    for row in comparison.rows():
        scenario = by_key[f"{row['partnership']}/{row['scenario']}"]
        assert row["probability"] == scenario.probability
        assert row["reliability_grade"] in "ABCDE" and 0 <= row["reliability_score"] <= 1
        assert row["catalogue"] == "factors"
        assert math.isclose(sum(row[f"p_{b}"] for b in ("stable", "fragile", "unstable")), 1.0)


def test_partnership_outlooks_rank_and_combine_the_pair_odds(shipped: list[Scenario]) -> None:
    """P(outlook A beats B) = sum_k sum_l p_k q_l P(A_k > B_l): with every pair computed
    (pairs="all") the partnership odds follow from the scenario pairs to rounding."""
    comparison = compare(shipped, n=4000, seed=3, pairs="all")
    rows = comparison.outlook_rows()
    assert [r["expected_stability"] for r in rows] == sorted(
        (r["expected_stability"] for r in rows), reverse=True)
    for row in rows:
        members = [s for s in shipped if s.partnership == row["partnership"]]
        expected = math.fsum((s.probability or 0) * comparison.results[shipped.index(s)].stability
                             for s in members)
        assert row["expected_stability"] == pytest.approx(expected, abs=1e-9)
        assert row["stability_p5"] <= row["stability_p50"] <= row["stability_p95"]
    pair = {(p["a"], p["b"]): p for p in comparison.pairs()}
    prob = {s.key: s.probability or 0.0 for s in shipped}
    assert len(comparison.outlook_pairs()) == 3
    for op in comparison.outlook_pairs():
        total = 0.0
        for ka in (s.key for s in shipped if s.partnership == op["a"]):
            for kb in (s.key for s in shipped if s.partnership == op["b"]):
                if (ka, kb) in pair:
                    p = pair[ka, kb]["p_a_beats_b"]
                else:
                    q = pair[kb, ka]
                    p = 1.0 - q["p_a_beats_b"] - q["p_tie"]
                total += prob[ka] * prob[kb] * p
        assert op["p_a_beats_b"] == pytest.approx(total, abs=1e-12)


def test_independent_partnerships_outlook_odds_match_independent_draws(
        shipped: list[Scenario]) -> None:
    """Indonesia–Turkey against Japan–Turkey's scenarios moved to two other parties: nothing
    in common, so the outlook odds equal those of independent simulations within 4 SE."""
    a = [s for s in shipped if s.partnership == "indonesia-turkey"]
    b = [s.model_copy(update={"partnership": "korea-poland",
                              "parties": ("South Korea", "Poland")})
         for s in shipped if s.partnership == "japan-turkey"]
    n = 20_000
    got = compare(a + b, n=n, seed=5, method="mc").outlook_pairs()[0]
    assert (got["a"], got["b"]) == ("indonesia-turkey", "korea-poland")
    draws = {s.key: simulate(s, n=n, seed=50 + i, method="mc").stability
             for i, s in enumerate(a + b)}
    total, variance = 0.0, 0.0
    for sa in a:
        for sb in b:
            w = (sa.probability or 0) * (sb.probability or 0)
            p = float(np.mean(draws[sa.key] > draws[sb.key]))
            total += w * p
            # each term's two estimates (shared draws, independent draws) differ by binomial
            # noise of variance about 2 p (1 - p) / n
            variance += w * w * 2 * p * (1 - p) / n
    assert 0.05 < total < 0.95
    assert abs(got["p_a_beats_b"] - total) < 4 * math.sqrt(variance)


def test_partnership_without_probabilities_has_no_outlook_row(shipped: list[Scenario],
                                                              capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    from riskengine import reporting
    from riskengine.cli import _console

    chosen = [s.model_copy(update={"probability": None}) if s.partnership == "japan-uk" else s
              for s in shipped]
    comparison = compare(chosen, n=500)
    assert {r["partnership"] for r in comparison.outlook_rows()} == {"indonesia-turkey",
                                                                     "japan-turkey"}
    [missing] = comparison.to_dict()["without_outlook"]
    assert missing["partnership"] == "japan-uk" and "probability" in missing["reason"]
    assert len(comparison.outlook_pairs()) == 1
    reporting.print_compare(comparison.to_dict(), _console())
    assert "japan-uk: no outlook (an outlook needs a probability" in capsys.readouterr().out
    assert "japan-uk: no outlook" in reporting.compare_markdown(comparison.to_dict())
    assert comparison.outlooks_frame().index.tolist() == ["indonesia-turkey", "japan-turkey"]


def test_method_is_named_in_every_row(cli: Runner) -> None:
    out = json.loads(cli("compare", "scenarios/japan-uk", "--simulate", "500", "--method", "mc",
                         "--format", "json", cwd=ROOT).stdout)
    assert out["method"] == "mc"
    assert {r["method"] for r in out["rows"]} == {"mc"}
    assert {r["method"] for r in out["partnerships"]} == {"mc"}
    text = cli("compare", "scenarios/japan-uk", "--simulate", "500", "--method", "mc",
               cwd=ROOT).stdout
    assert "method mc" in text and "method = mc" in text


def test_outlook_rows_agree_with_the_outlook_command(shipped: list[Scenario]) -> None:
    """A partnership's row comes from its own compare run (its mixture found while drawing);
    the outlook command draws it alone: the same expected S, and percentiles within the
    sampling error of two runs of 20,000 draws (0.5 points here, where the spread is ~10)."""
    from riskengine.outlook import outlook

    comparison = compare(shipped, n=20_000, seed=1, method="mc")
    for row in comparison.outlook_rows():
        alone = outlook([s for s in shipped if s.partnership == row["partnership"]],
                        n=20_000, seed=1, method="mc").to_dict()
        assert row["expected_stability"] == pytest.approx(alone["expected_stability"],
                                                          abs=1e-9)
        for q in ("stability_p5", "stability_p50", "stability_p95"):
            assert row[q] == pytest.approx(alone["simulation"][q.removeprefix("stability_")],
                                           abs=0.5)


def test_outlook_odds_per_partnership_pair_pass(shipped: list[Scenario],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Many scenarios: the pairs across two partnerships are counted one pair of partnerships
    at a time. The odds agree with the one-pass count within Monte Carlo error."""
    import importlib

    # the module, not the package's compare function of the same name
    module = importlib.import_module("riskengine.compare")

    n = 8_000
    one = {(p["a"], p["b"]): p["p_a_beats_b"]
           for p in compare(shipped, n=n, seed=2, method="mc").outlook_pairs()}
    monkeypatch.setattr(module, "ONE_PASS", 0)
    split = {(p["a"], p["b"]): p["p_a_beats_b"]
             for p in compare(shipped, n=n, seed=2, method="mc").outlook_pairs()}
    assert one.keys() == split.keys()
    for key, p in one.items():
        # two estimates of one probability from n draws each: 4 SE of the difference
        assert split[key] == pytest.approx(p, abs=4 * math.sqrt(2 * 0.25 / n))


def test_rows_of_two_projects_name_their_own_catalogue(cli: Runner) -> None:
    """Scenarios of the shipped project and of examples/korea-poland (its own catalogue): each
    row names the catalogue it was scored with, and its reliability counts the coverage of
    that catalogue (the same grade as validate gives in its own project)."""
    from riskengine.loading import load_project_scenarios
    from riskengine.reliability import reliability

    out = json.loads(cli("compare", "scenarios/", "examples/korea-poland/scenarios",
                         "--simulate", "500", "--format", "json", cwd=ROOT).stdout)
    catalogues = {r["partnership"]: r["catalogue"] for r in out["rows"]}
    assert catalogues["korea-poland"] == "examples/korea-poland/factors"
    assert catalogues["japan-turkey"] == "factors"
    assert {r["partnership"] for r in out["partnerships"]} >= {"korea-poland", "japan-turkey"}
    loaded = load_project_scenarios([ROOT / "examples/korea-poland/scenarios"])
    own = {s.id: reliability(s, loaded.catalogue_of(s)).score for s in loaded.scenarios}
    for row in out["rows"]:
        if row["partnership"] == "korea-poland":
            assert row["reliability_score"] == pytest.approx(own[row["scenario"]])


def test_default_outlook_pairs_are_the_rankings_neighbours(shipped: list[Scenario]) -> None:
    """A portfolio of many partnerships would need every scenario of each against every
    scenario of every other; by default each partnership is compared with its neighbours in
    the ranking by expected stability, and --pairs all gives every pair (the same odds)."""
    default = compare(shipped, n=500, seed=1)
    every = compare(shipped, n=500, seed=1, pairs="all")
    ranked = [row["partnership"] for row in sorted(
        default.outlook_rows(), key=lambda r: -r["expected_stability"])]
    got = {frozenset((p["a"], p["b"])): p for p in default.outlook_pairs()}
    assert set(got) == {frozenset(pair) for pair in itertools.pairwise(ranked)}
    assert len(every.outlook_pairs()) == len(ranked) * (len(ranked) - 1) // 2
    assert default.to_dict()["partnership_pair_scope"] == "neighbours in the ranking by " \
                                                         "expected stability"
    for pair in every.outlook_pairs():
        if frozenset((pair["a"], pair["b"])) in got and pair["method"] == "exact":
            assert got[frozenset((pair["a"], pair["b"]))]["p_a_beats_b"] == pair["p_a_beats_b"]
