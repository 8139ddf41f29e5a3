"""Independent reference computation of the INFORM Risk Index 2021 from its components.

Plain Python + numpy, no riskengine import: it recomputes every category, dimension and
INFORM RISK of the 191 countries from the 21 published components in data/inform_2021.csv and
compares them with the published values (one decimal, as published).

    python examples/inform-2021/reference.py             # INFORM's rules
    python examples/inform-2021/reference.py --top 11    # what "11 - geomean(11 - x)" would give
    python examples/inform-2021/reference.py --top 10    # ... and the naive "10 - geomean(10 - x)"

The rules, found by testing them against the published file (all on the 0-10 scale; w = weights
of the children present, renormalised to sum to 1):
- geometric of complements: ``T - prod((T - x) ** w)`` with ``T = 10 + 10/9``. This is the
  geometric mean of the complements (10 - x) after rescaling them from 0..10 to 1..10
  (c' = 1 + 0.9 c), mapped back; the rescaling keeps a child at 10 from forcing its parent to
  10 (Japan's natural hazard is 8.1 although its earthquake, tsunami and cyclone scores are 10).
- arithmetic: ``sum(w * x)`` (socio-economic vulnerability weights 2:1:1).
- max with multipliers: ``max(m * x)`` (human hazard = max(conflict intensity, 0.7 * projected
  conflict risk)).
- geometric (INFORM RISK only): ``prod(x ** (1/3))``, plain, no rescaling and no floor.
- the publisher rounds every node to one decimal (half up) before its parent uses it.
- a missing component is dropped and its siblings' weights renormalised.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "inform_2021.csv"

# node id -> (method, [(child id, weight)]); leaves are the CSV's component columns.
TREE: dict[str, tuple[str, list[tuple[str, float]]]] = {
    "natural": ("geoc", [(c, 1) for c in (
        "earthquake", "flood", "tsunami", "tropical_cyclone", "drought", "epidemic")]),
    "human": ("max", [("current_highly_violent_conflict_intensity", 1),
                      ("projected_conflict_risk", 0.7)]),
    "hazard_exposure": ("geoc", [("natural", 1), ("human", 1)]),
    "socio_economic_vulnerability": ("arithmetic", [
        ("development_deprivation", 2), ("inequality", 1), ("economic_dependency", 1)]),
    "other_vulnerable_groups": ("geoc", [(c, 1) for c in (
        "health_conditions", "children_u5", "recent_shocks", "food_security")]),
    "vulnerable_groups": ("geoc", [("uprooted_people", 1), ("other_vulnerable_groups", 1)]),
    "vulnerability": ("geoc", [("socio_economic_vulnerability", 1), ("vulnerable_groups", 1)]),
    "institutional": ("arithmetic", [("drr", 1), ("governance", 1)]),
    "infrastructure": ("arithmetic", [(c, 1) for c in (
        "communication", "physical_infrastructure", "access_to_health_care")]),
    "lack_of_coping_capacity": ("geoc", [("institutional", 1), ("infrastructure", 1)]),
    "inform_risk": ("geometric", [("hazard_exposure", 1), ("vulnerability", 1),
                                  ("lack_of_coping_capacity", 1)]),
}
ORDER = list(TREE)  # children before parents
LEAVES = [c for _, kids in TREE.values() for c, _ in kids if c not in TREE]
TOP = 10.0 + 10.0 / 9.0  # T of the geometric of complements, see the module docstring
HEADLINE = ["inform_risk", "hazard_exposure", "vulnerability", "lack_of_coping_capacity"]


def load() -> tuple[list[dict[str, str]], dict[str, np.ndarray]]:
    with DATA.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    cols = {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows])
            for k in LEAVES + ORDER}
    return rows, cols


def combine(method: str, xs: list[np.ndarray], ws: list[float], top: float) -> np.ndarray:
    """One node for every country at once; NaN children are dropped, weights renormalised."""
    x = np.vstack(xs)                                   # children x countries
    w = np.array(ws, dtype=float)[:, None] * ~np.isnan(x)
    present = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        wn = w / present
        if method == "arithmetic":
            out = np.nansum(wn * np.nan_to_num(x), axis=0)
        elif method == "geoc":
            comp = np.where(np.isnan(x), 1.0, top - x)
            out = top - np.exp(np.sum(wn * np.log(comp), axis=0))
        elif method == "geometric":
            out = np.exp(np.sum(wn * np.log(np.where(np.isnan(x), 1.0, x)), axis=0))
        elif method == "max":
            # weights are multipliers here, not shares
            out = np.nanmax(np.where(np.isnan(x), -np.inf, x * np.array(ws)[:, None]), axis=0)
        else:
            raise ValueError(method)
    return np.where(present > 0, out, np.nan)


def evaluate(leaves: dict[str, np.ndarray], top: float,
             published: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every node from the leaves; with ``published`` each node uses its published children."""
    vals = dict(leaves)
    for node in ORDER:
        method, kids = TREE[node]
        src = published if published is not None else vals
        xs = [src[c] if c in TREE else leaves[c] for c, _ in kids]
        vals[node] = combine(method, xs, [w for _, w in kids], top)
    return vals


