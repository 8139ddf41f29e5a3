"""What shipping a whole run to a worker costs: ``compare``'s run tasks, pickled and unpickled.

``riskengine compare`` of many partnerships sends each partnership's run to a worker process
(:func:`riskengine.simulation.run_task`). This measures, in CPU seconds of this process
(``time.process_time``, so a busy machine does not inflate it), each task's pickle size and
the time to pickle and unpickle it, over the tasks a comparison of ``DIR`` submits; then the
CPU of the whole command in the main process and in its workers (``--jobs``), and its wall
time (noisy on a shared machine).

    .venv/bin/python benchmarks/bench_ship.py DIR [--n 20000] [--jobs 2] [--repeat 5]

(Subprocesses run in a temporary folder, so ``PYTHONPATH=OTHER/checkout`` measures another
revision's code with the same script.)
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


class Recorder(Executor):
    """Runs every task here and keeps what was submitted (the pickled arguments' costs)."""

    def __init__(self, repeat: int) -> None:
        self.repeat, self.rows, self.blobs = repeat, [], []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        payload = (fn, args, kwargs)
        dumps, loads = [], []
        for _ in range(self.repeat):
            t0 = time.process_time()
            blob = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
            t1 = time.process_time()
            pickle.loads(blob)
            t2 = time.process_time()
            dumps.append(t1 - t0)
            loads.append(t2 - t1)
        self.rows.append((fn.__name__, len(blob), statistics.median(dumps),
                          statistics.median(loads)))
        if fn.__name__ == "run_task":
            self.blobs.append(blob)
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def shipped(folder: Path, n: int, repeat: int) -> None:
    from riskengine.compare import compare
    from riskengine.loading import load_scenarios

    scenarios = load_scenarios(folder)
    recorder = Recorder(repeat)
    compare(scenarios, n=n, seed=0, method="mc", executor=recorder)
    runs = [r for r in recorder.rows if r[0] == "run_task"]
    print(f"{len(runs)} run tasks of {len(scenarios)} scenarios")
    for name, pick in (("pickle size (bytes)", 1), ("pickle CPU (ms)", 2),
                       ("unpickle CPU (ms)", 3)):
        values = [r[pick] * (1 if pick == 1 else 1e3) for r in runs]
        print(f"  {name:22s} median {statistics.median(values):10.2f}  "
              f"total {sum(values):12.1f}")
    # each task unpickled once in a fresh process, as a worker receives it
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "blobs.pickle")
        with open(path, "wb") as out:
            pickle.dump(recorder.blobs, out)
        cold = [float(t) * 1e3 for t in subprocess.run(
            [sys.executable, "-c", COLD, path], check=True, capture_output=True, text=True,
            cwd=tmp).stdout.split()]
    print(f"  {'unpickle CPU, fresh (ms)':22s} median {statistics.median(cold):10.2f}  "
          f"total {sum(cold):12.1f}")


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-tasks", action="store_true")
    args = parser.parse_args()
    if not args.skip_tasks:
        shipped(args.folder, args.n, args.repeat)
    command(args.folder, args.n, args.jobs)


if __name__ == "__main__":
    main()
