"""Charts for the HTML report, written as plain inline SVG text.

Each function takes plain numbers (no models), so the charts are easy to test and reuse. The
SVG is built here, string by string, like :mod:`riskengine.treeview`: no plotting library, so
the same inputs give the same bytes on any machine, and a chart costs microseconds rather than
a savefig. Every chart carries ``role="img"``, an ``aria-label``, a ``<title>`` and a ``<desc>``
(what a screen reader announces), text stays text (searchable, selectable, sharp in print), and
every piece of user text is escaped, shown on one line, clipped to its column (the whole of it
in a tooltip) and isolated for bidirectional text, so a right-to-left name cannot reorder the
numbers around it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

from riskengine.reporting import band_tone, printable
from riskengine.scoring import BandRule, band_names, band_specs

BAND_COLOURS = {"stable": "#2e7d32", "fragile": "#f9a825", "unstable": "#c62828"}
RISK_COLOUR, OPPORTUNITY_COLOUR = "#c62828", "#2e7d32"
INK, MUTED, GRID, UNKNOWN = "#263238", "#607d8b", "#cfd8dc", "#90a4ae"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Liberation Sans', sans-serif"

WIDTH = 720  # the viewBox width of every chart; the page scales it to its column
LABEL = 236  # room for the labels left of a bar chart's plot
RIGHT = 24
CHARS = 34  # labels longer than this are clipped (the full text is in their tooltip)


# ---------------------------------------------------------------------------------------------
# text and numbers


def esc(text: object) -> str:
    """User text in HTML or SVG, as text or an attribute value: one line, control characters
    (which neither may hold) shown as escapes, markup and quotes escaped."""
    return html.escape(printable(str(text)), quote=True)


def _isolated(text: str) -> str:
    """Escaped text wrapped in first-strong isolate … pop directional isolate: a right-to-left
    label keeps its own order without pulling the neighbouring text or numbers into it."""
    return f"\u2068{esc(text)}\u2069"


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[:max(width - 1, 1)] + "…"


def _label(text: str, width: int = CHARS) -> str:
    """A clipped, isolated label plus a tooltip with the whole text (the content of a
    ``<text>`` element)."""
    return (f"<title>{esc(text)}</title>\u2068"
            f"{html.escape(clip(printable(text), width), quote=True)}\u2069")


def _n(value: float) -> str:
    """A coordinate, rounded to a tenth of a unit: short and identical across platforms."""
    text = f"{value:.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw - 1e-12)
    # multiples of the step, each computed from its index (no running sum to drift)
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [k * step + 0.0 for k in range(first, last + 1)]


def _tick_text(value: float, ticks: Sequence[float]) -> str:
    """A tick value with as many decimals as the step between ticks needs."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = next((d for d in range(7) if abs(step * 10 ** d - round(step * 10 ** d))
                     < 1e-6 * max(step * 10 ** d, 1.0)), 6)
    return f"{value:.{decimals}f}"


class Scale:
    """A linear map from data values to SVG units."""

    def __init__(self, lo: float, hi: float, start: float, stop: float) -> None:
        self.lo, self.hi, self.start, self.stop = lo, hi, start, stop

    def __call__(self, value: float) -> float:
        if self.hi == self.lo:
            return (self.start + self.stop) / 2
        share = (value - self.lo) / (self.hi - self.lo)
        return self.start + min(max(share, -0.02), 1.02) * (self.stop - self.start)


def _svg(height: float, title: str, desc: str, body: Sequence[str],
         width: float = WIDTH) -> str:
    label = esc(title)
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} '
            f'{_n(height)}" role="img" aria-label="{label}" font-family="{FONT}" '
            f'font-size="12" fill="{INK}"><title>{label}</title><desc>{esc(desc)}</desc>'
            f'<rect width="{_n(width)}" height="{_n(height)}" fill="#fff"/>'
            + "".join(body) + "</svg>")


def _text(x: float, y: float, content: str, anchor: str = "start", size: float = 12,
          fill: str = INK, extra: str = "") -> str:
    """A ``<text>``; ``content`` is already escaped (see :func:`_label`, :func:`esc`)."""
    return (f'<text x="{_n(x)}" y="{_n(y)}"'
            + (f' text-anchor="{anchor}"' if anchor != "start" else "")
            + (f' font-size="{size:g}"' if size != 12 else "")
            + (f' fill="{fill}"' if fill != INK else "") + extra + f">{content}</text>")