def round1(x: np.ndarray) -> np.ndarray:
    # half-up like the publisher's spreadsheet; the 1e-9 undoes binary noise (0.7 * 1.5 = 1.0499...)
    return np.floor(x * 10 + 0.5 + 1e-9) / 10


def chain(leaves: dict[str, np.ndarray], top: float, round_levels: bool) -> dict[str, np.ndarray]:
    """Every node from the leaves, optionally rounding each node to 0.1 before it is passed up."""
    vals = dict(leaves)
    for node in ORDER:
        method, kids = TREE[node]
        v = combine(method, [vals[c] for c, _ in kids], [w for _, w in kids], top)
        vals[node] = round1(v) if round_levels else v
    return vals


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--top", type=float, default=TOP,
                    help="T in T - geomean(T - x) (default 10 + 10/9, INFORM's rule); try 10 or 11")
    args = ap.parse_args(argv)
    rows, cols = load()
    iso = [r["iso3"] for r in rows]
    n = len(rows)
    leaves = {k: cols[k] for k in LEAVES}
    published_way = chain(leaves, args.top, round_levels=True)
    exact = chain(leaves, args.top, round_levels=False)
    step = evaluate(leaves, args.top, published=cols)

    def matches(v: np.ndarray, node: str) -> np.ndarray:
        return np.abs(round1(v) - cols[node]) < 0.05

    print(f"INFORM Risk 2021: {n} countries, {len(LEAVES)} components; geometric of complements "
          f"as {args.top:.6g} - geomean({args.top:.6g} - x)")
    print("\nA. Every node vs the published value (rounded to 0.1, match = |diff| < 0.05):")
    print(f"  {'node':30s} {'rounded per level':>18s} {'one step':>9s} {'no rounding':>12s}")
    for node in ORDER:
        print(f"  {node:30s} {matches(published_way[node], node).sum():14d}/{n} "
              f"{matches(step[node], node).sum():5d}/{n} {matches(exact[node], node).sum():8d}/{n}")
    print("  rounded per level: from the components, each node rounded to 0.1 (half up) before "
          "its parent uses it\n  one step: each node from its published (rounded) children\n"
          "  no rounding: from the components, no intermediate rounding "
          "(what a tree engine computes)")

    print("\nB. Headline numbers without intermediate rounding; every mismatch and why:")
    for node in HEADLINE:
        bad = np.flatnonzero(~matches(exact[node], node))
        print(f"  {node}: {n - len(bad)}/{n} match")
        for i in bad:
            explained = abs(published_way[node][i] - cols[node][i]) < 0.05
            kids = ", ".join(f"{c} {exact[c][i]:.3f}->{published_way[c][i]:.1f}"
                             for c, _ in TREE[node][1] if c in TREE)
            shown = round1(exact[node][i])[()]
            print(f"    {iso[i]}: unrounded {exact[node][i]:.4f} -> {shown:.1f}, "
                  f"published {cols[node][i]:.1f}; "
                  + (f"the publisher rounds each level first ({kids}) and then gets "
                     f"{published_way[node][i]:.1f}" if explained else "NOT explained"))

    print("\nC. Countries with missing components (rule: the component is dropped and its "
          "siblings' weights renormalised within the parent; no node is left empty):")
    for i, r in enumerate(rows):
        miss = [k for k in LEAVES if np.isnan(cols[k][i])]
        if miss:
            print(f"  {iso[i]} {r['country']}: {', '.join(miss)}")
    print(f"\nD. Risk class from the published INFORM RISK with the thresholds 6.5/5.0/3.5/2.0: "
          f"{check_classes(rows, cols)}/{n} match the published class")
    reproduced = all(matches(published_way[node], node).all() for node in ORDER)
    print(f"\nAll {len(ORDER)} published nodes of all {n} countries reproduced: "
          f"{'yes' if reproduced else 'no'}")
    return 0 if reproduced else 1


def check_classes(rows: list[dict[str, str]], cols: dict[str, np.ndarray]) -> int:
    def band(x: float) -> str:
        for name, lo in (("Very High", 6.5), ("High", 5.0), ("Medium", 3.5), ("Low", 2.0)):
            if x >= lo:
                return name
        return "Very Low"
    return sum(band(cols["inform_risk"][i]) == r["risk_class"] for i, r in enumerate(rows))


if __name__ == "__main__":
    sys.exit(main())
