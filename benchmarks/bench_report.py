"""Benchmark of the HTML report build, against the old path run in the same process.

Two cases, each with the report's default options (20,000 draws per scenario, Sobol base
sample 2,048), built in process through the CLI (``riskengine report ... -o FILE``, loading
included, imports warmed up first):

1. the shipped case: ``scenarios/`` (3 partnerships, 11 scenarios with correlations, so Monte
   Carlo throughout). Target: <= 1.5 s.
2. a generated project of 30 partnerships x 5 scenarios x 20 factors (``generate.py``: no
   correlations, so exact laws). Target: <= 8 s.

The baseline is the report as it was built before: every partnership's outlook simulated again
after compare (``outlook()`` without the simulations), and, when matplotlib is installed and
this is a git checkout, the charts drawn by the old matplotlib module, read from git at
``OLD_CHARTS`` (nothing of it is kept in the package). Without matplotlib the baseline is the
reuse switched off alone, and says so. The 30-partnership case draws about 180 charts: with
matplotlib that baseline takes minutes, so it runs only with ``--old-charts-30``; by default
its baseline is the reuse switched off alone.

Run:  .venv/bin/python benchmarks/bench_report.py [--repeat 3] [--baseline-repeat 1]
      [--case shipped|30|both] [--no-baseline] [--old-charts-30]
The machine may be loaded: each figure is the min and the median of ``--repeat`` runs.

3. the shipped case as a whole command (``python -m riskengine.cli report scenarios -q -o F``,
   a new process each run, imports included), against the same command with every Sobol
   index estimated (``sobol_method="estimate"``, patched in the child process): the indices of
   the shipped scenarios' linear trees are exact now, and the estimator's import of
   ``scipy.stats`` was half the command. Target: <= 1.5 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from generate import generate

import riskengine.report as report_module
from riskengine.cli import main

ROOT = Path(__file__).resolve().parent.parent
OLD_CHARTS = "b69cf62:riskengine/charts.py"  # the matplotlib charts, last on main there
TARGETS = {"shipped": 1.5, "30 partnerships": 8.0}


def old_charts() -> types.ModuleType | None:
    """The matplotlib chart module as it was, or None (no matplotlib, or no git history)."""
    if importlib.util.find_spec("matplotlib") is None:
        return None
    try:
        source = subprocess.run(["git", "show", OLD_CHARTS], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("riskengine_old_charts")
    exec(compile(source, OLD_CHARTS, "exec"), module.__dict__)  # our own file, from git
    for name, value in list(vars(module).items()):
        if inspect.isfunction(value) and value.__module__ == module.__name__:
            setattr(module, name, _ignoring_new_keywords(value))
    return module


def _ignoring_new_keywords(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` of the old module, called by today's report: the keywords the report has
    passed since (``sobol_bars(..., exact=)``) are left out, as the old charts had no such
    choice to make."""
    known = inspect.signature(function).parameters

    def call(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **{k: v for k, v in kwargs.items() if k in known})
    return call


@contextmanager
def old_path(charts: types.ModuleType | None) -> Iterator[None]:
    """The report built as before: outlooks simulated again, old charts if given."""
    real_outlook, real_charts = report_module.outlook, report_module.charts

    def fresh_outlook(scenarios: Sequence[Any], *args: Any, simulations: Any = None,
                      results: Any = None, **kwargs: Any) -> Any:
        return real_outlook(scenarios, *args, **kwargs)

    report_module.outlook = fresh_outlook  # type: ignore[assignment]
    if charts is not None:
        report_module.charts = charts  # type: ignore[assignment]
    try:
        yield
    finally:
        report_module.outlook = real_outlook  # type: ignore[assignment]
        report_module.charts = real_charts


