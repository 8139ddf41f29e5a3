"""Charts for the HTML report, drawn with matplotlib and returned as inline SVG text.

Each function takes plain numbers (no models), so the charts are easy to test and reuse. The SVG
is deterministic: fixed hash salt, no creation date, text kept as text (``svg.fonttype: none``),
so the same inputs give the same bytes.

matplotlib is an optional extra (``pip install riskengine[plots]``); :func:`require_matplotlib`
turns its absence into a clear message.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from riskengine.reporting import band_tone, printable
from riskengine.scoring import BandRule, band_names, band_specs

BAND_COLOURS = {"stable": "#2e7d32", "fragile": "#f9a825", "unstable": "#c62828"}
RISK_COLOUR, OPPORTUNITY_COLOUR = "#c62828", "#2e7d32"
INK, GRID = "#263238", "#cfd8dc"


class MissingExtra(Exception):
    """An optional dependency is not installed."""


def require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtra("the report needs matplotlib: pip install 'riskengine[plots]'"
                           ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.hashsalt": "riskengine", "svg.fonttype": "none", "font.size": 9,
        "font.family": "sans-serif", "axes.edgecolor": INK, "axes.labelcolor": INK,
        "xtick.color": INK, "ytick.color": INK, "axes.spines.top": False,
        "axes.spines.right": False, "axes.grid": True, "grid.color": GRID,
        "grid.linewidth": 0.6, "axes.axisbelow": True, "figure.dpi": 100,
        # Labels are user text (partnership folders, scenario ids): a "$" in them is a dollar
        # sign, not the start of mathtext (which draws "$x^2$" as maths or fails on "$x^$"),
        # and never LaTeX.
        "text.parse_math": False, "text.usetex": False,
    })
    return plt


def _horizontal_boxes() -> dict[str, Any]:
    # matplotlib 3.10 replaced boxplot's vert=False by orientation="horizontal"
    import matplotlib

    major, minor = (int(part) for part in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def to_svg(fig: Any, title: str) -> str:
    """The figure as an inline ``<svg>`` element with an accessible title."""
    plt = require_matplotlib()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    # the RDF <metadata> block only names matplotlib; it adds bytes and namespace URLs
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    head_end = svg.index(">") + 1
    label = html.escape(printable(title), quote=True)  # an attribute value: quotes too
    return (svg[:head_end - 1] + f' role="img" aria-label="{label}" class="chart">'
            + f"<title>{label}</title>" + svg[head_end:])


def _shown(labels: Sequence[str]) -> list[str]:
    """Labels as drawn: control characters as visible escapes (SVG cannot hold most of them,
    and no font has a glyph for them)."""
    return [printable(label) for label in labels]


def band_colour(band: str, bands: BandRule = (), higher_is: str = "better") -> str:
    """A band's colour, by its tone on the tree's scale (grey if unknown)."""
    tone = band_tone(band, band_names(bands) if bands else (), higher_is)
    return BAND_COLOURS[tone] if tone else "#90a4ae"


def _band_shading(ax: Any, bands: BandRule, horizontal: bool, scale: tuple[float, float],
                  higher_is: str) -> None:
    specs = band_specs(bands)
    top = scale[1]
    for i, spec in enumerate(specs):
        lo = spec.min if i < len(specs) - 1 else scale[0]
        span = ax.axvspan if horizontal else ax.axhspan
        span(max(lo, scale[0]), top, color=band_colour(spec.name, bands, higher_is),
             alpha=0.07, zorder=0, lw=0)
        top = spec.min


def quadrant(labels: Sequence[str], risk: Sequence[float], opportunity: Sequence[float],
             stability: Sequence[float], bands: Sequence[str], title: str,
             colours: Sequence[str] | None = None) -> str:
    """Risk index against opportunity index, one numbered point per scenario, coloured by band.

    Points are labelled with their position in ``labels`` (1-based), so many scenarios stay
    legible; the report's table next to the chart gives the names.
    """
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7.2, 5.0))
    ax.axvline(0.5, color=GRID, lw=1)
    ax.axhline(0.5, color=GRID, lw=1)
    colours = colours or [band_colour(band) for band in bands]
    for number, (r, o, colour) in enumerate(zip(risk, opportunity, colours, strict=True), 1):
        ax.scatter([r], [o], s=60, color=colour, edgecolor=INK, lw=0.6, zorder=3)
        ax.annotate(str(number), (r, o), xytext=(5, 3 + 7 * (number % 2)),
                    textcoords="offset points", fontsize=8, color=INK)
    del labels, stability  # named in the table beside the chart
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("risk index R (0 = none, 1 = all risks at their worst)")
    ax.set_ylabel("opportunity index O")
    for text, x, y in (("low risk, high opportunity", 0.02, 0.97),
                       ("high risk, high opportunity", 0.98, 0.97),
                       ("low risk, low opportunity", 0.02, 0.02),
                       ("high risk, low opportunity", 0.98, 0.02)):
        ax.text(x, y, text, transform=ax.transAxes, fontsize=7, color="#78909c",
                ha="left" if x < 0.5 else "right", va="top" if y > 0.5 else "bottom")
    return to_svg(fig, title)


def distributions(labels: Sequence[str], samples: Sequence[np.ndarray], bands: BandRule,
                  title: str, scale: tuple[float, float] = (0.0, 100.0),
                  score_name: str = "stability S", higher_is: str = "better") -> str:
    """Box plots (p5–p95 whiskers) of the simulated score of each scenario."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7.2, 0.45 * len(labels) + 1.2))
    _band_shading(ax, bands, horizontal=True, scale=scale, higher_is=higher_is)
    ax.boxplot(list(samples), **_horizontal_boxes(), whis=(5, 95), showfliers=False, widths=0.55,
               patch_artist=True, boxprops={"facecolor": "#90a4ae", "alpha": 0.8},
               medianprops={"color": INK})
    ax.set_yticks(range(1, len(labels) + 1), _shown(labels))
    ax.invert_yaxis()
    ax.set_xlim(*scale)
    ax.set_xlabel(f"{printable(score_name)} (box: p25–p75, whiskers: p5–p95)")
    return to_svg(fig, title)


