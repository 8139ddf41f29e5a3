"""The client report: one self-contained HTML file with inline CSS and inline SVG charts.

Nothing in the file reaches the network, and the same inputs and seed give the same bytes (no
timestamps; the charts are plain SVG written by :mod:`riskengine.charts`). Each scenario is
simulated once (by :func:`riskengine.compare.compare`) and every section reads that simulation.
Sections: headline per partnership, the risk–opportunity quadrant, score distributions,
outlooks, tornado and Sobol bars, contribution waterfalls from each baseline to its variants,
the evidence table and the methodology in brief.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from riskengine import __version__, charts
from riskengine.charts import esc  # text and attribute values, in HTML as in SVG
from riskengine.compare import Comparison, compare, reference_of
from riskengine.loading import outlook_problems
from riskengine.models import Factor, Scenario, TreeFile
from riskengine.outlook import outlook
from riskengine.reliability import reliability
from riskengine.scoring import Result, band_specs, scenario_bands, score
from riskengine.sensitivity import sensitivity, sobol_exact
from riskengine.simulation import Progress, Simulation
from riskengine.tree import TreeError
from riskengine.trees import needs_population
from riskengine.treeview import tree_svg

CSS = """
:root { --ink: #263238; --muted: #607d8b; --rule: #cfd8dc; --stable: #2e7d32;
        --fragile: #b28704; --unstable: #c62828; }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans",
       sans-serif; color: var(--ink); margin: 0 auto; max-width: 980px; padding: 24px; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 32px 0 8px;
border-bottom: 2px solid var(--rule); padding-bottom: 4px; } h3 { font-size: 16px;
margin: 20px 0 6px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr));
         gap: 12px; }
.card { border: 1px solid var(--rule); border-radius: 8px; padding: 12px 14px; }
.card .score { font-size: 30px; font-weight: 700; }
.band { font-weight: 700; text-transform: uppercase; font-size: 12px; letter-spacing: .04em; }
.band.stable { color: var(--stable); } .band.fragile { color: var(--fragile); }
.band.unstable { color: var(--unstable); }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--rule); padding: 4px 6px; text-align: left;
         vertical-align: top; }
th { background: #eceff1; } td.num, th.num { text-align: right;
font-variant-numeric: tabular-nums; }
figure { margin: 8px 0 20px; } figcaption { color: var(--muted); font-size: 12.5px; }
svg.chart { width: 100%; max-width: 860px; height: auto; display: block; }
.nowrap { white-space: nowrap; }
.note { color: var(--muted); font-size: 12.5px; }
nav ol { columns: 2; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  h2 { break-before: auto; } figure, table, .card { break-inside: avoid; }
  nav { display: none; } a { color: inherit; text-decoration: none; }
}
"""

Section = tuple[str, str, str]  # anchor, title, html body


def figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def table(header: Sequence[str], rows: Sequence[Sequence[object]],
          numeric: Sequence[int] = (), nowrap: Sequence[int] = ()) -> str:
    def cls(i: int) -> str:
        names = [n for n, cols in (("num", numeric), ("nowrap", nowrap)) if i in cols]
        return f' class="{" ".join(names)}"' if names else ""

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{esc(c)}</td>" for i, c in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def band_span(band: str) -> str:
    return f'<span class="band {esc(band)}">{esc(band)}</span>'


def _drivers_of(baseline: Scenario, sobol_n: int, seed: int) -> dict[str, Any]:
    """The drivers section's analysis of one baseline (top level: picklable for a pool)."""
    return sensitivity(baseline, n=sobol_n, seed=seed).to_dict()