def _rect(x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> str:
    if w < 0:
        x, w = x + w, -w
    if h < 0:
        y, h = y + h, -h
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{fill}"'
            f"{extra}/>")


def _line(points: Sequence[tuple[float, float]], stroke: str = INK, width: float = 1,
          extra: str = "") -> str:
    d = "M" + " L".join(f"{_n(x)} {_n(y)}" for x, y in points)
    return (f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{width:g}"'
            f"{extra}/>")


def _x_axis(scale: Scale, ticks: Sequence[float], top: float, bottom: float,
            label: str) -> list[str]:
    """Vertical grid lines at ``ticks``, their values under the plot, and the axis title."""
    out = []
    for t in ticks:
        x = scale(t)
        out.append(_line([(x, top), (x, bottom)], GRID, 0.8))
        out.append(_text(x, bottom + 15, _tick_text(t, ticks), "middle", 11, MUTED))
    out.append(_line([(scale.start, bottom), (scale.stop, bottom)], INK, 1))
    out.append(_text((scale.start + scale.stop) / 2, bottom + 34, esc(label), "middle", 12))
    return out


def _y_axis(scale: Scale, ticks: Sequence[float], left: float, right: float,
            label: str) -> list[str]:
    """Horizontal grid lines at ``ticks``, their values left of the plot, the axis title."""
    out = []
    for t in ticks:
        y = scale(t)
        out.append(_line([(left, y), (right, y)], GRID, 0.8))
        out.append(_text(left - 6, y + 4, _tick_text(t, ticks), "end", 11, MUTED))
    out.append(_line([(left, scale.start), (left, scale.stop)], INK, 1))
    middle = (scale.start + scale.stop) / 2
    out.append(_text(14, middle, esc(label), "middle", 12,
                     extra=f' transform="rotate(-90 14 {_n(middle)})"'))
    return out


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    """Coloured swatches and their names in one row from (x, y)."""
    out = []
    for name, colour in items:
        out.append(_rect(x, y - 10, 12, 12, colour))
        out.append(_text(x + 17, y, _label(name, 24), size=11.5))
        x += 17 + 7.2 * min(len(printable(name)), 24) + 22
    return out


def band_colour(band: str, bands: BandRule = (), higher_is: str = "better") -> str:
    """A band's colour, by its tone on the tree's scale (grey if unknown)."""
    tone = band_tone(band, band_names(bands) if bands else (), higher_is)
    return BAND_COLOURS[tone] if tone else UNKNOWN


def _band_shading(scale: Scale, bands: BandRule, limits: tuple[float, float], top: float,
                  bottom: float, higher_is: str) -> list[str]:
    """Each band's stretch of the score axis, lightly tinted, with its name at the top."""
    specs = band_specs(bands)
    out = []
    upper = limits[1]
    for i, spec in enumerate(specs):
        lower = max(spec.min if i < len(specs) - 1 else limits[0], limits[0])
        if upper > lower:
            x0, x1 = scale(lower), scale(upper)
            colour = band_colour(spec.name, bands, higher_is)
            out.append(_rect(x0, top, x1 - x0, bottom - top, colour,
                             ' fill-opacity="0.09"'))
            out.append(_text((x0 + x1) / 2, top - 4, _label(spec.name, 16), "middle", 10.5,
                             MUTED))
        upper = min(upper, spec.min)
    return out


# ---------------------------------------------------------------------------------------------
# the charts


