"""Independent reference computation of COINr's ASEM Sustainable Connectivity example index.

Plain Python + numpy, no riskengine import. From the raw indicator data of the 51 ASEM
countries (data/raw.csv) it redoes every step of COINr's build of the index and compares each
step with the data set COINr stored for it (data/<step>.csv, exported from ``ASEM_COIN``):

1. denominate  x / denominator (GDP, population, area or energy, per data/indicators.csv)
2. impute      a missing value = the mean of the indicator over the unit's group (Europe or
               Asia), ignoring missing values
3. treat       COINr's outlier rule, per indicator: while |skewness| > 2 and kurtosis > 3.5
               (e1071 type 2, i.e. the sample-adjusted G1 and G2), and at most 6 times
               (ceiling of 10 % of 51 units), replace the current maximum (if skewness >= 0)
               or minimum (else) by the next value in, i.e. Winsorise one more point
4. normalise   min-max over the 51 units to 0..100, after multiplying by the indicator's
               direction (-1 flips it: the lowest raw value gets 100)
5. aggregate   arithmetic means with weight 1 everywhere: indicators -> 8 pillars -> 2
               sub-indices -> the index

    python examples/asem-2018/reference.py

Section B recomputes steps 3-5 the way a riskengine tree does them: from the imputed values,
each treated indicator clipped at population quantiles (numpy's default, linear) whose levels
put the clip exactly on COINr's Winsorised value, min-max between the clip bounds, reversed
where the direction is -1, then arithmetic means. generate.py writes those quantile levels.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
WINMAX = 6      # COINr's default: ceiling(10 % of the 51 units); COIN records "winmax = 6"
T_SKEW, T_KURT = 2.0, 3.5
TOL = 1e-9      # "match": |computed - stored| <= TOL on the 0..100 scale


def read(name: str) -> tuple[list[dict[str, str]], dict[str, np.ndarray]]:
    with (DATA / name).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cols: dict[str, np.ndarray] = {}
    for k in rows[0]:
        try:
            cols[k] = np.array([float(r[k]) if r[k] != "" else np.nan for r in rows])
        except ValueError:
            continue  # text column (code, name, group)
    return rows, cols


def metadata() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    with (DATA / "indicators.csv").open(newline="", encoding="utf-8") as f:
        ind = list(csv.DictReader(f))
    with (DATA / "aggregates.csv").open(newline="", encoding="utf-8") as f:
        agg = list(csv.DictReader(f))
    return ind, agg


def skew_kurt(x: np.ndarray) -> tuple[float, float]:
    """e1071::skewness(type = 2) and e1071::kurtosis(type = 2) (SAS/SPSS G1 and G2)."""
    n = x.size
    d = x - x.mean()
    m2, m3, m4 = (d ** 2).mean(), (d ** 3).mean(), (d ** 4).mean()
    g1, g2 = m3 / m2 ** 1.5, m4 / m2 ** 2 - 3
    return (g1 * np.sqrt(n * (n - 1)) / (n - 2),
            ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3)))


def winsorise(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    """COINr's coin_win with winchange = TRUE: (treated values, points high, points low)."""
    x = x.copy()
    high = low = 0
    sk, kt = skew_kurt(x)
    while abs(sk) > T_SKEW and kt > T_KURT and high + low < WINMAX:
        if sk >= 0:
            top = x == x.max()
            x[top] = x[~top].max()
            high += 1
        else:
            bottom = x == x.min()
            x[bottom] = x[~bottom].min()
            low += 1
        sk, kt = skew_kurt(x)
    if abs(sk) > T_SKEW and kt > T_KURT:
        raise SystemExit("winsorising failed; COINr would log-transform here (not needed for ASEM)")
    return x, high, low


def minmax(x: np.ndarray, direction: int) -> np.ndarray:
    y = x * direction
    return (y - y.min()) / (y.max() - y.min()) * 100