def _start_drivers(baselines: list[Scenario], sobol_n: int, seed: int,
                   executor: Executor | None) -> Callable[[], list[dict[str, Any]]]:
    """Start the baselines' analyses, which need nothing from the comparison, and return how
    to wait for them: on ``executor``'s workers, else on a second thread here while the
    comparison simulates (numpy releases the GIL in its array loops). Each is seeded on its
    own, so the numbers do not depend on where or in which order they run."""
    if executor is not None:
        pending = [executor.submit(_drivers_of, b, sobol_n, seed) for b in baselines]
        return lambda: [future.result() for future in pending]
    found: dict[str, Any] = {}

    def drivers() -> None:
        try:
            found["value"] = [_drivers_of(b, sobol_n, seed) for b in baselines]
        except BaseException as exc:  # handed to the caller's thread below
            found["error"] = exc

    # a daemon thread: Ctrl-C during the comparison ends the command without waiting for it
    worker = threading.Thread(target=drivers, name="report-sensitivity", daemon=True)
    worker.start()

    def wait() -> list[dict[str, Any]]:
        worker.join()
        if "error" in found:
            raise found["error"]
        return list(found["value"])

    return wait


def _by_partnership(scenarios: Sequence[Scenario]) -> dict[str, list[Scenario]]:
    groups: dict[str, list[Scenario]] = {}
    for s in scenarios:
        groups.setdefault(s.partnership, []).append(s)
    return groups


# From this many partnerships, a report given an executor computes their baselines'
# sensitivities on its workers; below it, on a thread here (starting workers costs more than
# a few analyses).
SHARE_DRIVERS_FROM = 8


def build_report(scenarios: Sequence[Scenario], n: int = 20_000, seed: int = 0,
                 sobol_n: int = 2048, title: str = "Partnership stability report",
                 catalogue: Mapping[str, Factor] | None = None,
                 progress: Progress | None = None,
                 alternatives: Sequence[TreeFile] = (),
                 catalogues: Mapping[str, Mapping[str, Factor]] | None = None,
                 executor: Executor | None = None) -> str:
    """The report's HTML text for ``scenarios`` (files of one or several partnerships).

    ``catalogue`` lets each headline's reliability grade include catalogue coverage
    (``catalogues``: each scenario's own, by key, for scenarios of several projects);
    ``alternatives`` are other trees of the project, each shown scoring the same scenarios
    beside the scenarios' own. ``executor``: where the comparison's simulations (and, for
    many partnerships, the sensitivities) run; the text is the same wherever they do.
    """
    groups = _by_partnership(scenarios)
    baselines = {p: reference_of(group[0], group) or group[0] for p, group in groups.items()}
    drivers = _start_drivers(list(baselines.values()), sobol_n, seed,
                             executor if len(baselines) >= SHARE_DRIVERS_FROM else None)
    # One simulation per scenario for the whole report: compare's, which every section and
    # chart below reads (the outlooks mix these same draws or exact laws).
    comparison = compare(scenarios, n=n, seed=seed, progress=progress, executor=executor)
    sensitivities = dict(zip(baselines, drivers(), strict=True))
    results = {r.key: r for r in comparison.results}
    sims = {s.key: s for s in comparison.simulations}

    sections: list[Section] = [
        ("headline", "Headline", _headline(groups, baselines, results, sims,
                                                    catalogues or {}, catalogue)),
        ("quadrant", "Risk and opportunity", _quadrant(comparison)),
        ("distributions", "Score distributions", _distributions(comparison)),
        ("outlook", "Outlook", _outlooks(groups, comparison, n, seed)),
        ("trees", "The model tree", _trees(scenarios, baselines, results, alternatives)),
        ("drivers", "What drives the score", _drivers(baselines, sensitivities)),
        ("waterfalls", "From baseline to each variant", _waterfalls(groups, baselines,
                                                                    results)),
        ("evidence", "Evidence", _evidence(scenarios)),
        ("methodology", "Methodology in brief", _methodology(scenarios, n, seed)),
    ]
    nav = "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t, _ in sections)
    body = "".join(f'<section id="{a}"><h2>{esc(t)}</h2>{b}</section>' for a, t, b in sections)
    parties = ", ".join(sorted(groups))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; img-src data:\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{esc(title)}</h1><p class=\"sub\">{esc(parties)} — {len(scenarios)} "
            f"scenarios, {n:,} Monte Carlo draws each (seed {seed}), riskengine "
            f"{esc(__version__)}</p><nav><ol>{nav}</ol></nav>{body}</body></html>\n")