def band_bars(labels: Sequence[str], probabilities: Sequence[dict[str, float]],
              title: str, bands: BandRule = (), higher_is: str = "better") -> str:
    """Stacked horizontal bars of the probability of each band."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7.2, 0.4 * len(labels) + 1.0))
    left = np.zeros(len(labels))
    order = list(dict.fromkeys(band for p in probabilities for band in p))
    for band in order:
        widths = np.array([p.get(band, 0.0) for p in probabilities])
        ax.barh(range(len(labels)), widths, left=left,
                color=band_colour(band, bands, higher_is), label=printable(band))
        for i, (w, x) in enumerate(zip(widths, left, strict=True)):
            if w >= 0.08:
                ax.text(x + w / 2, i, f"{w:.0%}", ha="center", va="center", fontsize=7.5,
                        color="white" if band != "fragile" else INK)
        left += widths
    ax.set_yticks(range(len(labels)), _shown(labels))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability of each band")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(order), 5),
              frameon=False)
    return to_svg(fig, title)


def tornado(ids: Sequence[str], low_scores: Sequence[float], high_scores: Sequence[float],
            base: float, title: str) -> str:
    """S with each factor at its low and at its high, largest swing on top."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7.2, 0.32 * len(ids) + 1.2))
    for i, (lo, hi) in enumerate(zip(low_scores, high_scores, strict=True)):
        ax.barh(i, lo - base, left=base, color="#78909c", height=0.6)
        ax.barh(i, hi - base, left=base, color="#37474f", height=0.6)
    ax.axvline(base, color=INK, lw=1)
    ax.set_yticks(range(len(ids)), _shown(ids))
    ax.invert_yaxis()
    ax.set_xlabel(f"stability S (light: factor at its low, dark: at its high; base {base:.1f})")
    return to_svg(fig, title)


def sobol_bars(ids: Sequence[str], first: Sequence[float], first_ci: Sequence[Sequence[float]],
               total: Sequence[float], total_ci: Sequence[Sequence[float]], title: str) -> str:
    """First-order and total Sobol indices with their 95 % confidence intervals."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7.2, 0.36 * len(ids) + 1.2))
    y = np.arange(len(ids))
    for offset, given, given_ci, colour, label in (
            (-0.18, first, first_ci, "#42a5f5", "first order"),
            (0.18, total, total_ci, "#1a237e", "total")):
        values = np.asarray(given, dtype=float)
        cis = np.asarray(given_ci, dtype=float).reshape(len(ids), 2)
        err = np.abs(np.vstack([values - cis[:, 0], cis[:, 1] - values]))
        ax.barh(y + offset, values, height=0.34, color=colour, label=label, xerr=err,
                error_kw={"ecolor": INK, "lw": 0.8, "capsize": 2})
    ax.set_yticks(y, _shown(ids))
    ax.invert_yaxis()
    ax.set_xlabel("share of the variance of S (bars: estimate, whiskers: 95 % CI)")
    ax.legend(frameon=False, loc="lower right")
    return to_svg(fig, title)


def waterfall(start_label: str, start: float, steps: Sequence[tuple[str, float]],
              end_label: str, title: str) -> str:
    """From one scenario's S to another's, one bar per factor whose contribution changed."""
    plt = require_matplotlib()
    labels = [start_label, *(s[0] for s in steps), end_label]
    fig, ax = plt.subplots(figsize=(7.2, 3.2))
    levels = np.cumsum([start, *(delta for _, delta in steps)])
    end = float(levels[-1])
    # zoom on the moves: from 0 to 100 a shift of a few points would be invisible
    low, high = float(levels.min()), float(levels.max())
    pad = max(2.0, 0.15 * (high - low))
    bottom = max(0.0, low - pad)
    ax.bar(0, start - bottom, bottom=bottom, color="#90a4ae")
    for i, (_, delta) in enumerate(steps, start=1):
        ax.bar(i, delta, bottom=levels[i - 1],
               color=OPPORTUNITY_COLOUR if delta >= 0 else RISK_COLOUR)
        ax.text(i, max(levels[i - 1], levels[i]) + 0.1, f"{delta:+.1f}", ha="center",
                va="bottom", fontsize=7.5, color=INK)
    ax.bar(len(labels) - 1, end - bottom, bottom=bottom, color="#546e7a")
    for x, value in ((0, start), (len(labels) - 1, end)):
        ax.text(x, value + 0.1, f"{value:.1f}", ha="center", va="bottom", fontsize=8,
                color=INK)
    ax.set_xticks(range(len(labels)), _shown(labels), rotation=30, ha="right", fontsize=7.5)
    ax.set_ylabel("stability S")
    ax.set_ylim(bottom, min(100.0, high + pad))
    return to_svg(fig, title)
