"""The HTML report: self-contained, deterministic, and drawn in a real browser."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from .conftest import ROOT, Runner

pytest.importorskip("matplotlib")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


REPORTED = ("scenarios/japan-turkey", "scenarios/japan-uk")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of two shipped partnerships (every section, several partnerships), written
    once by the real command in its own process: the determinism test below compares it with a
    run in this one, so the bytes cannot depend on state inside one interpreter (hash seeds,
    matplotlib caches)."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("report") / "report.html"
    proc = subprocess.run([sys.executable, "-m", "riskengine.cli", "report", *REPORTED,
                           "-o", str(out), "--simulate", "1000", "--sobol-n", "64", "-q"],
                          cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    # nothing is fetched: no external scripts, styles, images, fonts or links to load
    assert not re.search(r"<(script|link|img|iframe)\b", text)
    assert not re.search(r"(src|href)=\"(?!#)", text)
    assert not re.search(r"url\((?!#)", text)  # only in-document references (clip paths)
    for section in ("headline", "quadrant", "distributions", "outlook", "drivers",
                    "waterfalls", "evidence", "methodology"):
        assert f'<section id="{section}">' in text
    assert text.count('class="chart"') >= 6


def test_report_bytes_are_deterministic(report: Path, cli: Runner, tmp_path: Path) -> None:
    again = tmp_path / "again.html"
    proc = cli("report", *REPORTED, "-o", str(again), "--simulate", "1000", "--sobol-n",
               "64", "-q", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(
        report.read_bytes()).hexdigest()


def test_report_errors_leave_no_file(cli: Runner, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = cli("report", "missing/", "-o", str(out), cwd=ROOT)
    assert proc.returncode == 2 and not out.exists()
    assert cli("report", "scenarios/", cwd=ROOT).returncode == 2  # -o is required


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    """Load the report offline in Debian's Chromium: no console errors, every chart drawn."""
    if CHROMIUM is None:
        if os.environ.get("CI") or os.environ.get("RISKENGINE_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed; .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    import numpy as np
    from matplotlib import image

    messages: list[str] = []
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900}, bypass_csp=True)
            page.on("console", lambda m: messages.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url)
                    if not r.url.startswith(("file:", "data:")) else None)
            page.goto(report.as_uri(), wait_until="load")
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"screenshot: {screenshot}")
            charts = page.locator("svg.chart")
            count = charts.count()
            assert count >= 6
            page_pixels = image.imread(str(screenshot))[..., :3]
            for i in range(count):
                chart = charts.nth(i)
                box = chart.bounding_box()  # page coordinates: the page is not scrolled
                assert box is not None and box["width"] > 200 and box["height"] > 100
                shapes = chart.evaluate("e => e.querySelectorAll('path, rect, use').length")
                assert shapes > 5, f"chart {i} has {shapes} shapes"
                # the chart as drawn, cut from the one full-page screenshot
                top, left = int(box["y"]), int(box["x"])
                pixels = page_pixels[top:top + int(box["height"]), left:left + int(box["width"])]
                # drawn: a real share of the chart is neither white nor one flat colour
                assert np.mean(pixels.min(axis=2) < 0.9) > 0.01, f"chart {i} looks blank"
                assert pixels.std() > 0.05, f"chart {i} looks blank"
        finally:
            browser.close()
    assert messages == []
    assert requests == []
    full = image.imread(str(screenshot))
    assert full.shape[0] > 2000 and full[..., :3].std() > 0.05


def test_compare_ranks_with_pairwise_odds(cli: Runner) -> None:
    import json

    proc = cli("compare", "scenarios/", "--format", "json", "--simulate", "2000", "--pairs",
               "all", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["pair_scope"] == "all"
    rows = result["rows"]
    assert [r["stability"] for r in rows] == sorted((r["stability"] for r in rows),
                                                    reverse=True)
    assert all({"simulation", "band", "delta_vs_baseline"} <= set(r) for r in rows)
    assert len(result["pairs"]) == len(rows) * (len(rows) - 1) // 2
    for pair in result["pairs"]:
        assert 0 <= pair["p_a_beats_b"] + pair["p_tie"] <= 1
    baselines = [r for r in rows if r["scenario"] == "baseline"]
    assert baselines and all(r["delta_vs_baseline"] == 0 for r in baselines)
    text = cli("compare", "scenarios/", "--simulate", "500", cwd=ROOT)
    assert text.returncode == 0 and "P(" in text.stdout
    csv_text = cli("compare", "scenarios/", "--format", "csv", "--simulate", "500", cwd=ROOT)
    assert csv_text.stdout.count("\n") == len(rows) + 1


def test_compare_xlsx(cli: Runner, tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    import pandas as pd

    out = tmp_path / "c.xlsx"
    proc = cli("compare", "scenarios/japan-turkey", "--format", "xlsx", "-o", str(out),
               "--simulate", "500", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    sheets = pd.read_excel(out, sheet_name=None, index_col=0)
    # one partnership: its outlook row, and no partnership pairs to compare
    assert set(sheets) == {"ranking", "P(row beats column)", "partnerships"}
    assert len(sheets["ranking"]) == 5 and len(sheets["partnerships"]) == 1
    assert cli("compare", "scenarios/", "--format", "xlsx", cwd=ROOT).returncode == 2


def test_notebook_reprs_are_html() -> None:
    import riskengine as re_
    from riskengine.compare import compare
    from riskengine.outlook import outlook
    from riskengine.sensitivity import sensitivity
    from riskengine.simulation import simulate

    scenarios = re_.load_scenarios(ROOT / "scenarios/japan-turkey")
    for obj in (re_.score(scenarios[0]), simulate(scenarios[0], 500),
                outlook(scenarios, n=500), sensitivity(scenarios[0], n=256),
                compare(scenarios, n=500)):
        assert "<table" in obj._repr_html_()