def _headline(groups: dict[str, list[Scenario]], baselines: dict[str, Scenario],
              results: dict[str, Result], sims: dict[str, Simulation],
              catalogues: Mapping[str, Mapping[str, Factor]],
              catalogue: Mapping[str, Factor] | None) -> str:
    cards = []
    for partnership in groups:
        base = baselines[partnership]
        result, sim = results[base.key], sims[base.key].to_dict()
        parties = " – ".join(base.parties) if base.parties else partnership
        rel = reliability(base, catalogues.get(base.key, catalogue))
        grade = f"<div>reliability: <b>{rel.grade}</b> ({rel.score:.2f})</div>"
        if base.catalogue is not None:  # scenarios of several projects each name their own
            grade += f'<div class="note">catalogue: {esc(base.catalogue)}</div>'

        cards.append(
            f'<div class="card"><div><b>{esc(parties)}</b></div>'
            f'<div class="score">{result.stability:.1f}</div>{band_span(result.band)}'
            f"<div>p5–p95: {sim['p5']:.1f}–{sim['p95']:.1f}</div>"
            + (f"<div>R = {result.risk_index:.3f}, O = {result.opportunity_index:.3f}</div>"
               if result.risk_index is not None and result.opportunity_index is not None
               else f"<div>tree {esc(base.tree.id if base.tree else 'default')}</div>")
            + f"{grade}<div class=\"note\">{esc(base.title)}"
            f"{' (as of ' + base.as_of.isoformat() + ')' if base.as_of else ''}</div></div>")
    scales = sorted({_scale_text(b) for b in baselines.values()})
    return (f'<div class="cards">{"".join(cards)}</div><p class="note">{esc("; ".join(scales))}'
            ". The range is the 5th–95th percentile of "
            "the simulated score. Reliability (A–E) grades the evidence behind each baseline's "
            "estimates: evidence on every estimate, two or more sources, evidence under a year "
            "old at the as-of date, narrow ranges and, where a catalogue is given, coverage of "
            "it.</p>")


def _scale_text(scenario: Scenario) -> str:
    """What the score means and its bands, in words, for the headline's note."""
    bands = band_specs(scenario_bands(scenario))
    cuts = ", ".join(f"{b.name} from {b.min:g}" for b in bands[:-1])
    cuts += f", {bands[-1].name} below"
    tree = scenario.tree
    if tree is None:
        return f"Stability S is 0–100 (higher is more stable): {cuts}"
    direction = "more stable" if tree.higher_is == "better" else "worse"
    return (f"{tree.name}: {tree.scale.min:g}–{tree.scale.max:.4g} {tree.scale.unit} (higher "
            f"is {direction}): {cuts}")


def _quadrant(comparison: Comparison) -> str:
    rows = [r for r in comparison.rows()
            if r["risk_index"] is not None and r["opportunity_index"] is not None]
    if not rows:
        return ('<p class="note">The scenarios\' trees have no risk and opportunity nodes '
                "under their root, so there is no risk–opportunity plane to draw.</p>")
    svg = charts.quadrant([f"{r['partnership']}/{r['scenario']}" for r in rows],
                          [r["risk_index"] for r in rows],
                          [r["opportunity_index"] for r in rows],
                          [r["stability"] for r in rows], [r["band"] for r in rows],
                          "Risk index against opportunity index, every scenario")
    ranking = table(["#", "Scenario", "S", "p5–p95", "Band", "Δ vs baseline"],
                    [[i, f"{r['partnership']}/{r['scenario']}", f"{r['stability']:.1f}",
                      f"{r['simulation']['p5']:.1f}–{r['simulation']['p95']:.1f}", r["band"],
                      "–" if r["delta_vs_baseline"] is None
                      else f"{r['delta_vs_baseline']:+.1f}"] for i, r in enumerate(rows, 1)],
                    numeric=(0, 2, 3, 5))
    return figure(svg, "Each point is a scenario (numbered as in the table, best S first), "
                  "coloured by band.") + ranking


