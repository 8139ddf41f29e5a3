"""Benchmark of the deterministic scores of many scenarios (``run``, ``diff``, ``compare``).

A generated project (``generate.py``: 2,000 factors, ``--scenarios`` files in folders of 10,
a baseline and variants estimating the same factors) is loaded once; then every scenario is
scored:
* by ``score_many``: scenarios sharing a linear compiled tree and their factors' scales are
  normalised, evaluated and split into contributions as one matrix;
* baseline, in the same process: ``score`` of one scenario after another, one row of numpy
  arrays a call, as every caller scored before ``score_many``.

The arrays each scenario's score builds once (``ModelArrays``) are dropped before every timing,
so both sides build them. Both must give equal results (a digest of every ``to_dict()``); the
table prints the medians of ``--repeats`` alternating pairs, with the collector off as in
``run``'s shares.

Run:  python3 tasks.py bench   (or .venv/bin/python benchmarks/bench_scoring.py [--scenarios N])
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate

from riskengine import scoring
from riskengine.loading import load_scenarios
from riskengine.models import Scenario
from riskengine.scoring import Result, score, score_many


def _timed(work: Callable[[], Sequence[Result]]) -> tuple[float, str]:
    scoring._ARRAYS.clear()  # both sides build each scenario's arrays
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        results = work()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    text = json.dumps([r.to_dict() for r in results])
    return elapsed, hashlib.sha256(text.encode()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "p", n_factors=2000, n_scenarios=args.scenarios,
                        per_folder=10)
        scenarios: list[Scenario] = load_scenarios(root / "scenarios", jobs=1)
    many: list[float] = []
    alone: list[float] = []
    digests: set[tuple[str, str]] = set()
    for _ in range(args.repeats):
        t_alone, d_alone = _timed(lambda: [score(s) for s in scenarios])
        t_many, d_many = _timed(lambda: score_many(scenarios))
        alone.append(t_alone)
        many.append(t_many)
        digests.add((d_many, d_alone))
    a, m = statistics.median(alone), statistics.median(many)
    n = len(scenarios)
    print(f"deterministic scores of {n:,} generated scenarios (20 factors each), medians of "
          f"{args.repeats} alternating pairs")
    print(f"{'path':36} {'s':>7} {'us/scenario':>12} {'ratio':>6}  digest")
    print(f"{'score(), one scenario at a time':36} {a:7.3f} {a / n * 1e6:12.1f} {1.0:6.2f}  "
          f"{next(iter(digests))[1]}")
    print(f"{'score_many(), one matrix a family':36} {m:7.3f} {m / n * 1e6:12.1f} "
          f"{m / a:6.2f}  {next(iter(digests))[0]}")
    same = len(digests) == 1 and len(next(iter(digests))) == 2 and \
        next(iter(digests))[0] == next(iter(digests))[1]
    print("results: " + ("the same" if same else f"DIFFERENT {sorted(digests)}"))
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
