"""What shipping a whole run to a worker costs: ``compare``'s run tasks, pickled and unpickled.

``riskengine compare`` of many partnerships sends each partnership's run to a worker process
(:func:`riskengine.simulation.run_task`) as a compiled run (arrays, marginals, copula, draw
keys: :class:`riskengine.simulation.CompiledScenario`). For the tasks a comparison of DIR
(default: ``generate.py``'s 1,000 scenarios in 100 partnerships over 2,000 factors) submits,
this measures each task's pickle size and the CPU time (``time.process_time``, so a busy
machine inflates it little) to pickle it here and to unpickle it in a fresh process that has
imported the engine (as the pool's forkserver workers have); the baseline is the same tasks
carrying the pydantic scenarios instead, as before. Then the CPU of the whole command in the
main process and in its workers (``--jobs``), and its wall time (noisy on a shared machine).

    .venv/bin/python benchmarks/bench_ship.py [DIR] [--n 20000] [--jobs 2] [--repeat 5]

(Subprocesses run in a temporary folder, so ``PYTHONPATH=OTHER/checkout`` measures another
revision's code with the same script, for the command's figures.)
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

ONE_COMMAND = """
import glob, os, resource, sys, time
from riskengine import cli
start = time.perf_counter()
code = cli.main(sys.argv[1:])
wall = time.perf_counter() - start
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
workers = kids.ru_utime + kids.ru_stime
tick = os.sysconf("SC_CLK_TCK")
parent, cpu = {}, {}
for stat in glob.glob("/proc/[0-9]*/stat"):
    try:
        fields = open(stat).read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    pid = int(stat.split("/")[2])
    # the forkserver's workers are its children, not ours: every live descendant's own CPU
    # and that of the children it has reaped
    parent[pid] = int(fields[1])
    cpu[pid] = sum(int(f) for f in fields[11:15]) / tick
for pid, seconds in cpu.items():
    up = parent[pid]
    while up in parent and up != os.getpid():
        up = parent[up]
    if up == os.getpid() and pid != os.getpid():
        workers += seconds
print(f"{time.process_time():.3f} {workers:.3f} {wall:.3f} {code}")
"""

COLD = """
import pickle, sys, time
import riskengine.simulation  # what the forkserver preloads for its workers
blobs = pickle.load(open(sys.argv[1], "rb"))
times = []
for blob in blobs:
    start = time.process_time()
    pickle.loads(blob)
    times.append(time.process_time() - start)
print(" ".join(f"{t:.6f}" for t in times))
"""


def costs(payload: Any, repeat: int) -> tuple[bytes, float]:
    """The pickle and the median CPU seconds to make it."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        blob = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        times.append(time.process_time() - start)
    return blob, statistics.median(times)


class Recorder(Executor):
    """Runs every task here, keeping each run task's pickle and, as the baseline, that of the
    same task carrying the scenarios' models."""

    def __init__(self, repeat: int, models: dict[int, Any]) -> None:
        self.repeat, self.models = repeat, models
        self.rows: dict[str, list[tuple[bytes, float]]] = {"compiled": [], "models": []}

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        if fn.__name__ == "run_task":
            spec, *rest = args
            self.rows["compiled"].append(costs((fn, args, kwargs), self.repeat))
            scenarios = tuple(self.models[id(c.arrays)] for c in spec.members)
            self.rows["models"].append(costs((fn, (scenarios, spec.n, spec.seed, spec.sampler,
                                                   spec.shared, spec.chunk_size, *rest),
                                              kwargs), self.repeat))
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def unpickle_cold(blobs: list[bytes]) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "blobs.pickle")
        with open(path, "wb") as out:
            pickle.dump(blobs, out)
        return [float(t) for t in subprocess.run(
            [sys.executable, "-c", COLD, path], check=True, capture_output=True, text=True,
            cwd=tmp).stdout.split()]


def shipped(folder: Path, n: int, repeat: int) -> None:
    from riskengine.compare import compare
    from riskengine.loading import load_scenarios
    from riskengine.scoring import ModelArrays

    scenarios = load_scenarios(folder)
    recorder = Recorder(repeat, {id(ModelArrays.of(s)): s for s in scenarios})
    compare(scenarios, n=n, seed=0, method="mc", executor=recorder)
    rows = recorder.rows
    print(f"{len(rows['compiled'])} run tasks of {len(scenarios)} scenarios, {n:,} draws")
    figures = {}
    for kind, found in rows.items():
        cold = unpickle_cold([blob for blob, _ in found])
        figures[kind] = (statistics.median(len(blob) for blob, _ in found),
                         1e3 * statistics.median(t for _, t in found),
                         sum(t for _, t in found), 1e3 * statistics.median(cold), sum(cold))
    print(f"{'per task (median) / all tasks':34s} {'compiled':>10s} {'models':>10s} "
          f"{'ratio':>6s}")
    names = ("pickle size (bytes)", "pickle CPU here (ms)", "  all tasks (s)",
             "unpickle CPU, fresh process (ms)", "  all tasks (s)")
    for i, name in enumerate(names):
        ours, theirs = figures["compiled"][i], figures["models"][i]
        print(f"{name:34s} {ours:10.4g} {theirs:10.4g} {ours / theirs:6.2f}")


def command(folder: Path, n: int, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", ONE_COMMAND, "compare", str(folder), "--simulate", str(n),
             "--method", "mc", "--jobs", str(jobs), "--format", "json", "-q",
             "-o", os.path.join(tmp, "out.json")],
            check=True, capture_output=True, text=True, cwd=tmp).stdout.split()
    main, workers, wall, code = out[-4:]
    print(f"compare --jobs {jobs}: main process CPU {main} s, workers CPU {workers} s, "
          f"wall {wall} s (noisy), exit {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?",
                        help="scenarios to compare (default: 1,000 generated ones)")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-tasks", action="store_true", help="the command's figures only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or generate(Path(tmp) / "project", n_factors=2000,
                                         n_scenarios=1000) / "scenarios"
        if not args.skip_tasks:
            shipped(folder, args.n, args.repeat)
        command(folder, args.n, args.jobs)


if __name__ == "__main__":
    main()