def _distributions(comparison: Comparison) -> str:
    # one chart per tree: scores on different trees share no axis
    by_tree: dict[str, list[int]] = {}
    for i, s in enumerate(comparison.scenarios):
        by_tree.setdefault(s.tree.id if s.tree else "default", []).append(i)
    svg = ""
    for members in by_tree.values():
        first = comparison.scenarios[members[0]]
        tree = first.tree
        scale = (tree.scale.min, tree.scale.max) if tree else (0.0, 100.0)
        name = f"{tree.name} ({tree.scale.unit})" if tree else "stability S"
        svg += figure(charts.distributions(
            [f"{comparison.scenarios[i].partnership}/{comparison.scenarios[i].id}"
             for i in members], [_box(comparison, i) for i in members],
            scenario_bands(first), f"Simulated {name} of every scenario", scale=scale,
            score_name=name, higher_is=tree.higher_is if tree else "better"),
            "Shading marks the bands (green the best, red the worst).")
    pairs = sorted(comparison.pairs(), key=lambda p: -abs(p["p_a_beats_b"] - 0.5))[:12]
    pair_rows = [[p["a"], p["b"], f"{p['p_a_beats_b']:.1%}"] for p in pairs]
    return (svg + "<h3>Probability that one scenario scores above another</h3>"
            + table(["A", "B", "P(S_A > S_B)"], pair_rows, numeric=(2,))
            + '<p class="note">From common random numbers: each factor gets the same draws '
              "in every scenario, so the odds reflect the estimates, not sampling noise.</p>")


BOX = (5.0, 25.0, 50.0, 75.0, 95.0)


def _box(comparison: Comparison, m: int) -> list[float]:
    """The p5, p25, p50, p75 and p95 of scenario ``m``'s score: from its exact law when it has
    one (as its headline range is; no draws needed), else from its simulated draws."""
    laws = comparison.laws[m] if comparison.laws else None
    if laws is not None:
        return [float(v) for v in laws[0].quantile(np.array(BOX) / 100.0)]
    return [float(v) for v in np.percentile(comparison.simulations[m].stability, BOX)]


def _outlooks(groups: dict[str, list[Scenario]], comparison: Comparison, n: int,
              seed: int) -> str:
    index = {s.key: m for m, s in enumerate(comparison.scenarios)}
    parts, labels, probabilities = [], [], []
    for partnership, group in groups.items():
        if outlook_problems(group):
            parts.append(f"<p class=\"note\">{esc(partnership)}: no outlook (the scenarios' "
                         "probabilities are missing or do not sum to 1).</p>")
            continue
        members = [index[s.key] for s in group]
        result = outlook(group, n=n, seed=seed,
                         simulations=[comparison.simulations[m] for m in members],
                         results=[comparison.results[m] for m in members],
                         laws=[comparison.laws[m] for m in members] if comparison.laws
                         else None).to_dict()
        sim = result["simulation"]
        labels.append(partnership)
        probabilities.append(sim["band_probabilities"])
        parts.append(
            f"<h3>{esc(partnership)}: expected S = {result['expected_stability']:.1f}</h3>"
            + table(["Scenario", "Probability", "S", "Band", "Share of E[S]"],
                    [[s["scenario"], f"{s['probability']:.0%}", f"{s['stability']:.1f}",
                      s["band"], f"{s['share_of_expected']:.0%}"]
                     for s in result["scenarios"]], numeric=(1, 2, 4))
            + f"<p class=\"note\">Mixture p5–p50–p95: {sim['p5']:.1f}–{sim['p50']:.1f}–"
              f"{sim['p95']:.1f}.</p>")
    first = next(iter(groups.values()))[0]
    chart = figure(charts.band_bars(labels, probabilities, "Band probabilities of each "
                                    "partnership's outlook", bands=scenario_bands(first),
                                    higher_is=first.tree.higher_is if first.tree else "better"),
                   "Probability-weighted mixture of each partnership's scenarios.") \
        if labels else ""
    return chart + "".join(parts)