def timed(run: Callable[[], None], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


@contextmanager
def compare_clock(spent: list[float]) -> Iterator[None]:
    """Adds the seconds each report spends in ``compare()`` (the simulations) to ``spent``."""
    real = report_module.compare

    def clocked(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    report_module.compare = clocked
    try:
        yield
    finally:
        report_module.compare = real


def report_run(paths: Sequence[str], out: Path) -> Callable[[], None]:
    def run() -> None:
        code = main(["report", *paths, "-o", str(out), "-q"])
        if code != 0:
            raise SystemExit(f"report failed with exit code {code}")
    return run


ESTIMATED = ("import functools, sys, riskengine.report as r; "
             "r.sensitivity = functools.partial(r.sensitivity, sobol_method='estimate'); "
             "from riskengine.cli import main; sys.exit(main(sys.argv[1:]))")


def command_times(estimated: bool, out: Path, repeat: int) -> list[float]:
    """Wall times of the whole ``report`` command of the shipped case, a process each."""
    code = ESTIMATED if estimated else "import sys; from riskengine.cli import main; " \
        "sys.exit(main(sys.argv[1:]))"
    args = [sys.executable, "-c", code, "report", "scenarios", "-q", "-o", str(out)]

    def run() -> None:
        subprocess.run(args, cwd=ROOT, check=True)
    return timed(run, repeat)


def figures(times: list[float]) -> str:
    return f"min {min(times):6.2f} s  median {statistics.median(times):6.2f} s"


def main_bench(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-repeat", type=int, default=1)
    parser.add_argument("--case", choices=("shipped", "30", "both"), default="both")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--old-charts-30", action="store_true",
                        help="draw the 30-partnership baseline's charts with matplotlib too")
    args = parser.parse_args(argv)
    charts = None if args.no_baseline else old_charts()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        cases: list[tuple[str, list[str]]] = []
        if args.case in ("shipped", "both"):
            cases.append(("shipped", [str(ROOT / "scenarios")]))
        if args.case in ("30", "both"):
            project = generate(Path(tmp) / "project", n_factors=600, n_scenarios=150,
                               per_folder=5, per_scenario=20)
            cases.append(("30 partnerships", [str(project / "scenarios")]))
        # warm up: imports (scipy, numpy's first calls) are not the report's cost
        report_run([str(ROOT / "scenarios/japan-uk")], out)()
        for name, paths in cases:
            run = report_run(paths, out)
            spent: list[float] = []
            with compare_clock(spent):
                new = timed(run, args.repeat)
            size = out.stat().st_size
            line = (f"report {name:16s} {figures(new)}  ({size:,} bytes; target "
                    f"<= {TARGETS[name]:g} s: {'met' if min(new) <= TARGETS[name] else 'MISSED'}"
                    " on the min)")
            print(line, flush=True)
            print(f"  of which compare() (every simulation, exact law and pair): {figures(spent)}"
                  "; the rest (loading, sensitivities not overlapped, sections, charts): "
                  f"{figures([t - c for t, c in zip(new, spent, strict=True)])}", flush=True)
            if not args.no_baseline and args.baseline_repeat > 0:
                drawn = charts if name == "shipped" or args.old_charts_30 else None
                with old_path(drawn):
                    old = timed(run, args.baseline_repeat)
                how = ("outlooks simulated again + matplotlib charts" if drawn is not None
                       else "outlooks simulated again, new charts" + (
                           "" if charts is not None else " (no matplotlib)"))
                print(f"  baseline ({how}): {figures(old)}; old/new "
                      f"{min(old) / min(new):.1f}x on the min, "
                      f"{statistics.median(old) / statistics.median(new):.1f}x on the median",
                      flush=True)
        if args.case in ("shipped", "both"):
            whole = command_times(False, out, args.repeat)
            print(f"command report scenarios {figures(whole)}  (a process each, imports "
                  f"included; target <= {TARGETS['shipped']:g} s: "
                  f"{'met' if min(whole) <= TARGETS['shipped'] else 'MISSED'} on the min)",
                  flush=True)
            if not args.no_baseline and args.baseline_repeat > 0:
                old = command_times(True, out, max(args.baseline_repeat, args.repeat))
                print(f"  baseline (every Sobol index estimated, scipy.stats imported): "
                      f"{figures(old)}; old/new {min(old) / min(whole):.1f}x on the min",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
