"""Benchmark of ``riskengine diff --git``: a pull request's check on a large scenario repository.

A generated project (``generate.py``: 2,000 factors, ``--scenarios`` files in folders of 10) is
committed to a fresh git repository, then changed in one of two ways:
* one estimate of one scenario file (the common pull request): the folders the revision holds
  unchanged take their old scores from the working tree's side (``diff_git(reuse=True)``);
* one factor's default weight (a catalogue change, which may move any scenario): the revision
  is read whole either way, so the ratio shows what the comparison of files costs.

Baseline, in the same process: ``diff_git(reuse=False)``, which extracts, reads and scores the
whole revision as every diff did before. Both results must be equal (the digest of
``Diff.to_dict()``); the table prints the medians of ``--repeats`` alternating pairs.

Run:  python3 tasks.py bench   (or .venv/bin/python benchmarks/bench_diff.py [--scenarios N])
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate

import riskengine.diff  # noqa: F401 - the module, which riskengine.diff (a function) hides

DIFF = sys.modules["riskengine.diff"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", *args], cwd=cwd,
                   check=True, capture_output=True)


def _timed(work: Callable[[], Any]) -> tuple[float, str]:
    start = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - start
    text = json.dumps(result.to_dict(), sort_keys=True, default=str)
    return elapsed, hashlib.sha256(text.encode()).hexdigest()[:12]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        raise SystemExit(f"{path}: no {old!r} to change")
    path.write_text(text.replace(old, new, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        root = generate(Path(tmp), n_factors=2000, n_scenarios=args.scenarios, per_folder=10)
        _git(root, "init", "-q")
        _git(root, "add", ".")
        _git(root, "commit", "-q", "-m", "start")
        os.chdir(root)
        print(f"riskengine diff --git HEAD: {args.scenarios:,} scenario files, 2,000 factors "
              f"(medians of {args.repeats} alternating pairs)")
        print(f"{'change':<28} {'reuse s':>8} {'whole s':>8} {'ratio':>6}  digests")
        folders = sorted((root / "scenarios").iterdir())
        changes = [("one scenario file", folders[len(folders) // 2] / "variant-1.yaml",
                    "shift: 1", "shift: -1"),
                   ("one factor's weight", root / "factors/f00003.yaml", "weight: ",
                    "weight: 1")]
        for label, path, old, new in changes:
            _edit(path, old, new)
            fast, whole, digests = [], [], set()
            for _ in range(args.repeats):
                seconds, digest = _timed(lambda: DIFF.diff_git("HEAD", root))
                fast.append(seconds)
                digests.add(digest)
                seconds, digest = _timed(lambda: DIFF.diff_git("HEAD", root, reuse=False))
                whole.append(seconds)
                digests.add(digest)
            a, b = statistics.median(fast), statistics.median(whole)
            same = "same" if len(digests) == 1 else f"DIFFER {sorted(digests)}"
            print(f"{label:<28} {a:8.2f} {b:8.2f} {a / b:6.2f}  {same}")
            _git(root, "checkout", "-q", "--", ".")


if __name__ == "__main__":
    main()
