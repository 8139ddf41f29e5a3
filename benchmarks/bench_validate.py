"""Benchmark of ``riskengine validate`` on a generated catalogue of realistic size.

5,000 factor files and 500 scenarios (50 outlooks of ten, each scenario estimating 20 factors
with two sourced evidence items; variants extend their baseline). Target: <= 3 s here for the
whole command, as CI runs it (files read on every core; also with ``--jobs 1``, one process).
Baseline, in the same process: parsing the same files with ruamel.yaml's safe C loader alone
(no positions, no models, no checks), i.e. the floor a YAML validator built on that library
cannot go below.

Run:  python3 tasks.py bench   (or .venv/bin/python benchmarks/bench_validate.py)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generate import generate

from riskengine.validation import validate

N_FACTORS, N_SCENARIOS, REPEATS = 5_000, 500, 5
TARGET_SECONDS = 3.0


def median_time(run, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    from ruamel.yaml import YAML

    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp), N_FACTORS, N_SCENARIOS)
        files = sorted(root.rglob("*.yaml"))
        yaml = YAML(typ="safe", pure=False)

        def parse_only() -> None:
            for file in files:
                yaml.load(file.read_text(encoding="utf-8"))

        def api() -> None:
            found = validate([root / "factors", root / "scenarios"])
            assert not found.errors, found.errors[:3]

        def command(*extra: str) -> None:
            subprocess.run([sys.executable, "-m", "riskengine.cli", "validate", "--quiet",
                            *extra, "factors", "scenarios"], cwd=root, check=True,
                           stdout=subprocess.DEVNULL)

        baseline = median_time(parse_only)
        in_process = median_time(api)
        whole = median_time(command)
        one_process = median_time(lambda: command("--jobs", "1"))
    print(f"validate: {N_FACTORS:,} factor files + {N_SCENARIOS:,} scenarios "
          f"({len(files):,} files), median of {REPEATS}")
    print(f"{'measure':<44}{'seconds':>9}{'ratio':>8}")
    print(f"{'baseline: ruamel.yaml safe C load only':<44}{baseline:>9.3f}{1:>8.2f}")
    print(f"{'riskengine.validation.validate()':<44}{in_process:>9.3f}"
          f"{in_process / baseline:>8.2f}")
    print(f"{'riskengine validate --jobs 1 (whole command)':<44}{one_process:>9.3f}"
          f"{one_process / baseline:>8.2f}")
    print(f"{'riskengine validate (whole command)':<44}{whole:>9.3f}{whole / baseline:>8.2f}")
    met = whole <= TARGET_SECONDS
    print(f"target: whole command <= {TARGET_SECONDS:g} s: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
