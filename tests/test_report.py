"""The HTML report: self-contained, deterministic, drawn in a real browser, each scenario
simulated once; its charts are well-formed SVG whatever the labels hold."""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskengine import charts
from riskengine.reporting import _ci
from riskengine.sensitivity import sobol_exact

from .conftest import ROOT, Runner

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SVG = "{http://www.w3.org/2000/svg}"

REPORTED = ("scenarios/japan-turkey", "scenarios/japan-uk")
OPTIONS = ("--simulate", "1000", "--sobol-n", "64", "-q")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of two shipped partnerships (every section, several partnerships), written
    once by the real command in its own process: the determinism test below compares it with a
    run in this one, so the bytes cannot depend on state inside one interpreter (hash seeds,
    caches)."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    proc = subprocess.run([sys.executable, "-m", "riskengine.cli", "report", *REPORTED,
                           "-o", str(out), *OPTIONS], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def _charts(text: str) -> list[ElementTree.Element]:
    """Every inline SVG of the report, parsed as XML (so each is well-formed on its own)."""
    return [ElementTree.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", text, re.S)]


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    # nothing is fetched: no external scripts, styles, images, fonts or links to load
    assert not re.search(r"<(script|link|img|iframe)\b", text)
    assert not re.search(r"(src|href)=\"(?!#)", text)
    assert not re.search(r"url\((?!#)", text)
    for section in ("headline", "quadrant", "distributions", "outlook", "trees", "drivers",
                    "waterfalls", "evidence", "methodology"):
        assert f'<section id="{section}">' in text
    svgs = _charts(text)
    plain = [svg for svg in svgs if svg.get("class") == "chart"]
    # one quadrant, one distribution chart (one tree), one outlook chart, a tornado and a
    # Sobol chart per baseline, a waterfall per variant (4 + 2), and the two baselines' trees
    assert len(plain) == 1 + 1 + 1 + 2 * 2 + 6
    assert len(svgs) - len(plain) >= 2
    for svg in plain:
        # accessible: a role, a name, and a title and a description a screen reader reads
        assert svg.get("role") == "img" and svg.get("aria-label")
        assert svg.find(f"{SVG}title").text == svg.get("aria-label")  # type: ignore[union-attr]
        assert len(svg.find(f"{SVG}desc").text or "") > 20  # type: ignore[union-attr]
        assert svg.get("viewBox") and not svg.get("width")  # scales with the page
    # the information of each chart: the outlook's band odds, the Sobol indices (exact for
    # these linear trees, so without intervals), the waterfall steps
    assert "japan-uk: stable" in text and "first order" in text and "(exact)" in text
    assert re.search(r"\(S \d+\.\d → \d+\.\d\)", text)


def test_report_bytes_are_deterministic(report: Path, cli: Runner, tmp_path: Path) -> None:
    again = tmp_path / "again.html"
    proc = cli("report", *REPORTED, "-o", str(again), *OPTIONS, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(
        report.read_bytes()).hexdigest()
    # a different seed gives different numbers: the bytes above are not a constant
    other = tmp_path / "other.html"
    assert cli("report", "scenarios/japan-uk", "-o", str(other), "--seed", "1", *OPTIONS,
               cwd=ROOT).returncode == 0
    assert other.read_bytes() != again.read_bytes()


def test_report_errors_leave_no_file(cli: Runner, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = cli("report", "missing/", "-o", str(out), cwd=ROOT)
    assert proc.returncode == 2 and not out.exists()
    assert cli("report", "scenarios/", cwd=ROOT).returncode == 2  # -o is required


def test_report_simulates_each_scenario_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outlooks mix compare's simulations: nothing is drawn again after compare."""
    import importlib

    import riskengine.simulation
    from riskengine import report as report_module
    from riskengine.loading import load_scenarios

    # the package's `compare` and `outlook` are the functions; patch the modules
    compare_module = importlib.import_module("riskengine.compare")
    outlook_module = importlib.import_module("riskengine.outlook")

    scenarios = load_scenarios(ROOT / "scenarios/japan-uk")
    runs: list[int] = []
    real = riskengine.simulation.run_members

    def counted(members: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append(len(members))
        return real(members, *args, **kwargs)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the outlook drew its scenarios again")

    monkeypatch.setattr(compare_module, "run_members", counted)
    monkeypatch.setattr(outlook_module, "run_members", refused)
    text = report_module.build_report(scenarios, n=500, sobol_n=64)
    assert runs == [len(scenarios)]  # one pass, every scenario of the partnership in it
    assert "japan-uk: expected S = " in text


def test_outlook_of_given_simulations(project: Path) -> None:
    """``outlook(simulations=...)`` mixes what it is given: exactly a fresh outlook when the
    laws are exact, within sampling noise of one when they are drawn."""
    from riskengine.compare import compare
    from riskengine.loading import load_scenarios
    from riskengine.outlook import outlook

    exact = load_scenarios(project / "scenarios/demo")
    given = compare(exact, n=2000)
    assert {sim.method for sim in given.simulations} == {"exact"}
    fresh_exact = outlook(exact, n=2000).to_dict()
    assert outlook(exact, n=2000, simulations=given.simulations,
                   results=given.results).to_dict() == fresh_exact
    # compare's laws reused: the same numbers, and no law computed again
    assert len(given.laws) == len(exact) and all(law is not None for law in given.laws)
    assert outlook(exact, n=2000, simulations=given.simulations, results=given.results,
                   laws=given.laws).to_dict() == fresh_exact
    with pytest.raises(ValueError, match="one entry of laws per scenario"):
        outlook(exact, simulations=given.simulations, laws=given.laws[:1])
    drawn = load_scenarios(ROOT / "scenarios/japan-uk")
    given = compare(drawn, n=4000, seed=3)
    mixed = outlook(drawn, n=4000, seed=3, simulations=given.simulations).to_dict()
    fresh = outlook(drawn, n=4000, seed=3).to_dict()
    assert mixed["simulation"]["method"] == "mc" and mixed["simulation"]["n"] == 3 * 4000
    assert mixed["expected_stability"] == fresh["expected_stability"]
    # each scenario's own percentiles: compare's common random numbers, so close, not equal
    for own, new in zip(mixed["scenarios"], fresh["scenarios"], strict=True):
        assert {k: v for k, v in own.items() if k not in ("p5", "p95")} == {
            k: v for k, v in new.items() if k not in ("p5", "p95")}
        assert own["p5"] == pytest.approx(new["p5"], abs=0.3)
    for q in ("mean", "p5", "p50", "p95"):
        assert mixed["simulation"][q] == pytest.approx(fresh["simulation"][q], abs=0.3)
    with pytest.raises(ValueError, match="one simulation per scenario"):
        outlook(drawn, simulations=given.simulations[:1])


HOSTILE = ['<script>alert("x")</script> & \'quoted\'', "\u05e9\u05dc\u05d5\u05dd "
           "\u0639\u0627\u0644\u0645 (RTL) 12", "x" * 400, "\x1b[2J\u202enew\nline",
           "]]><!-- -->"]


def _text_of(svg: ElementTree.Element) -> str:
    """The text a chart draws (its <text> elements without their tooltips)."""
    def drawn(e: ElementTree.Element) -> str:
        return (e.text or "") + "".join(("" if c.tag == f"{SVG}title" else "".join(
            c.itertext())) + (c.tail or "") for c in e)

    return " ".join(drawn(e) for e in svg.iter(f"{SVG}text"))


def _every_chart(labels: list[str]) -> list[str]:
    k = len(labels)
    ramp = np.linspace(0.1, 0.9, k)
    rng = np.random.default_rng(0)
    return [
        charts.quadrant(labels, list(ramp), list(ramp[::-1]), list(ramp * 100),
                        ["stable", "fragile", "unstable", "other", "stable"][:k], labels[0]),
        charts.distributions(labels, [list(np.percentile(rng.normal(50, 10, 200),
                                                         [5, 25, 50, 75, 95]))
                                      for _ in labels],
                             charts_bands(), labels[1]),
        charts.band_bars(labels, [{"stable": 0.5, "fragile": 0.3, labels[0]: 0.2}] * k,
                         labels[2]),
        charts.tornado(labels, list(40 + ramp), list(60 - ramp), 50.0, labels[3]),
        charts.sobol_bars(labels, list(ramp), [(r - 0.05, r + 0.05) for r in ramp],
                          list(ramp), [(r, r) for r in ramp], labels[4], exact=False),
        charts.waterfall(labels[0], 50.0, [(label, 1.5 - i) for i, label in
                                           enumerate(labels)], labels[1], labels[2]),
    ]


def charts_bands() -> Any:
    from riskengine.models import Bands

    return Bands(stable=65, fragile=40)


def test_charts_escape_clip_and_isolate_hostile_labels() -> None:
    svgs = _every_chart(HOSTILE)
    for svg_text in svgs:
        # no markup from a label: the text parses as one SVG with no script, no comment, no
        # raw control character; labels are isolated for bidirectional text
        assert "<script" not in svg_text and "<!--" not in svg_text and "\x1b" not in svg_text
        assert "\u202e" not in svg_text and "\n" not in svg_text
        svg = ElementTree.fromstring(svg_text)
        assert [e.tag for e in svg.iter() if not e.tag.startswith(SVG)] == []
        assert svg.find(f"{SVG}title") is not None and svg.find(f"{SVG}desc") is not None
        drawn = _text_of(svg)
        if svg_text is not svgs[0]:  # the quadrant draws numbers; names are in its tooltips
            assert "\u2068" in drawn and "\u2069" in drawn
        # a long label is clipped where drawn and whole in its tooltip
        assert "x" * 400 not in drawn
        assert svg_text is svgs[0] or "x" * 20 + "…" in drawn
        tips = " ".join(t.text or "" for t in svg.iter(f"{SVG}title"))
        assert "x" * 400 in tips or "x" * 400 in svg.findtext(f"{SVG}desc", "")
        assert '<script>alert("x")</script>' in tips + drawn  # shown as text, not markup
        assert "\\x1b[2J\\u202enew\\nline" in tips + drawn  # control characters visible


def test_charts_are_deterministic_and_show_their_numbers() -> None:
    labels = ["alpha", "beta", "gamma", "delta", "epsilon"]
    assert _every_chart(labels) == _every_chart(labels)
    quadrant, distributions, bands, tornado, sobol, waterfall = (
        ElementTree.fromstring(s) for s in _every_chart(labels))
    assert "1. alpha: risk 0.100, opportunity 0.900, stable" in quadrant.findtext(
        f"{SVG}desc", "")
    assert {"stable", "fragile", "unstable"} <= set(_text_of(distributions).replace(
        "\u2068", " ").replace("\u2069", " ").split())
    assert "50%" in _text_of(bands) and "30%" in _text_of(bands)
    assert "base 50.0" in _text_of(tornado)
    assert "first order" in _text_of(sobol) and "total" in _text_of(sobol)
    assert "+1.5" in _text_of(waterfall) and "-2.5" in _text_of(waterfall)


@pytest.mark.parametrize(("lo", "hi", "expected"), [
    (0, 1, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
    (0, 100, ["0", "20", "40", "60", "80", "100"]),
    (47.3, 56.1, ["48", "50", "52", "54", "56"]),
    (-0.013, 0.21, ["0.00", "0.05", "0.10", "0.15", "0.20"]),
    (0, 0.25, ["0.00", "0.05", "0.10", "0.15", "0.20", "0.25"]),
    (1e6, 3.5e6, ["1000000", "1500000", "2000000", "2500000", "3000000", "3500000"])])
def test_nice_ticks(lo: float, hi: float, expected: list[str]) -> None:
    ticks = charts.nice_ticks(lo, hi)
    assert [charts._tick_text(t, ticks) for t in ticks] == expected


@given(st.floats(-1e6, 1e6), st.floats(1e-4, 1e6))
def test_nice_ticks_cover_the_range_in_round_steps(lo: float, share: float) -> None:
    hi = lo + share * max(1.0, abs(lo))  # a chart's range: not a rounding error of lo
    ticks = charts.nice_ticks(lo, hi)
    assert 2 <= len(ticks) <= 11
    step = ticks[1] - ticks[0]
    assert all(b > a for a, b in itertools.pairwise(ticks))
    assert ticks[0] >= lo - 1e-9 * step and ticks[-1] <= hi + 1e-9 * step
    assert ticks[0] - step < lo and ticks[-1] + step > hi - 1e-9 * step  # none missing
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5, 10)) < 1e-6


_PIXELS = """async ([image, boxes]) => {
  // decode the page's own screenshot in the page: no image library needed in Python
  const img = new Image();
  img.src = "data:image/jpeg;base64," + image;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(img, 0, 0);
  // the share of pixels that are not white, and the spread of the channel values (0-1)
  const stats = (context, x, y, w, h) => {
    const d = context.getImageData(x, y, w, h).data;
    let inked = 0, sum = 0, sq = 0;
    for (let i = 0; i < d.length; i += 4) {
      const r = d[i], g = d[i + 1], b = d[i + 2];
      if (Math.min(r, g, b) < 229.5) inked++;
      sum += r + g + b; sq += r * r + g * g + b * b;
    }
    const n = d.length / 4, mean = sum / (3 * n) / 255;
    return {inked: inked / n, std: Math.sqrt(Math.max(sq / (3 * n) / 65025 - mean * mean, 0))};
  };
  // the whole page, at a quarter of its size
  const small = document.createElement("canvas");
  small.width = Math.ceil(img.width / 4); small.height = Math.ceil(img.height / 4);
  const smallCtx = small.getContext("2d", {willReadFrequently: true});
  smallCtx.drawImage(img, 0, 0, small.width, small.height);
  return {page: {width: img.width, height: img.height,
                 ...stats(smallCtx, 0, 0, small.width, small.height)},
          charts: boxes.map(b => stats(ctx, b.x, b.y, b.width, b.height))};
}"""

_BOXES = """() => [...document.querySelectorAll("svg.chart")].map(e => {
  const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  return {x: Math.floor(r.x + scrollX), y: Math.floor(r.y + scrollY), width: Math.floor(r.width),
          height: Math.floor(r.height), visible: s.visibility === "visible" && s.opacity === "1",
          shapes: e.querySelectorAll("path, rect, circle, use").length,
          texts: e.querySelectorAll("text").length};
})"""


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    """Load the report offline in Debian's Chromium: no console errors, every chart drawn."""
    if CHROMIUM is None:
        if os.environ.get("CI") or os.environ.get("RISKENGINE_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed; .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")

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
            boxes = page.evaluate(_BOXES)
            # JPEG: half the time of a PNG of the whole page; its noise is far below the
            # thresholds below
            shot = page.screenshot(full_page=True, type="jpeg", quality=90)
            screenshot = tmp_path / "report.jpeg"
            screenshot.write_bytes(shot)
            print(f"screenshot: {screenshot}")
            pixels = page.evaluate(_PIXELS, [base64.b64encode(shot).decode(), boxes])
        finally:
            browser.close()
    assert messages == []
    assert requests == []
    assert len(boxes) == report.read_text(encoding="utf-8").count('<svg class="chart')
    for i, (box, drawn) in enumerate(zip(boxes, pixels["charts"], strict=True)):
        assert box["width"] > 200 and box["height"] > 100, f"chart {i}: {box}"
        assert box["visible"] and box["shapes"] > 5 and box["texts"] > 3, f"chart {i}: {box}"
        # drawn: a real share of the chart, as the page shows it, is neither white nor one
        # flat colour
        assert drawn["inked"] > 0.01 and drawn["std"] > 0.05, f"chart {i} looks blank: {drawn}"
    assert pixels["page"]["height"] > 2000 and pixels["page"]["std"] > 0.05


def test_compare_ranks_with_pairwise_odds(cli: Runner) -> None:
    import json

    proc = cli("compare", "scenarios/", "--format", "json", "--simulate", "400", "--pairs",
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
    text = cli("compare", "scenarios/", "--simulate", "200", cwd=ROOT)
    assert text.returncode == 0 and "P(" in text.stdout
    csv_text = cli("compare", "scenarios/", "--format", "csv", "--simulate", "200", cwd=ROOT)
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


def test_report_boxes_of_exact_laws_match_the_headline(project: Path) -> None:
    """Where a scenario's law is exact, its box is read from the law (no draws): its whiskers
    are the headline's p5–p95."""
    from riskengine import report as report_module
    from riskengine.loading import load_scenarios

    text = report_module.build_report(load_scenarios(project / "scenarios/demo"), n=300,
                                      sobol_n=64)
    headline = re.search(r"p5–p95: ([\d.]+)–([\d.]+)", text)
    box = re.search(r"demo/base: p5 ([\d.]+), p25 [\d.]+, median [\d.]+, p75 [\d.]+, "
                    r"p95 ([\d.]+)", text)
    assert headline and box and headline.groups() == box.groups()


def test_report_raises_what_the_sensitivity_thread_raised(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The sensitivities run beside compare on another thread: their error reaches the
    caller as it is."""
    from riskengine import report as report_module
    from riskengine.loading import load_scenarios

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("sensitivity failed")

    monkeypatch.setattr(report_module, "sensitivity", broken)
    with pytest.raises(ValueError, match="sensitivity failed"):
        report_module.build_report(load_scenarios(ROOT / "scenarios/japan-uk"), n=200,
                                   sobol_n=64)


def test_report_on_an_executor_is_the_same_text(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """With an executor, the comparison and (for many partnerships) the baselines' analyses
    run on its workers: the report is the same text as built here alone."""
    from concurrent.futures import ThreadPoolExecutor

    from benchmarks.generate import generate
    from riskengine import report as report_module
    from riskengine.loading import load_project_scenarios

    root = generate(tmp_path / "p", n_factors=30, n_scenarios=9, per_folder=3, per_scenario=6)
    scenarios = load_project_scenarios([root / "scenarios"], jobs=1).scenarios
    monkeypatch.setattr(report_module, "SHARE_DRIVERS_FROM", 2)  # three partnerships
    alone = report_module.build_report(scenarios, n=400, sobol_n=64)
    with ThreadPoolExecutor(2) as pool:
        shared = report_module.build_report(scenarios, n=400, sobol_n=64, executor=pool)
    assert shared == alone


def test_report_takes_jobs_and_an_executor(project: Path, cli: Runner) -> None:
    out = project / "r.html"
    proc = cli("report", "scenarios", "--jobs", "1", "--executor", "local", "--simulate",
               "500", "--sobol-n", "64", "-q", "-o", str(out), cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    proc = cli("report", "scenarios", "--jobs", "0", "-o", str(out),
               cwd=project)
    assert proc.returncode == 2 and "--jobs" in proc.stderr


def test_sobol_chart_draws_intervals_for_estimates_and_says_exact_otherwise() -> None:
    ids = ["a", "b"]
    estimated = charts.sobol_bars(ids, [0.6, 0.3], [(0.55, 0.65), (0.25, 0.35)], [0.62, 0.31],
                                  [(0.6, 0.64), (0.3, 0.32)], "estimated", exact=False)
    assert estimated.count("95 % CI") == 5  # the axis and each bar's title
    assert "(exact)" not in estimated
    exact = charts.sobol_bars(ids, [0.6, 0.3], [(0.6, 0.6), (0.3, 0.3)], [0.6, 0.3],
                              [(0.6, 0.6), (0.3, 0.3)], "exact", exact=True)
    assert "95 % CI" not in exact and exact.count("(exact)") == 5
    whisker = 'stroke-width="0.9"'
    assert estimated.count(whisker) == 4 * 3 and whisker not in exact  # three lines a bar
    # An estimate whose interval has no width (a factor that moves nothing) is still an
    # estimate: the chart follows the method, as the headings do, not the intervals' widths.
    still = charts.sobol_bars(ids, [0.6, 0.0], [(0.55, 0.65), (0.0, 0.0)], [0.62, 0.0],
                              [(0.6, 0.64), (0.0, 0.0)], "estimated", exact=False)
    assert "(exact)" not in still and still.count("95 % CI") == 5
    assert sobol_exact("analytic") and sobol_exact("analytic, independent margins")
    assert not sobol_exact("estimated (Saltelli)")
    # the tables decide as the chart does: by the method, not by an interval's width
    assert _ci(0.0, [0.0, 0.0], exact=False) == "0.000 [0.000, 0.000]"
    assert _ci(0.6, [0.6, 0.6], exact=True) == "0.600"
