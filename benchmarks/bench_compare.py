"""Comparison at scale: ``riskengine compare`` of 1,000 generated scenarios, whole commands.

The project is ``generate.py``'s: 2,000 factors, 100 partnerships of 10 scenarios (a baseline
and variants that shift two of its estimates), 20,000 draws a scenario, the default pairs
(within partnerships, between baselines, and each partnership's outlook against its
neighbours in the ranking). Each row is one ``riskengine compare DIR --format json -o FILE -q``
in a subprocess, loading and writing included, with:

* wall time, and the peak memory of the whole process tree (the command and its worker
  processes, sampled every 200 ms from /proc), as RSS and as PSS (shared pages counted once),
  against the issue's target of 10 s and 300 MB;
* the same command run by the code of a baseline revision (``--baseline``, default the commit
  before the per-quantity streams; exported from git into a temporary folder), in the same
  benchmark run, and the ratio;
* a digest of the JSON's numbers: the current code gives the same digest for every ``--jobs``.
  (The baseline's numbers differ: it drew each run's uniforms as one stream, so its Monte
  Carlo figures are another sample.)

    .venv/bin/python benchmarks/bench_compare.py [--scenarios 1000] [--baseline REV|none]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

BASELINE = "cdae420"  # main before per-quantity streams and counting across runs


def tree_memory(pid: int) -> tuple[int, int]:
    """Resident bytes (RSS) and proportional set size (PSS) of ``pid`` and all its
    descendants (forkserver workers included: they descend from the command through the fork
    server). Workers forked from one server share its pages, so summing RSS counts those
    pages once per worker; PSS splits each shared page among its sharers and sums to the
    memory the tree really holds."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    rss = pss = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, pss


def run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds and the peak tree RSS and PSS (MB) of one command, started in ``cwd``
    (not the checkout: ``python -m`` puts the working folder first on the path)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, pss = tree_memory(proc.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            # 5 samples a second: reading every process's page summary is work of its own,
            # which at 50 a second took a third of a core from the command measured
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {err.decode()[-2000:]}")
    return seconds, peak[0] / 2**20, peak[1] / 2**20


def digest(path: Path) -> str:
    data = json.loads(path.read_text(encoding="utf-8"))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def export(rev: str, into: Path) -> Path | None:
    """The baseline's package, exported from git (None outside a checkout)."""
    archive = into / "baseline.tar"
    done = subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), rev,
                           "riskengine"], capture_output=True)
    if done.returncode != 0:
        print(f"baseline {rev}: not available ({done.stderr.decode().strip()})")
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(into / "baseline", filter="data")
    return into / "baseline"


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--baseline", default=BASELINE,
                        help=f"git revision to compare with (default {BASELINE}), or none")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        project = generate(tmp / "project", n_factors=2000, n_scenarios=args.scenarios,
                           per_folder=10)
        old = export(args.baseline, tmp) if args.baseline != "none" else None
        print(f"compare of {args.scenarios:,} scenarios (load average at start {loadavg()}; "
              "2 cores: above 1, another process took CPU from the measurement)")
        print(f"{'case':34} {'s':>7} {'ratio':>6} {'RSS MB':>7} {'PSS MB':>7} "
              f"{'digest':>13} {'load':>5}")
        for method in ("mc", "auto"):
            for jobs in ("1", "2"):
                command = [sys.executable, "-m", "riskengine.cli", "compare",
                           str(project / "scenarios"), "--method", method, "--jobs", jobs,
                           "--format", "json", "-q"]
                rows: list[tuple[str, float, float, float, str]] = []
                for label, path in (("baseline " + args.baseline, old), ("current", ROOT)):
                    if path is None:
                        continue
                    env = {**os.environ, "PYTHONPATH": str(path)}
                    out = tmp / f"{method}-{jobs}-{label.split()[0]}.json"
                    seconds, rss, pss = run([*command, "-o", str(out)], env, tmp)
                    rows.append((label, seconds, rss, pss, digest(out)))
                base = rows[0][1]
                for label, seconds, rss, pss, dig in rows:
                    name = f"{method}, --jobs {jobs}, {label}"
                    print(f"{name:34} {seconds:7.2f} {seconds / base:6.2f} {rss:7.0f} "
                          f"{pss:7.0f} {dig:>13} {loadavg():>5}")
        print("targets: <= 10 s and <= 300 MB")


if __name__ == "__main__":
    main()