def _trees(scenarios: Sequence[Scenario], baselines: dict[str, Scenario],
           results: dict[str, Result], alternatives: Sequence[TreeFile]) -> str:
    """Each baseline's tree, node values and weights from the factors to the score; then the
    same scenarios under each other tree of the project."""
    parts = []
    for partnership, base in baselines.items():
        record = results[base.key].to_dict()
        tree = base.tree.name if base.tree else "the default tree (MODEL.md's formula)"
        parts.append(f"<h3>{esc(partnership)}/{esc(base.id)} under {esc(tree)}</h3>"
                     + figure(tree_svg(record), "Every node's value on the tree's scale "
                              "(bars), its weight within its parent and its rule; each "
                              "factor's raw value and its contribution to the score."))
    own = {s.tree.id for s in scenarios if s.tree is not None}
    for alt in alternatives:
        if alt.id in own:
            continue
        if needs_population(alt):
            parts.append(f'<p class="note">Tree {esc(alt.id)} normalises over a population '
                         "and is shown in its own report.</p>")
            continue
        rows, pictures = [], []
        for scenario in scenarios:
            try:
                other = score(scenario.model_copy(update={"tree": alt, "population": None}))
            except TreeError as exc:
                rows.append([scenario.key, f"{results[scenario.key].stability:.1f}", "–",
                             "–", str(exc)])
                continue
            mine = results[scenario.key]
            rows.append([scenario.key, f"{mine.stability:.1f}", f"{other.stability:.1f}",
                         other.band, f"{other.stability - mine.stability:+.1f}"])
            if any(scenario.key == b.key for b in baselines.values()):
                pictures.append(figure(tree_svg(other.to_dict()),
                                       f"{scenario.key} under {alt.name}."))
        parts.append(f"<h3>The same scenarios under {esc(alt.name)} ({esc(alt.id)})</h3>"
                     f"<p>{esc(alt.description)}</p>"
                     + table(["Scenario", "Own tree", alt.id, "Band", "Difference"], rows,
                             numeric=(1, 2, 4)) + "".join(pictures))
    return "".join(parts)


def _drivers(baselines: dict[str, Scenario], sensitivities: dict[str, dict[str, Any]]) -> str:
    parts = []
    for partnership, base in baselines.items():
        result = sensitivities[partnership]
        top = result["tornado"][:10]
        tornado_svg = charts.tornado([t["id"] for t in top], [t["low_score"] for t in top],
                                     [t["high_score"] for t in top], result["stability"],
                                     f"Tornado of {partnership}/{base.id}")
        indices = result["sobol"][:10]
        sobol_svg = charts.sobol_bars([s["id"] for s in indices],
                                      [s["first_order"] for s in indices],
                                      [s["first_order_ci"] for s in indices],
                                      [s["total"] for s in indices],
                                      [s["total_ci"] for s in indices],
                                      f"Sobol indices of {partnership}/{base.id}",
                                      exact=sobol_exact(result["sobol_method"]))
        w = result["weights"]
        parts.append(
            f"<h3>{esc(partnership)}/{esc(base.id)}</h3>"
            + figure(tornado_svg, "S with one factor at its low or high estimate, the others "
                     "at their point values; the ten largest swings.")
            + figure(sobol_svg, f"Share of the variance of S due to each factor "
                     f"({result['sobol_method']} indices).")
            + f"<p class=\"note\">Weights perturbed (Dirichlet, concentration "
              f"{w['concentration']:g}): S p5–p95 {w['p5']:.1f}–{w['p95']:.1f}; probability "
              f"the band changes {w['p_band_change']:.1%}; that the top driver changes "
              f"{w['p_top_driver_change']:.1%}.</p>")
    return "".join(parts)


