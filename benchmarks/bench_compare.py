"""Comparison at scale: ``riskengine compare`` of 1,000 generated scenarios, whole commands.

The project is ``generate.py``'s: 2,000 factors, 100 partnerships of 10 scenarios (a baseline
and variants that shift two of its estimates), 20,000 draws a scenario, the default pairs
(within partnerships, between baselines, and each partnership's outlook against its
neighbours in the ranking). Each row is one ``riskengine compare DIR --format json -o FILE -q``
in a subprocess, loading and writing included, with:

* wall time, and peak RSS of the whole process tree (the command and its worker processes,
  sampled every 20 ms from /proc), against the issue's target of 10 s and 300 MB;
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


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (forkserver workers included: they
    are the command's descendants through the fork server)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak tree RSS (MB) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {err.decode()[-2000:]}")
    return seconds, peak / 2**20


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
        print(f"{'case':34} {'s':>7} {'ratio':>6} {'tree RSS MB':>12} {'digest':>13} "
              f"{'load':>5}")
        for method in ("mc", "auto"):
            for jobs in ("1", "2"):
                command = [sys.executable, "-m", "riskengine.cli", "compare",
                           str(project / "scenarios"), "--method", method, "--jobs", jobs,
                           "--format", "json", "-q"]
                rows = []
                for label, path in (("baseline " + args.baseline, old), ("current", ROOT)):
                    if path is None:
                        continue
                    env = {**os.environ, "PYTHONPATH": str(path)}
                    out = tmp / f"{method}-{jobs}-{label.split()[0]}.json"
                    seconds, rss = run([*command, "-o", str(out)], env)
                    rows.append((label, seconds, rss, digest(out)))
                base = rows[0][1]
                for label, seconds, rss, dig in rows:
                    name = f"{method}, --jobs {jobs}, {label}"
                    print(f"{name:34} {seconds:7.2f} {seconds / base:6.2f} {rss:12.0f} "
                          f"{dig:>13} {loadavg():>5}")
        print("targets: <= 10 s and <= 300 MB")


if __name__ == "__main__":
    main()