def quadrant(labels: Sequence[str], risk: Sequence[float], opportunity: Sequence[float],
             stability: Sequence[float], bands: Sequence[str], title: str,
             colours: Sequence[str] | None = None) -> str:
    """Risk index against opportunity index, one numbered point per scenario, coloured by band.

    Points are labelled with their position in ``labels`` (1-based), so many scenarios stay
    legible; the report's table next to the chart gives the names (each point's tooltip too).
    """
    left, top, size = 70.0, 16.0, 420.0
    x = Scale(0.0, 1.0, left, left + size * 1.4)
    y = Scale(0.0, 1.0, top + size, top)
    ticks = nice_ticks(0.0, 1.0)
    body = [*_x_axis(x, ticks, top, top + size, "risk index R (0 = none, 1 = all risks at "
                     "their worst)"),
            *_y_axis(y, ticks, left, x.stop, "opportunity index O"),
            _line([(x(0.5), top), (x(0.5), top + size)], MUTED, 1, ' stroke-dasharray="4 3"'),
            _line([(left, y(0.5)), (x.stop, y(0.5))], MUTED, 1, ' stroke-dasharray="4 3"')]
    for text, cx, cy, anchor in (("low risk, high opportunity", left + 6, top + 14, "start"),
                                 ("high risk, high opportunity", x.stop - 6, top + 14, "end"),
                                 ("low risk, low opportunity", left + 6, top + size - 8,
                                  "start"),
                                 ("high risk, low opportunity", x.stop - 6, top + size - 8,
                                  "end")):
        body.append(_text(cx, cy, text, anchor, 10.5, "#78909c"))
    colours = colours or [band_colour(band) for band in bands]
    for number, (name, r, o, s, band, colour) in enumerate(
            zip(labels, risk, opportunity, stability, bands, colours, strict=True), 1):
        px, py = x(r), y(o)
        tip = f"{number}. {name}: R {r:.3f}, O {o:.3f}, S {s:.1f} ({band})"
        body.append(f'<g><title>{esc(tip)}</title><circle cx="{_n(px)}" cy="{_n(py)}" r="6" '
                    f'fill="{colour}" stroke="{INK}" stroke-width="0.8"/>'
                    + _text(px + 8, py - 4 - 8 * (number % 2), str(number), size=11)
                    + "</g>")
    desc = "; ".join(f"{i}. {name}: risk {r:.3f}, opportunity {o:.3f}, {band}"
                     for i, (name, r, o, band) in enumerate(
                         zip(labels, risk, opportunity, bands, strict=True), 1))
    return _svg(top + size + 44, title, desc, body)


def distributions(labels: Sequence[str], quantiles: Sequence[Sequence[float]], bands: BandRule,
                  title: str, scale: tuple[float, float] = (0.0, 100.0),
                  score_name: str = "stability S", higher_is: str = "better") -> str:
    """Box plots of the score of each scenario from its p5, p25, p50, p75 and p95 (in that
    order): box p25–p75, a line at the median, whiskers p5–p95; the bands shaded behind."""
    row, top = 26.0, 24.0
    height = top + row * len(labels)
    x = Scale(scale[0], scale[1], LABEL, WIDTH - RIGHT)
    ticks = nice_ticks(*scale)
    body = [*_band_shading(x, bands, scale, top, height, higher_is),
            *_x_axis(x, ticks, top, height, f"{score_name} (box: p25–p75, whiskers: p5–p95)")]
    desc = []
    for i, (name, values) in enumerate(zip(labels, quantiles, strict=True)):
        p5, p25, p50, p75, p95 = (float(v) for v in values)
        mid = top + row * i + row / 2
        body.append(_text(LABEL - 8, mid + 4, _label(name), "end", 11.5))
        body.append(f"<g><title>{esc(name)}: p5 {p5:.1f}, p25 {p25:.1f}, median {p50:.1f}, "
                    f"p75 {p75:.1f}, p95 {p95:.1f}</title>"
                    + _line([(x(p5), mid), (x(p25), mid)], INK, 1)
                    + _line([(x(p75), mid), (x(p95), mid)], INK, 1)
                    + _line([(x(p5), mid - 5), (x(p5), mid + 5)], INK, 1)
                    + _line([(x(p95), mid - 5), (x(p95), mid + 5)], INK, 1)
                    + _rect(x(p25), mid - 8, x(p75) - x(p25), 16, "#90a4ae",
                            f' stroke="{INK}" stroke-width="0.8"')
                    + _line([(x(p50), mid - 8), (x(p50), mid + 8)], INK, 2) + "</g>")
        desc.append(f"{name}: median {p50:.1f}, p25–p75 {p25:.1f}–{p75:.1f}, "
                    f"p5–p95 {p5:.1f}–{p95:.1f}")
    return _svg(max(height + 44, 120), title, "; ".join(desc), body)


