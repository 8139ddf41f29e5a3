"""Scale: comparing many scenarios, the report, and loading many files.

Each figure is printed beside a baseline measured in the same run:

* compare: the default pairs (within partnerships, between baselines) against every pair
  (``pairs="all"``, the old behaviour), each in its own subprocess so its peak RSS is its own;
  every pair of 1,000 scenarios is far too slow to wait for, so the baseline runs on fewer
  scenarios and the ratio is per pair;
* report: ``build_report`` of the shipped scenarios and of 30 generated partnerships;
* loading: ``load_scenarios`` of 5,000 generated scenario files, and a chain of ``extends``.

    .venv/bin/python benchmarks/bench_scale.py [--only compare|report|load]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

COMPARE_CHILD = """
import gc, json, resource, sys, time
from riskengine.compare import compare
from riskengine.loading import load_scenarios
root, method, pairs = sys.argv[1], sys.argv[2], sys.argv[3]
scenarios = load_scenarios(root)
gc.collect()
start = time.perf_counter()
comparison = compare(scenarios, n=20_000, seed=0, method=method, pairs=pairs)
text = json.dumps(comparison.to_dict())
seconds = time.perf_counter() - start
print(json.dumps({"scenarios": len(scenarios), "seconds": seconds,
                  "pairs": len(comparison.pair_odds), "json_mb": len(text) / 1e6,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_child(code: str, *args: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench_compare(tmp: Path) -> None:
    big = generate(tmp / "c1000", n_factors=2000, n_scenarios=1000, per_folder=10)
    small = generate(tmp / "c200", n_factors=400, n_scenarios=200, per_folder=10)
    print("compare (n = 20,000 draws; time of compare + JSON, peak RSS of the process "
          "including loading)")
    print(f"{'case':44} {'pairs':>8} {'s':>7} {'RSS MB':>7} {'JSON MB':>8}")
    for label, root, method, pairs in (
            ("1,000 scenarios, default pairs, auto", big, "auto", "default"),
            ("1,000 scenarios, default pairs, mc", big, "mc", "default"),
            ("200 scenarios, default pairs, mc", small, "mc", "default"),
            ("200 scenarios, all pairs, mc (baseline)", small, "mc", "all")):
        r = run_child(COMPARE_CHILD, str(root / "scenarios"), method, pairs)
        print(f"{label:44} {r['pairs']:8.0f} {r['seconds']:7.2f} {r['rss_mb']:7.0f} "
              f"{r['json_mb']:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=("compare", "report", "load"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "compare"):
            bench_compare(Path(tmp))


if __name__ == "__main__":
    main()