def _waterfalls(groups: dict[str, list[Scenario]], baselines: dict[str, Scenario],
                results: dict[str, Result]) -> str:
    parts = []
    for partnership, group in groups.items():
        base = baselines[partnership]
        base_result = results[base.key]
        base_contrib = {f.id: f.contribution for f in base_result.factors}
        for variant in group:
            if variant.key == base.key:
                continue
            result = results[variant.key]
            contrib = {f.id: f.contribution for f in result.factors}
            steps = [(fid, contrib.get(fid, 0.0) - base_contrib.get(fid, 0.0))
                     for fid in sorted(set(contrib) | set(base_contrib))]
            steps = sorted((s for s in steps if abs(s[1]) > 1e-9), key=lambda s: -abs(s[1]))
            svg = charts.waterfall(base.id, base_result.stability, steps, variant.id,
                                   f"Waterfall from {partnership}/{base.id} to {variant.id}")
            parts.append(f"<h3>{esc(partnership)}: {esc(base.id)} → {esc(variant.id)} "
                         f"({result.stability - base_result.stability:+.1f})</h3>"
                         + figure(svg, f"{variant.title}. Each bar is the change in one "
                                  "factor's contribution."))
    return "".join(parts) or "<p class=\"note\">No variants to compare.</p>"


def _evidence(scenarios: Sequence[Scenario]) -> str:
    rows = []
    for scenario in scenarios:
        for est in scenario.estimates:
            for ev in est.evidence:
                rows.append([f"{scenario.partnership}/{scenario.id}", est.factor.id,
                             ev.source, ev.date.isoformat(), est.confidence or "–",
                             ev.grade or "–"])
    # A variant repeats its parent's evidence; list each (factor, source, date) once per
    # partnership, at the first scenario that cites it.
    seen: set[tuple[str, ...]] = set()
    unique = []
    for row in rows:
        key = (row[0].split("/")[0], row[1], row[2], row[3])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return table(["Scenario", "Factor", "Source", "Date", "Confidence", "Grade"], unique,
                 nowrap=(3,)) + (
        '<p class="note">Grade: Admiralty code, source reliability A–F and information '
        "credibility 1–6, where given.</p>")


def _methodology(scenarios: Sequence[Scenario], n: int, seed: int) -> str:
    model = scenarios[0].model
    trees = sorted({s.tree.name for s in scenarios if s.tree is not None})
    tree_note = (f"<p>Scenarios here are scored with model trees ({esc(', '.join(trees))}): "
                 "each node combines its children's values in 0–1 by its rule (weighted mean, "
                 "geometric mean, geometric mean of complements, max or min), a factor a "
                 "scenario does not estimate is dropped and its siblings' weights renormalised "
                 "within its parent, and each factor's contribution is its exact share of the "
                 "score's distance from the tree's reference point.</p>") if trees else ""
    return tree_note + (
        "<p>Each factor's estimate is placed on its scale and normalised to 0–1 (reversed "
        "where a higher raw value means less of the factor). Weights are normalised within "
        "each kind. The arithmetic model scores <i>S</i> = 100 (β (1 − <i>R</i>) + (1 − β) "
        "<i>O</i>), where <i>R</i> and <i>O</i> are the weighted risk and opportunity indices; "
        "the geometric model multiplies instead, so one extreme factor cannot be offset. "
        f"Here β = {model.risk_share:g}, bands at {model.bands.stable:g} (stable) and "
        f"{model.bands.fragile:g} (fragile).</p>"
        f"<p>Uncertainty: every three-point estimate is a PERT (or triangular or uniform) "
        f"distribution; {n:,} draws per scenario (seed {seed}) give the percentiles and band "
        "probabilities; stated rank correlations are imposed with a Gaussian copula. "
        "Sensitivity: the tornado moves one factor at a time to its low and high; Sobol "
        "indices split the variance of S between factors (exact for the arithmetic model "
        "with independent inputs, otherwise estimated, with 95 % intervals from independent "
        "scramblings of the Sobol points); "
        "weights are perturbed with a Dirichlet distribution around their nominal values.</p>"
        "<p>Limits: expert scores are judgements, several figures rest on a single source, "
        "and weights are argued, not estimated from data. Scenario probabilities should be "
        "revised as their signposts are observed.</p>")