def band_bars(labels: Sequence[str], probabilities: Sequence[dict[str, float]],
              title: str, bands: BandRule = (), higher_is: str = "better") -> str:
    """Stacked horizontal bars of the probability of each band, one bar a label."""
    order = list(dict.fromkeys(band for p in probabilities for band in p))
    row, top = 28.0, 40.0
    height = top + row * len(labels)
    x = Scale(0.0, 1.0, LABEL, WIDTH - RIGHT)
    ticks = nice_ticks(0.0, 1.0)
    body = [*_legend([(b, band_colour(b, bands, higher_is)) for b in order], LABEL, 18),
            *_x_axis(x, ticks, top, height, "probability of each band")]
    desc = []
    for i, (name, probs) in enumerate(zip(labels, probabilities, strict=True)):
        y = top + row * i + 4
        body.append(_text(LABEL - 8, y + 14, _label(name), "end", 11.5))
        start = 0.0
        for band in order:
            share = probs.get(band, 0.0)
            if share > 0:
                body.append(f"<g><title>{esc(name)}: {esc(band)} {share:.1%}</title>"
                            + _rect(x(start), y, x(start + share) - x(start), row - 8,
                                    band_colour(band, bands, higher_is)) + "</g>")
                if share >= 0.08:
                    text_colour = INK if band_colour(band, bands, higher_is) in (
                        BAND_COLOURS["fragile"], UNKNOWN) else "#fff"
                    body.append(_text(x(start + share / 2), y + 14, f"{share:.0%}", "middle",
                                      11, text_colour))
            start += share
        desc.append(f"{name}: " + ", ".join(f"{band} {probs.get(band, 0.0):.1%}"
                                            for band in order))
    return _svg(max(height + 44, 120), title, "; ".join(desc), body)


def tornado(ids: Sequence[str], low_scores: Sequence[float], high_scores: Sequence[float],
            base: float, title: str) -> str:
    """S with each factor at its low and at its high, largest swing on top."""
    row, top = 24.0, 12.0
    height = top + row * max(len(ids), 1)
    values = [base, *low_scores, *high_scores]
    lo, hi = min(values), max(values)
    pad = max(0.5, 0.08 * (hi - lo))
    ticks = nice_ticks(lo - pad, hi + pad)
    x = Scale(min(ticks[0], lo - pad), max(ticks[-1], hi + pad), LABEL, WIDTH - RIGHT)
    body = _x_axis(x, ticks, top, height, "stability S (light: factor at its low, dark: at "
                   f"its high; base {base:.1f})")
    desc = []
    for i, (fid, low, high) in enumerate(zip(ids, low_scores, high_scores, strict=True)):
        y = top + row * i + 4
        body.append(_text(LABEL - 8, y + 12, _label(fid), "end", 11.5))
        body.append(f"<g><title>{esc(fid)}: S {low:.1f} at its low, {high:.1f} at its high"
                    "</title>" + _rect(x(base), y, x(low) - x(base), row - 8, "#90a4ae")
                    + _rect(x(base), y, x(high) - x(base), row - 8, "#37474f") + "</g>")
        desc.append(f"{fid}: {low:.1f} at its low, {high:.1f} at its high")
    body.append(_line([(x(base), top - 4), (x(base), height)], INK, 1.5))
    return _svg(max(height + 44, 120), title, f"base S {base:.1f}; " + "; ".join(desc), body)


