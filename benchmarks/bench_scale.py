"""Scale: comparing many scenarios, and loading many files.

Each figure is printed beside a baseline measured in the same run:

* compare: the default pairs (within partnerships, between baselines) against every pair
  (``pairs="all"``, the old behaviour), each in its own subprocess so its peak RSS is its own;
  every pair of 1,000 scenarios is far too slow to wait for, so the baseline runs on fewer
  scenarios and the ratio is per pair;
* compare against the former path (each member's columns through their own inverse CDFs,
  no sharing of the columns several scenarios estimate the same way): same JSON digest;
* loading: ``load_scenarios`` and ``validate`` of 5,000 generated scenario files, and a chain
  of 1,000 ``extends``, against the former loader (each chain folded whole, quadratic path
  deduplication, default GC thresholds): same digest. The current loader is measured twice:
  in one process (``jobs=1``) and on every core (default ``jobs``: whole folders a forked
  process, riskengine.executors.forked_map); the whole ``riskengine validate``, ``run`` and
  ``run --simulate 1`` commands likewise, with ``--jobs 1`` and without. A row "YAML by
  ruamel" reads every file with ruamel (``RISKENGINE_RUAMEL_YAML=1``), as before the fast
  reader, yaml-rs; the former loader's baseline reads with ruamel too.

Every figure is wall time, CPU time and peak RSS of its own subprocess, with the load average.

    .venv/bin/python benchmarks/bench_scale.py [--only compare|load] [--scenarios N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

COMPARE_CHILD = """
import gc, hashlib, json, resource, sys, time
from riskengine.compare import compare
from riskengine.loading import load_scenarios
root, method, pairs, old = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "old"
if old:  # the former path: every member's columns through their inverse CDFs, no sharing
    import riskengine.simulation as sim
    sim._SharedColumns.of = classmethod(lambda cls, members: cls(
        (), (None,) * len(members), (None,) * len(members)))
