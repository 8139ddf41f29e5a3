"""Score the generated files with TREE_SPEC's formulas, literally, and compare with COINr.

Independent of riskengine: it reads models/asem_2018.yaml, factors/*.yaml and the 51 scenario
files (safe YAML loader), takes the population to be every scenario of the folder that names
the tree, normalises each leaf over it (``minmax``; ``transform.winsorise`` clips at the
population's numpy.quantile, default linear method, and min-maxes between the clip bounds),
reverses factors with ``higher_means: less``, applies the tree methods, maps each node to the
display scale, and compares with COINr's stored values (data/normalised.csv for the leaves,
data/aggregated.csv for the nodes), which reference.py reproduces from the raw data.

    .venv/bin/python examples/asem-2018/check_tree.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # the COINr code -> riskengine id table
import reference

HERE = Path(__file__).resolve().parent
yaml = YAML(typ="safe", pure=True)


def leaves(node: dict) -> list[dict]:
    if "factor" in node:
        return [node]
    return [leaf for child in node["children"] for leaf in leaves(child)]


def normalised(leaf: dict, factor: dict, x: np.ndarray) -> np.ndarray:
    """TREE_SPEC leaf value in [0, 1] for every member of the population (NaN = missing)."""
    present = x[~np.isnan(x)]
    transform = leaf.get("transform") or {}
    if "log_offset" in transform:
        x, present = np.log(x + transform["log_offset"]), np.log(present + transform["log_offset"])
    assert leaf.get("normalise") == "minmax", "this example uses minmax leaves only"
    low, high = present.min(), present.max()
    if "winsorise" in transform:
        low, high = np.quantile(present, transform["winsorise"])
    s = (np.clip(x, low, high) - low) / (high - low)
    return 1 - s if factor["higher_means"] == "less" else s


def combine(node: dict, s: dict[str, np.ndarray], out: dict[str, np.ndarray]) -> np.ndarray:
    """Node values for every unit at once; missing children dropped, weights renormalised."""
    if "factor" in node:
        return s[node["factor"]]
    xs = np.vstack([combine(c, s, out) for c in node["children"]])
    xs = np.where([[c.get("inverted", False)] for c in node["children"]], 1 - xs, xs)
    w = np.array([[float(c.get("weight", 1))] for c in node["children"]]) * ~np.isnan(xs)
    assert node.get("method", "arithmetic") == "arithmetic", "this example is arithmetic only"
    v = np.nansum(w / w.sum(axis=0) * np.nan_to_num(xs), axis=0)
    out[node["id"]] = v
    return v


def main() -> int:
    tree = yaml.load((HERE / "models" / "asem_2018.yaml").read_text())
    lo, hi = float(tree["scale"]["min"]), float(tree["scale"]["max"])
    factors = {p.stem: yaml.load(p.read_text()) for p in (HERE / "factors").glob("*.yaml")}
    scenarios = [yaml.load(p.read_text())
                 for p in sorted((HERE / "scenarios" / "asem-2018").glob("*.yaml"))]
    scenarios = [sc for sc in scenarios if sc.get("tree") == tree["id"]]
    units = [sc["id"].upper() for sc in scenarios]

    s = {}
    for leaf in leaves(tree["root"]):
        fid = leaf["factor"]
        x = np.array([float(sc["factors"][fid]["value"]) if fid in sc["factors"] else np.nan
                      for sc in scenarios])
        f = factors[fid]
        assert np.all((x >= f["scale"]["min"]) & (x <= f["scale"]["max"])), fid
        s[fid] = normalised(leaf, f, x)
    out: dict[str, np.ndarray] = {}
    combine(tree["root"], s, out)

    # line the units up with the data files (scenario files are read in file-name order)
    ind, agg = reference.metadata()
    rows, stored = reference.read("aggregated.csv")
    order = [units.index(r["code"]) for r in rows]
    node_ids = {r["code"]: generate.IDS[r["code"]] for r in agg}
    leaf_ids = {r["code"]: generate.IDS[r["code"]] for r in ind}

    n = len(rows)
    print(f"{len(scenarios)} scenarios, {len(s)} leaves, {len(out)} nodes "
          f"(TREE_SPEC formulas, no riskengine)")
    worst_leaf = max(float(np.max(np.abs(lo + (hi - lo) * s[fid][order] - stored[code])))
                     for code, fid in leaf_ids.items())
    print(f"  leaves vs COINr's normalised data set: largest |diff| {worst_leaf:.1e}")
    worst, ok = 0.0, True
    for code, nid in node_ids.items():
        shown = lo + (hi - lo) * out[nid][order]
        diff = np.abs(shown - stored[code])
        worst = max(worst, float(diff.max()))
        match = int((diff <= reference.TOL).sum())
        ok &= match == n
        print(f"  {nid:36s} {match}/{n} equal to COINr's value (|diff| <= {reference.TOL:g}); "
              f"largest |diff| {diff.max():.1e}")
    print(f"largest |tree - COINr| over {len(node_ids)} nodes x {n} units: {worst:.1e}")
    return 0 if ok and worst_leaf <= reference.TOL else 1


if __name__ == "__main__":
    sys.exit(main())