def sobol_bars(ids: Sequence[str], first: Sequence[float], first_ci: Sequence[Sequence[float]],
               total: Sequence[float], total_ci: Sequence[Sequence[float]], title: str,
               exact: bool) -> str:
    """First-order and total Sobol indices with their 95 % confidence intervals, or, for
    ``exact`` (analytic) indices, without: said so on the axis and each bar."""
    row, top = 30.0, 32.0
    height = top + row * max(len(ids), 1)
    cis = [list(map(float, c)) for c in (*first_ci, *total_ci)]
    hi = max([1e-9, *map(float, first), *map(float, total), *(c[1] for c in cis)])
    lo = min([0.0, *(c[0] for c in cis)])
    ticks = nice_ticks(lo, hi)
    x = Scale(min(ticks[0], lo), max(ticks[-1], hi), LABEL, WIDTH - RIGHT)
    series = (("first order", "#42a5f5", first, first_ci, 2.0),
              ("total", "#1a237e", total, total_ci, 14.0))
    body = [*_legend([(name, colour) for name, colour, *_ in series], LABEL, 16),
            *_x_axis(x, ticks, top, height, "share of the variance of S (exact)" if exact
                     else "share of the variance of S (bars: estimate, whiskers: 95 % CI)")]
    desc = []
    for i, fid in enumerate(ids):
        y = top + row * i + 2
        body.append(_text(LABEL - 8, y + 17, _label(fid), "end", 11.5))
        for name, colour, values, intervals, offset in series:
            value = float(values[i])
            low, high = (float(v) for v in intervals[i])
            mid = y + offset + 5
            bar = _rect(x(0.0), y + offset, x(value) - x(0.0), 10, colour)
            if exact:
                body.append(f"<g><title>{esc(fid)}: {name} {value:.3f} (exact)</title>{bar}"
                            "</g>")
                continue
            body.append(f"<g><title>{esc(fid)}: {name} {value:.3f} (95 % CI {low:.3f}–"
                        f"{high:.3f})</title>" + bar
                        + _line([(x(low), mid), (x(high), mid)], INK, 0.9)
                        + _line([(x(low), mid - 3), (x(low), mid + 3)], INK, 0.9)
                        + _line([(x(high), mid - 3), (x(high), mid + 3)], INK, 0.9) + "</g>")
        desc.append(f"{fid}: first order {float(first[i]):.3f}, total {float(total[i]):.3f}")
    body.append(_line([(x(0.0), top), (x(0.0), height)], INK, 1))
    return _svg(max(height + 44, 120), title, "; ".join(desc), body)


def waterfall(start_label: str, start: float, steps: Sequence[tuple[str, float]],
              end_label: str, title: str) -> str:
    """From one scenario's S to another's, one bar per factor whose contribution changed."""
    labels = [start_label, *(s[0] for s in steps), end_label]
    levels = np.cumsum([start, *(delta for _, delta in steps)])
    end = float(levels[-1])
    # zoom on the moves: from 0 to 100 a shift of a few points would be invisible
    low, high = float(levels.min()), float(levels.max())
    pad = max(2.0, 0.15 * (high - low))
    bottom_value, top_value = max(0.0, low - pad), min(100.0, high + pad)
    if top_value <= bottom_value:
        top_value = bottom_value + 1.0
    left, top, plot_h = 64.0, 14.0, 210.0
    slot = (WIDTH - RIGHT - left) / len(labels)
    y = Scale(bottom_value, top_value, top + plot_h, top)
    body = [*_y_axis(y, nice_ticks(bottom_value, top_value), left, WIDTH - RIGHT,
                     "stability S"),
            _line([(left, top + plot_h), (WIDTH - RIGHT, top + plot_h)], INK, 1)]
    desc = [f"{start_label} {start:.1f}"]

    def bar(i: int, y0: float, y1: float, colour: str, tip: str, value_text: str) -> None:
        cx = left + slot * (i + 0.5)
        width = min(slot * 0.7, 48.0)
        body.append(f"<g><title>{esc(tip)}</title>"
                    + _rect(cx - width / 2, y(y1), width, max(y(y0) - y(y1), 1.0), colour)
                    + "</g>")
        body.append(_text(cx, y(y1) - 4, value_text, "middle", 10.5))
        label_y = top + plot_h + 12
        body.append(_text(cx, label_y, _label(labels[i], 22), "end", 11,
                          extra=f' transform="rotate(-35 {_n(cx)} {_n(label_y)})"'))

    bar(0, bottom_value, start, "#90a4ae", f"{start_label}: S {start:.1f}", f"{start:.1f}")
    for i, (name, delta) in enumerate(steps, start=1):
        before, after = float(levels[i - 1]), float(levels[i])
        bar(i, min(before, after), max(before, after),
            OPPORTUNITY_COLOUR if delta >= 0 else RISK_COLOUR,
            f"{name}: {delta:+.2f} (S {before:.1f} → {after:.1f})", f"{delta:+.1f}")
        desc.append(f"{name} {delta:+.1f}")
    bar(len(labels) - 1, bottom_value, end, "#546e7a", f"{end_label}: S {end:.1f}",
        f"{end:.1f}")
    desc.append(f"{end_label} {end:.1f}")
    longest = min(max(len(printable(t)) for t in labels), 22)
    return _svg(top + plot_h + 20 + longest * 4.4, title, "; ".join(desc), body)