def aggregate(norm: dict[str, np.ndarray], ind: list[dict[str, str]],
              agg: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """Arithmetic means up the tree, weights from the metadata (all 1 in this index)."""
    parent = {r["code"]: r["pillar"] for r in ind}
    pillar_to_sub = {r["pillar"]: r["sub_index"] for r in ind}
    parent.update(pillar_to_sub)
    parent.update({s: "Index" for s in set(pillar_to_sub.values())})
    weight = {r["code"]: float(r["weight"]) for r in ind + agg}
    vals = dict(norm)
    for level in ("2", "3", "4"):
        for a in (r["code"] for r in agg if r["level"] == level):
            kids = [k for k, p in parent.items() if p == a and k in vals]
            w = np.array([weight[k] for k in kids])
            vals[a] = (w[:, None] * np.vstack([vals[k] for k in kids])).sum(axis=0) / w.sum()
    return vals


def aggregate_dropping(norm: dict[str, np.ndarray], ind: list[dict[str, str]],
                       agg: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """Like ``aggregate``, but a missing indicator is dropped and its siblings renormalised."""
    assert all(float(r["weight"]) == 1 for r in ind + agg)  # plain means below
    vals: dict[str, np.ndarray] = {}
    for p in (r["code"] for r in agg if r["level"] == "2"):
        vals[p] = np.nanmean(np.vstack([norm[r["code"]] for r in ind if r["pillar"] == p]), axis=0)
    for sub in (r["code"] for r in agg if r["level"] == "3"):
        pillars = {r["pillar"] for r in ind if r["sub_index"] == sub}
        vals[sub] = np.mean(np.vstack([vals[p] for p in sorted(pillars)]), axis=0)
    vals["Index"] = np.mean(np.vstack([vals[r["code"]] for r in agg if r["level"] == "3"]), axis=0)
    return vals


def quantile_levels(imputed: np.ndarray, treated: np.ndarray) -> tuple[float, float]:
    """Population quantile levels (linear) whose values are COINr's Winsorising bounds.

    The clip value sits at sorted position n-1-m, m = number of units strictly above it, so
    its level is (n-1-m)/(n-1); likewise at the bottom. An untreated side gets 0 or 1.
    """
    n = imputed.size
    above = int((imputed > treated.max()).sum())
    below = int((imputed < treated.min()).sum())
    return below / (n - 1), (n - 1 - above) / (n - 1)


def report(label: str, got: dict[str, np.ndarray], want: dict[str, np.ndarray],
           codes: list[str], units: list[str]) -> bool:
    worst = max(float(np.max(np.abs(got[c] - want[c]))) for c in codes)
    bad = [(c, i) for c in codes for i in np.flatnonzero(np.abs(got[c] - want[c]) > TOL)]
    units_ok = len(units) - len({i for _, i in bad})
    print(f"  {label:34s} {units_ok:3d}/{len(units)} units match on all {len(codes):2d} columns; "
          f"largest |diff| {worst:.1e}")
    for c, i in bad[:20]:
        print(f"      MISMATCH {units[i]} {c}: computed {got[c][i]!r}, stored {want[c][i]!r}")
    return not bad


def main() -> int:
    ind, agg = metadata()
    codes = [r["code"] for r in ind]
    agg_codes = [r["code"] for r in agg]
    raw_rows, raw = read("raw.csv")
    units = [r["code"] for r in raw_rows]
    group = np.array([r["eurasia_group"] for r in raw_rows])
    stored = {s: read(f"{s}.csv")[1] for s in
              ("denominated", "imputed", "treated", "normalised", "aggregated")}
    n = len(units)
    print(f"ASEM Sustainable Connectivity (COINr example index): {n} units, {len(codes)} "
          f"indicators, {len(agg_codes)} aggregates; match = |diff| <= {TOL:g} on 0..100")

    print("\nA. COINr's build from the raw data, each step from the previous computed one:")
    den = {r["code"]: (raw[r["code"]] / raw["den_" + r["denominator"][4:].lower()]
                       if r["denominator"] else raw[r["code"]].copy()) for r in ind}
    ok = report("1 denominate", den, stored["denominated"], codes, units)
    imp = {}
    for c in codes:
        x = den[c].copy()
        for g in np.unique(group):
            sel = group == g
            x[sel & np.isnan(x)] = np.nanmean(den[c][sel])
        imp[c] = x
    ok &= report("2 impute (group mean)", imp, stored["imputed"], codes, units)
    treated, counts = {}, {}
    for c in codes:
        treated[c], hi, lo = winsorise(imp[c])
        counts[c] = (hi, lo)
    ok &= report("3 treat (Winsorise)", treated, stored["treated"], codes, units)
    direction = {r["code"]: int(r["direction"]) for r in ind}
    norm = {c: minmax(treated[c], direction[c]) for c in codes}
    ok &= report("4 normalise (min-max 0..100)", norm, stored["normalised"], codes, units)
    full = aggregate(norm, ind, agg)
    ok &= report("5 aggregate (arithmetic)", full, stored["aggregated"], agg_codes, units)
    for a in ("Index", "Conn", "Sust"):
        print(f"      {a}: {int((np.abs(full[a] - stored['aggregated'][a]) <= TOL).sum())}/{n} "
              f"units match")
    print("  Winsorised points (high, low), as COINr's TreatSummary records them:")
    print("   ", ", ".join(f"{c} {h},{lo}" for c, (h, lo) in counts.items() if h or lo))
    empty = {c: int(np.isnan(den[c]).sum()) for c in codes if np.isnan(den[c]).any()}
    print(f"  imputed values: {sum(empty.values())} in {len(empty)} indicators "
          f"({', '.join(f'{c} {k}' for c, k in empty.items())})")

    print("\nB. The riskengine tree's way, from the stored imputed values: clip at population "
          "quantiles\n   (numpy linear), min-max between the clip bounds, reverse direction -1, "
          "arithmetic means:")
    s = stored["imputed"]
    tree_norm, levels = {}, {}
    for c in codes:
        q = quantile_levels(s[c], stored["treated"][c])
        lo_b, hi_b = np.quantile(s[c], q)
        v = (np.clip(s[c], lo_b, hi_b) - lo_b) / (hi_b - lo_b)
        tree_norm[c] = 100 * (1 - v if direction[c] < 0 else v)
        if q != (0.0, 1.0):
            levels[c] = q
    ok &= report("normalised indicators", tree_norm, stored["normalised"], codes, units)
    tree_full = aggregate(tree_norm, ind, agg)
    ok &= report("aggregates", tree_full, stored["aggregated"], agg_codes, units)
    print(f"  winsorise levels of the {len(levels)} treated indicators: "
          + ", ".join(f"{c} [{a:g}, {b:g}]" for c, (a, b) in levels.items()))
    agree = all(levels.get(c, (0.0, 1.0)) == (lo / (n - 1), (n - 1 - hi) / (n - 1))
                for c, (hi, lo) in counts.items())
    print(f"  levels = (points low, n-1-points high)/(n-1) from step 3 for every indicator: "
          f"{'yes' if agree else 'no'}")
    ok &= agree

    print("\nC. Without COINr's imputation: the 65 missing values left out, each leaf dropped and "
          "its siblings'\n   weights renormalised within the pillar (riskengine's rule; "
          "treatment and min-max over the units present):")
    dropped = {}
    for c in codes:
        x, present = den[c].copy(), ~np.isnan(den[c])
        x[present] = winsorise(x[present])[0]
        y = x * direction[c]
        dropped[c] = (y - np.nanmin(y)) / (np.nanmax(y) - np.nanmin(y)) * 100
    alt = aggregate_dropping(dropped, ind, agg)
    for a in ("Index", "Conn", "Sust"):
        d = np.abs(alt[a] - stored["aggregated"][a])
        print(f"  {a}: {int((d <= TOL).sum())}/{n} units equal to COINr's value, largest |diff| "
              f"{d.max():.2f} points")
    affected = sorted({units[i] for c in empty for i in np.flatnonzero(np.isnan(den[c]))})
    print(f"  units with a missing value: {len(affected)} ({', '.join(affected)})")

    print(f"\nAll steps and all {len(agg_codes)} aggregates of all {n} units reproduced: "
          f"{'yes' if ok else 'no'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
