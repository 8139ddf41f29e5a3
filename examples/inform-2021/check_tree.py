"""Score the generated files with TREE_SPEC's formulas, literally, and compare with INFORM.

Independent of riskengine: it reads models/inform_2021.yaml, factors/*.yaml and the 191
scenario files (safe YAML loader), normalises each value by its factor's scale, applies the
tree methods exactly as TREE_SPEC.md defines them, maps each node back to the tree's display
scale and compares with reference.py (no intermediate rounding) and with the published values.

    .venv/bin/python examples/inform-2021/check_tree.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference

HERE = Path(__file__).resolve().parent
yaml = YAML(typ="safe", pure=True)


def score(node: dict, s: dict[str, float], out: dict[str, float]) -> float | None:
    """TREE_SPEC node value in [0, 1] (None = missing); records inner nodes in ``out``."""
    if "factor" in node:
        return s.get(node["factor"])
    kids = [(score(c, s, out), float(c.get("weight", 1)), bool(c.get("inverted", False)))
            for c in node["children"]]
    kids = [(1 - v if inv else v, w) for v, w, inv in kids if v is not None]
    if not kids:
        return None
    method, eps = node["method"], float(node.get("eps", 0.001))
    total = sum(w for _, w in kids)
    if method == "arithmetic":
        v = sum(w / total * x for x, w in kids)
    elif method == "geometric":
        v = math.prod(max(x, eps) ** (w / total) for x, w in kids)
    elif method == "geometric_complements":
        v = 1 - math.prod(max(1 - x, eps) ** (w / total) for x, w in kids)
    elif method == "max":
        v = max(w * x for x, w in kids)
    elif method == "min":
        v = min(w * x for x, w in kids)
    else:
        raise ValueError(method)
    out[node["id"]] = v
    return v


def main() -> int:
    tree = yaml.load((HERE / "models" / "inform_2021.yaml").read_text())
    lo, hi = float(tree["scale"]["min"]), float(tree["scale"]["max"])
    factors = {p.stem: yaml.load(p.read_text()) for p in (HERE / "factors").glob("*.yaml")}
    rows, cols = reference.load()
    exact = reference.chain({k: cols[k] for k in reference.LEAVES}, reference.TOP, False)
    worst, n = 0.0, len(rows)
    match = dict.fromkeys(reference.ORDER, 0)
    for i, r in enumerate(rows):
        path = HERE / "scenarios" / "inform-2021" / f"{r['iso3'].lower()}.yaml"
        sc = yaml.load(path.read_text())
        s = {}
        for fid, est in sc["factors"].items():
            f = factors[fid]["scale"]
            s[fid] = min(max((float(est["value"]) - f["min"]) / (f["max"] - f["min"]), 0.0), 1.0)
        out: dict[str, float] = {}
        score(tree["root"], s, out)
        for node in reference.ORDER:
            shown = lo + out[node] * (hi - lo)
            worst = max(worst, abs(shown - exact[node][i]))
            match[node] += bool(abs(reference.round1(np.array(shown)) - cols[node][i]) < 0.05)
    print(f"largest |tree (TREE_SPEC formulas) - reference.py unrounded| over {len(match)} nodes "
          f"x {n} countries: {worst:.2e}")
    for node in reference.HEADLINE:
        print(f"  {node}: {match[node]}/{n} equal to the published value after rounding to 0.1")
    return 0 if worst < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