scenarios = load_scenarios(root)
gc.collect()
start, cpu = time.perf_counter(), time.process_time()
comparison = compare(scenarios, n=20_000, seed=0, method=method, pairs=pairs)
text = json.dumps(comparison.to_dict())
seconds = time.perf_counter() - start
print(json.dumps({"scenarios": len(scenarios), "seconds": seconds,
                  "cpu": time.process_time() - cpu, "digest": hashlib.sha256(
                      text.encode()).hexdigest()[:12],
                  "pairs": len(comparison.pair_odds), "json_mb": len(text) / 1e6,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LOAD_CHILD = """
import contextlib, hashlib, json, resource, sys, time
from pathlib import Path
import riskengine.loading as loading
root, what, old = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "old"
jobs = None if sys.argv[3] == "parallel" else 1  # the former loader read in one process
if old:  # the former loader: every chain folded whole, list membership, default GC
    loading.ScenarioReader.folded = lambda self, path: None
    loading.gc_relaxed = contextlib.nullcontext
    def scenario_paths(paths):
        out = []
        for path in paths:
            for file in loading.yaml_files(path):
                if file not in out:
                    out.append(file)
        return out
    loading.scenario_paths = scenario_paths
catalogue = loading.load_catalogue(root / "factors")
start, cpu = time.perf_counter(), time.process_time()
if what == "validate":
    from riskengine.validation import validate
    found = validate([root / "factors", root / "scenarios"], jobs=jobs)
else:
    scenarios = loading.load_scenarios(root / "scenarios", catalogue, jobs=jobs)
# the clock stops before the digest: repr() of 5,000 scenarios takes about 5 s
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
if what == "validate":
    digest = hashlib.sha256(repr(sorted(map(repr, found.problems))).encode()).hexdigest()[:12]
    count = len(found.problems)
else:
    digest = hashlib.sha256(repr(scenarios).encode()).hexdigest()[:12]
    count = len(scenarios)
print(json.dumps({"seconds": seconds, "cpu": cpu,
                  "count": count, "digest": digest,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


COMMAND_CHILD = """
import hashlib, json, os, resource, sys, time
from contextlib import redirect_stdout
from io import StringIO
from riskengine.cli import main
os.chdir(sys.argv[1])
start, cpu = time.perf_counter(), time.process_time()
out = StringIO()
with redirect_stdout(out):
    code = main(sys.argv[2:])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "cpu": time.process_time() - cpu, "code": code,
                  "digest": hashlib.sha256(out.getvalue().encode()).hexdigest()[:12],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_child(code: str, *args: str, ruamel: bool = False) -> dict[str, float]:
    """``code`` in its own interpreter; ``ruamel``: every YAML file read by ruamel, as before
    the fast reader (yaml-rs) was used."""
    env = {**os.environ, "RISKENGINE_RUAMEL_YAML": "1"} if ruamel else None
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() \
        else "?"


def bench_compare(tmp: Path, scenarios: int) -> None:
    big = generate(tmp / "cbig", n_factors=2000, n_scenarios=scenarios, per_folder=10)
    small = generate(tmp / "c200", n_factors=400, n_scenarios=200, per_folder=10)
    print("compare (n = 20,000 draws; time of compare + JSON, peak RSS of the process "
          "including loading); baseline: the former path, each member's columns through "
          "their inverse CDFs (same digest = same bytes of JSON)")
    print(f"{'case':46} {'pairs':>6} {'s':>7} {'cpu s':>7} {'ratio':>6} {'RSS MB':>7} "
          f"{'JSON MB':>8} {'digest':>13} {'load':>5}")
    for label, root, method, pairs in (
            (f"{scenarios:,} scenarios, default pairs, mc", big, "mc", "default"),
            (f"{scenarios:,} scenarios, default pairs, auto", big, "auto", "default"),
            ("200 scenarios, all pairs, mc", small, "mc", "all")):
        base = run_child(COMPARE_CHILD, str(root / "scenarios"), method, pairs, "old")
        new = run_child(COMPARE_CHILD, str(root / "scenarios"), method, pairs, "new")
        for name, r, ratio in ((label + " (old path)", base, "1.00"),
                               ("  shared columns", new,
                                f"{new['seconds'] / base['seconds']:.2f}")):
            print(f"{name:46} {r['pairs']:6.0f} {r['seconds']:7.2f} {r['cpu']:7.2f} "
                  f"{ratio:>6} {r['rss_mb']:7.0f} {r['json_mb']:8.2f} {r['digest']:>13} "
                  f"{loadavg():>5}")


def write_long_chain(root: Path, length: int) -> Path:
    """One partnership whose scenarios each extend the one before (a chain of ``length``)."""
    generate(root, n_factors=40, n_scenarios=1, per_folder=1)
    folder = root / "scenarios" / "partnership-000"
    for k in range(1, length):
        parent = "baseline" if k == 1 else f"link-{k - 1:04d}"
        (folder / f"link-{k:04d}.yaml").write_text(
            f"id: link-{k:04d}\ntitle: Link {k}\nextends: {parent}\nfactors:\n"
            f"  f{k % 20:05d}:\n    shift: {0.001 if k % 2 else -0.001}\n", encoding="utf-8")
    return root


def bench_load(tmp: Path, scenarios: int, chain: int) -> None:
    many = generate(tmp / "lmany", n_factors=2000, n_scenarios=scenarios, per_folder=10)
    long = write_long_chain(tmp / "lchain", chain)
    print("loading; baseline: the former loader (every chain folded whole, paths deduplicated "
          "by list membership, default GC thresholds), same digest = same result")
    print(f"{'case':46} {'s':>7} {'cpu s':>7} {'ratio':>6} {'RSS MB':>7} {'digest':>13} "
          f"{'load':>5}")
    for label, root, what in ((f"load_scenarios, {scenarios:,} files", many, "load"),
                              (f"validate(), {scenarios:,} files + 2,000 factors", many,
                               "validate"),
                              (f"load_scenarios, one extends chain of {chain:,}", long,
                               "load")):
        base = run_child(LOAD_CHILD, str(root), what, "old", ruamel=True)
        ruamel = run_child(LOAD_CHILD, str(root), what, "serial", ruamel=True)
        serial = run_child(LOAD_CHILD, str(root), what, "serial")
        parallel = run_child(LOAD_CHILD, str(root), what, "parallel")
        for name, r in ((label + " (old)", base),
                        ("  current loader, YAML by ruamel, jobs=1", ruamel),
                        ("  current loader, jobs=1", serial),
                        ("  current loader, folders on every core", parallel)):
            print(f"{name:46} {r['seconds']:7.2f} {r['cpu']:7.2f} "
                  f"{r['seconds'] / base['seconds']:6.2f} {r['rss_mb']:7.0f} {r['digest']:>13} "
                  f"{loadavg():>5}")
    print("whole commands in a subprocess (riskengine.cli.main, output captured); baseline: "
          "--jobs 1 with YAML read by ruamel; cpu s: the command's own process, not its "
          "workers")
    print(f"{'case':54} {'s':>7} {'cpu s':>7} {'ratio':>6} {'RSS MB':>7} {'digest':>13} "
          f"{'load':>5}")
    for label, argv in ((f"riskengine validate, {scenarios:,} files + 2,000 factors",
                         ["validate", "--quiet", "--format", "json", "factors", "scenarios"]),
                        (f"riskengine run, {scenarios:,} files",
                         ["run", "scenarios", "--format", "json"]),
                        (f"riskengine run --simulate 1, {scenarios:,} files",
                         ["run", "scenarios", "--simulate", "1", "--method", "mc",
                          "--format", "json"])):
        base = run_child(COMMAND_CHILD, str(many), *argv, "--jobs", "1", ruamel=True)
        serial = run_child(COMMAND_CHILD, str(many), *argv, "--jobs", "1")
        new = run_child(COMMAND_CHILD, str(many), *argv)
        for name, r in ((label + " --jobs 1, YAML by ruamel", base),
                        ("  --jobs 1", serial), ("  folders on every core", new)):
            print(f"{name:54} {r['seconds']:7.2f} {r['cpu']:7.2f} "
                  f"{r['seconds'] / base['seconds']:6.2f} {r['rss_mb']:7.0f} {r['digest']:>13} "
                  f"{loadavg():>5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=("compare", "load"))
    parser.add_argument("--scenarios", type=int, default=1000,
                        help="scenarios compared (default 1,000); 5x as many are loaded")
    parser.add_argument("--chain", type=int, default=1000, help="length of the extends chain")
    args = parser.parse_args()
    print(f"load average at start: {loadavg()} (2 cores shared: above 2 other processes "
          "took cores from the measurement)")
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "compare"):
            bench_compare(Path(tmp), args.scenarios)
        if args.only in (None, "load"):
            bench_load(Path(tmp), 5 * args.scenarios, args.chain)


if __name__ == "__main__":
    main()
